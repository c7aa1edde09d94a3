import { afterEach, describe, expect, it } from 'vitest';
import { spawnBackout, type BotProcess } from '../kit/process.js';
import { findButton } from '../kit/slack-signing.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

function patchesOf(world: World) {
  return world.prod.requests.filter(
    (r) => r.method === 'PATCH' && r.path.endsWith('/deployments/checkout-api'),
  );
}

const cardText = (world: World, ts: string) => {
  const m = world.slack.message(PEOPLE.checkout, ts);
  return m ? `${m.text}\n${JSON.stringify(m.blocks)}` : '';
};

/** Files and approves a rollback through the running process; returns the card's ts. */
async function startRollback(world: World, bot: BotProcess): Promise<string> {
  await bot.client.command({
    command: '/rollback',
    text: 'checkout-api --reason crash-test',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
  });
  const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
    what: 'plan card',
    timeoutMs: 20_000,
  });
  const b = findButton(card.blocks, 'backout_approve');
  await bot.client.blockAction({
    user: PEOPLE.sre1,
    channel: PEOPLE.checkout,
    messageTs: card.ts,
    actionId: b.actionId,
    value: b.value,
    responseUrl: world.slack.newResponseUrl(),
  });
  return card.ts;
}

function stepStarted(world: World, ts: string, n: number): boolean {
  return world.slack.thread(PEOPLE.checkout, ts).some((m) => m.text.includes(`Step ${n}/6`));
}

async function finishAfterRestart(world: World, ts: string): Promise<void> {
  const again = await spawnBackout(world);
  try {
    // A crashed job is picked up again once its lock lapses (10 s) and the stalled check runs (every 5 s).
    await waitFor(() => /Done — healthy/.test(cardText(world, ts)), {
      what: 'rollback to finish after the restart',
      timeoutMs: 45_000,
      intervalMs: 200,
    });
    await waitFor(
      () => world.slack.thread(PEOPLE.checkout, ts).some((m) => /back on revision 2/.test(m.text)),
      { what: 'outcome note', timeoutMs: 15_000 },
    );
  } finally {
    await again.terminate();
  }
  expect(patchesOf(world)).toHaveLength(1);
  expect(
    world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
  ).toBe('shop/checkout:1.4.1');
  const replies = world.slack.thread(PEOPLE.checkout, ts).slice(1);
  const texts = replies.map((m) => m.text);
  expect(new Set(texts).size).toBe(texts.length);
  const steps = replies
    .filter((m) => /Step \d\/6/.test(m.text))
    .map((m) => Number(/Step (\d)\/6/.exec(m.text)?.[1]));
  expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
  const audit = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  const types = audit.map(([, f]) => (JSON.parse(f[1]!) as { type: string }).type);
  expect(types.filter((t) => t === 'job.succeeded')).toHaveLength(1);
}

describe('a worker killed with SIGKILL during a rollback step, then restarted, finishes the work exactly once', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('killed during apply (right after the patch reached the API server)', async () => {
    world = await createWorld();
    const bot = await spawnBackout(world);
    const ts = await startRollback(world, bot);
    await waitFor(() => patchesOf(world).length > 0, { what: 'the patch', timeoutMs: 20_000, intervalMs: 2 });
    await bot.crash();
    await finishAfterRestart(world, ts);
  });

  it('killed while waiting for the rollout', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 1_500 });
    const bot = await spawnBackout(world);
    const ts = await startRollback(world, bot);
    await waitFor(() => stepStarted(world, ts, 4), { what: 'the wait step', timeoutMs: 20_000 });
    await bot.crash();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 50 });
    await finishAfterRestart(world, ts);
  });

  it('killed while verifying health', async () => {
    world = await createWorld({
      config: (urls) => defaultConfigYaml(urls).replace('stabilityWindow: 300ms', 'stabilityWindow: 4s'),
    });
    const bot = await spawnBackout(world);
    const ts = await startRollback(world, bot);
    await waitFor(() => stepStarted(world, ts, 5), { what: 'the verify step', timeoutMs: 30_000 });
    await bot.crash();
    await finishAfterRestart(world, ts);
  });
});
