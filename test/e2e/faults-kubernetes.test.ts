import { afterEach, describe, expect, it } from 'vitest';
import { findButton } from '../kit/slack-signing.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

async function approvedRollback(world: World) {
  const bot = await world.start();
  await bot.client.command({
    command: '/rollback',
    text: 'checkout-api',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
  });
  const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
    what: 'plan card',
  });
  const approve = findButton(card.blocks, 'backout_approve');
  return {
    ts: card.ts,
    approve: () =>
      bot.client.blockAction({
        user: PEOPLE.sre1,
        channel: PEOPLE.checkout,
        messageTs: card.ts,
        actionId: approve.actionId,
        value: approve.value,
        responseUrl: world.slack.newResponseUrl(),
      }),
  };
}

const successfulPatches = (world: World) =>
  world.prod.requests.filter(
    (r) => r.method === 'PATCH' && r.path.endsWith('/deployments/checkout-api') && r.status < 300,
  );

describe('Kubernetes faults during a rollback', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it.each([
    [500, 'an Internal Server Error'],
    [409, 'a Conflict'],
  ])(
    'the API server answers the patch with %i (%s) twice: the job says it will retry, re-reads, and patches exactly once',
    async (status) => {
      world = await createWorld();
      world.prod.failNext({ method: 'PATCH', pathIncludes: '/deployments/checkout-api', status, count: 2 });
      const { ts, approve } = await approvedRollback(world);
      await approve();
      await waitFor(() => /healthy/.test(world.slack.message(PEOPLE.checkout, ts)?.text ?? ''), {
        what: 'rollback healthy',
        timeoutMs: 45_000,
      });
      expect(successfulPatches(world)).toHaveLength(1);
      const failed = world.prod.requests.filter((r) => r.method === 'PATCH' && r.status === status);
      expect(failed).toHaveLength(2);
      const apply = world.slack.thread(PEOPLE.checkout, ts).find((m) => m.text.includes('Step 3/6'))!;
      expect(apply.history.some((v) => /Retrying automatically/.test(v.text))).toBe(true);
    },
  );

  it('reads failing with 503 while the rollout is watched: the wait goes on until the API answers again', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 400 });
    const { ts, approve } = await approvedRollback(world);
    await approve();
    await waitFor(() => world.slack.thread(PEOPLE.checkout, ts).some((m) => m.text.includes('Step 4/6')), {
      what: 'wait step',
    });
    world.prod.failNext({ method: 'GET', pathIncludes: '/deployments/checkout-api', status: 503, count: 3 });
    await waitFor(() => /healthy/.test(world.slack.message(PEOPLE.checkout, ts)?.text ?? ''), {
      what: 'rollback healthy',
      timeoutMs: 45_000,
    });
    expect(successfulPatches(world)).toHaveLength(1);
  });

  it('Prometheus answering errors makes the outcome degraded with the error, not healthy', async () => {
    world = await createWorld();
    world.prometheus.setError('*', {
      status: 503,
      errorType: 'unavailable',
      error: 'query engine overloaded',
    });
    const { ts, approve } = await approvedRollback(world);
    await approve();
    await waitFor(() => /degraded/.test(world.slack.message(PEOPLE.checkout, ts)?.text ?? ''), {
      what: 'degraded',
      timeoutMs: 30_000,
    });
    expect(world.slack.transcript(PEOPLE.checkout, ts)).toMatch(
      /Prometheus query failed: query engine overloaded/,
    );
  });
});
