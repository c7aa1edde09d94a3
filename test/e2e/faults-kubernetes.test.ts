import { afterEach, describe, expect, it } from 'vitest';
import { cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import type { SlackMessage } from '../doubles/slack.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

async function filed(world: World): Promise<{ bot: RunningApp; card: SlackMessage }> {
  const bot = await world.start();
  await run(world, bot, '/rollback', 'checkout-api');
  return { bot, card: await cardIn(world) };
}

describe('Kubernetes faults during a rollback', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it.each([
    [500, 'an Internal Server Error'],
    [409, 'a Conflict'],
  ])(
    'the API server answers the patch with %i (%s) twice: the job says it retries, re-reads, and patches exactly once',
    async (status) => {
      world = await createWorld();
      world.prod.failNext({ method: 'PATCH', pathIncludes: '/deployments/checkout-api', status, count: 2 });
      const { bot, card } = await filed(world);
      await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
      await waitCard(world, card, /Done — healthy/, 45_000);
      const patches = deploymentPatches(world.prod);
      expect(patches.filter((r) => r.status < 300)).toHaveLength(1);
      expect(patches.filter((r) => r.status === status)).toHaveLength(2);
      const apply = world.slack.thread(card.channel, card.ts).find((m) => m.text.includes('Step 4/7'))!;
      // A 5xx is retried by the queue; a conflict is re-read and retried within the step.
      if (status === 409) expect(apply.text).toContain('2 write conflicts first, 409: read again each time');
      else expect(apply.history.some((v) => /Retrying automatically/.test(v.text))).toBe(true);
    },
  );

  it('reads failing with 503 while the rollout is watched: the wait goes on until the API answers again', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 400 });
    const { bot, card } = await filed(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitFor(() => world.slack.thread(card.channel, card.ts).some((m) => m.text.includes('Step 5/7')), {
      what: 'wait step',
    });
    world.prod.failNext({ method: 'GET', pathIncludes: '/deployments/checkout-api', status: 503, count: 3 });
    await waitCard(world, card, /Done — healthy/, 45_000);
    expect(deploymentPatches(world.prod).filter((r) => r.status < 300)).toHaveLength(1);
  });

  it('Prometheus answering errors makes the outcome degraded with the error, not healthy', async () => {
    world = await createWorld();
    world.prometheus.setError('*', {
      status: 503,
      errorType: 'unavailable',
      error: 'query engine overloaded',
    });
    const { bot, card } = await filed(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — degraded/);
    expect(world.slack.transcript(card.channel, card.ts)).toMatch(
      /Prometheus query failed: query engine overloaded/,
    );
  });
});
