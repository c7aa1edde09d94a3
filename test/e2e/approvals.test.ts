import { afterEach, describe, expect, it } from 'vitest';
import { findButton } from '../kit/slack-signing.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

async function fileRollback(world: World, bot: { client: import('../kit/slack-signing.js').SlackClient }) {
  await bot.client.command({
    command: '/rollback',
    text: 'checkout-api --reason "bad deploy"',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
  });
  const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
    what: 'plan card',
  });
  return { card, approve: findButton(card.blocks, 'backout_approve') };
}

function patchesOf(world: World) {
  return world.prod.requests.filter(
    (r) => r.method === 'PATCH' && r.path.endsWith('/deployments/checkout-api'),
  );
}

describe('approvals', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('two app instances sharing one Redis, each receiving Approve clicks at once, start exactly one job', async () => {
    world = await createWorld();
    const [a, b] = [await world.start(), await world.start()];
    const { card, approve } = await fileRollback(world, a);
    const click = (bot: typeof a, user: string) =>
      bot.client.blockAction({
        user,
        channel: PEOPLE.checkout,
        messageTs: card.ts,
        actionId: approve.actionId,
        value: approve.value,
        responseUrl: world.slack.newResponseUrl(),
      });
    const results = await Promise.all([
      click(a, PEOPLE.sre1),
      click(b, PEOPLE.sre1),
      click(a, PEOPLE.sre2),
      click(b, PEOPLE.sre2),
      click(a, PEOPLE.sre1),
    ]);
    expect(results.every((r) => r.status === 200)).toBe(true);
    await waitFor(() => /healthy/.test(world.slack.message(PEOPLE.checkout, card.ts)?.text ?? ''), {
      what: 'job done',
      timeoutMs: 30_000,
    });
    expect(patchesOf(world)).toHaveLength(1);
    const audit = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    const types = audit.map(([, f]) => (JSON.parse(f[1]!) as { type: string }).type);
    expect(types.filter((t) => t === 'request.approved')).toHaveLength(1);
    expect(types.filter((t) => t === 'job.started')).toHaveLength(1);
    // Everyone who clicked got an answer: one "Approved", the others "already approved".
    const answers = world.slack.responses().map((r) => JSON.stringify(r.body));
    expect(answers.filter((t) => t.includes('Approved.'))).toHaveLength(1);
    expect(answers.filter((t) => t.includes('already approved'))).toHaveLength(4);
  });

  it('an expired request cannot be approved, its card says it expired, and the target is free again', async () => {
    world = await createWorld({
      config: (urls) => defaultConfigYaml(urls).replace('approvalTtl: 15m', 'approvalTtl: 1s'),
    });
    const bot = await world.start();
    const { card, approve } = await fileRollback(world, bot);
    await waitFor(
      () => /Expired/.test(JSON.stringify(world.slack.message(PEOPLE.checkout, card.ts)?.blocks)),
      {
        what: 'card to say expired',
        timeoutMs: 15_000,
      },
    );
    const answer = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: answer,
    });
    const reply = await waitFor(() => world.slack.responses(answer)[0], { what: 'answer to late click' });
    expect(JSON.stringify(reply.body)).toMatch(/expired .* can no longer be approved\. Nothing was changed/);
    expect(patchesOf(world)).toHaveLength(0);
    const final = world.slack.message(PEOPLE.checkout, card.ts)!;
    expect(findButtonOrNull(final.blocks, 'backout_approve')).toBe(false);
    // The lock was released: a new request for the same target is accepted.
    const again = world.slack.newResponseUrl();
    await bot.client.command({
      command: '/rollback',
      text: 'checkout-api',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
      response_url: again,
    });
    const filed = await waitFor(() => world.slack.responses(again)[0], { what: 'second request answer' });
    expect(JSON.stringify(filed.body)).toMatch(/Filed `rb-/);
  });

  it('Reject by an approver ends the request without touching the Deployment; the requester can withdraw their own', async () => {
    world = await createWorld();
    const bot = await world.start();
    const { card } = await fileRollback(world, bot);
    const reject = findButton(card.blocks, 'backout_reject');
    const url = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.oncall,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: reject.actionId,
      value: reject.value,
      responseUrl: url,
    });
    await waitFor(
      () => /Rejected/.test(JSON.stringify(world.slack.message(PEOPLE.checkout, card.ts)?.blocks)),
      { what: 'rejected card' },
    );
    expect(JSON.stringify(world.slack.responses(url)[0]?.body)).toContain('Rejected. Nothing was changed.');
    expect(patchesOf(world)).toHaveLength(0);
  });

  it('without approval required (staging), the job starts at once and the card says no approval was needed', async () => {
    world = await createWorld();
    const bot = await world.start();
    const url = world.slack.newResponseUrl();
    await bot.client.command({
      command: '/rollback',
      text: 'checkout-api --env staging',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.incident,
      response_url: url,
    });
    const card = await waitFor(
      () => world.slack.messages(PEOPLE.incident).find((m) => !m.thread_ts && /— done/.test(m.text)),
      {
        what: 'staging rollback done',
        timeoutMs: 30_000,
      },
    );
    expect(JSON.stringify(card.blocks)).toContain('no approval needed');
    expect(JSON.stringify(world.slack.responses(url).map((r) => r.body))).toMatch(/Started `rb-/);
  });
});

function findButtonOrNull(blocks: unknown[] | undefined, actionId: string): boolean {
  try {
    findButton(blocks, actionId);
    return true;
  } catch {
    return false;
  }
}
