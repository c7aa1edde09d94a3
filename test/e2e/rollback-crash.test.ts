import { afterEach, describe, expect, it } from 'vitest';
import {
  auditTypes,
  cardIn,
  click,
  deploymentPatches,
  noDuplicateReplies,
  run,
  stepNumbers,
  waitCard,
} from '../kit/flows.js';
import type { SlackMessage } from '../doubles/slack.js';
import { FAST_RECOVERY, spawnBackout, type BotProcess } from '../kit/process.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

async function approvedRollback(world: World, bot: BotProcess): Promise<SlackMessage> {
  await run(world, bot, '/rollback', 'checkout-api --reason crash-test');
  const card = await cardIn(world);
  await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
  return card;
}

const stepStarted = (world: World, card: SlackMessage, n: number) =>
  world.slack.thread(card.channel, card.ts).some((m) => m.text.includes(`Step ${n}/7`));

async function finishAfterRestart(world: World, card: SlackMessage): Promise<void> {
  const again = await spawnBackout(world, FAST_RECOVERY);
  try {
    // A crashed job is picked up again once its lock lapses (5 s, FAST_RECOVERY) and the stalled check runs (every 2.5 s).
    await waitCard(world, card, /Done — healthy/, 45_000);
    await waitFor(
      () => world.slack.thread(card.channel, card.ts).some((m) => /back on revision 2/.test(m.text)),
      { what: 'outcome note', timeoutMs: 15_000 },
    );
  } finally {
    await again.terminate();
  }
  expect(deploymentPatches(world.prod)).toHaveLength(1);
  expect(
    world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
  ).toBe('shop/checkout:1.4.1');
  expect(stepNumbers(world, card)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  expect(noDuplicateReplies(world, card)).toBe(true);
  expect((await auditTypes(world)).filter((t) => t === 'job.succeeded')).toHaveLength(1);
}

describe('a worker killed with SIGKILL during a rollback step, then restarted, finishes the work exactly once', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('killed during apply (right after the patch reached the API server)', async () => {
    world = await createWorld();
    const bot = await spawnBackout(world, FAST_RECOVERY);
    const card = await approvedRollback(world, bot);
    await waitFor(() => deploymentPatches(world.prod).length > 0, {
      what: 'the patch',
      timeoutMs: 20_000,
      intervalMs: 2,
    });
    await bot.crash();
    await finishAfterRestart(world, card);
  });

  it('killed while waiting for the rollout', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 1_500 });
    const bot = await spawnBackout(world, FAST_RECOVERY);
    const card = await approvedRollback(world, bot);
    await waitFor(() => stepStarted(world, card, 5), { what: 'the wait step', timeoutMs: 20_000 });
    await bot.crash();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 50 });
    await finishAfterRestart(world, card);
  });

  it('killed while verifying health', async () => {
    world = await createWorld({
      config: (urls) => defaultConfigYaml(urls).replace('stabilityWindow: 300ms', 'stabilityWindow: 4s'),
    });
    const bot = await spawnBackout(world, FAST_RECOVERY);
    const card = await approvedRollback(world, bot);
    await waitFor(() => stepStarted(world, card, 6), { what: 'the verify step', timeoutMs: 30_000 });
    await bot.crash();
    await finishAfterRestart(world, card);
  });
});
