import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnBackout, type BotProcess } from '../kit/process.js';
import {
  auditTypes,
  click,
  deploymentPatches,
  noDuplicateReplies,
  stepNumbers,
  waitCard,
} from '../kit/flows.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('two web and two worker processes on one Redis', () => {
  let world: World;
  let web: BotProcess[];
  let workers: BotProcess[];

  beforeAll(async () => {
    world = await createWorld();
    world.prod.addDeployment({
      namespace: 'pay',
      name: 'payments',
      replicas: 2,
      containers: [
        [{ name: 'app', image: 'pay/payments:2.0.0' }],
        [{ name: 'app', image: 'pay/payments:2.1.0' }],
      ],
    });
    [web, workers] = await Promise.all([
      Promise.all([
        spawnBackout(world, { BACKOUT_ROLE: 'web' }),
        spawnBackout(world, { BACKOUT_ROLE: 'web' }),
      ]),
      Promise.all([
        spawnBackout(world, { BACKOUT_ROLE: 'worker' }),
        spawnBackout(world, { BACKOUT_ROLE: 'worker' }),
      ]),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([...web, ...workers].map((p) => p.terminate()));
    await world.close();
  });

  it('every command is acknowledged, every approval yields one job, every job runs once, threads stay in order', async () => {
    const [a, b] = web as [BotProcess, BotProcess];
    // Worker-only processes serve health but not Slack.
    const workerSlack = await fetch(workers[0]!.url, { method: 'POST', body: '' });
    expect(workerSlack.status).toBe(404);

    const acks = await Promise.all([
      a.client.command({
        command: '/rollback',
        text: 'checkout-api --reason one',
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.checkout,
      }),
      b.client.command({
        command: '/rollback',
        text: 'payments --reason two',
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.incident,
      }),
      a.client.command({
        command: '/rollback',
        text: 'checkout-api --env staging --reason three',
        user_id: PEOPLE.oncall,
        channel_id: PEOPLE.incident,
      }),
      b.client.command({
        command: '/rollback',
        text: 'help',
        user_id: PEOPLE.stranger,
        channel_id: PEOPLE.random,
      }),
    ]);
    for (const ack of acks) {
      expect(ack.status).toBe(200);
      expect(ack.elapsedMs).toBeLessThan(3000);
    }
    const cards = await waitFor(
      () => {
        const all = [
          ...world.slack.messages(PEOPLE.checkout),
          ...world.slack.messages(PEOPLE.incident),
        ].filter((m) => !m.thread_ts);
        return all.length >= 3 ? all : undefined;
      },
      { what: 'three cards', timeoutMs: 20_000 },
    );
    // Approve the two that need it, clicking both replicas at once for each.
    for (const card of cards.filter((c) => JSON.stringify(c.blocks).includes('backout_approve'))) {
      await Promise.all([
        click(world, a, card, 'backout_approve', PEOPLE.sre1),
        click(world, b, card, 'backout_approve', PEOPLE.sre2),
        click(world, b, card, 'backout_approve', PEOPLE.sre1),
      ]);
    }
    for (const card of cards) {
      await waitCard(world, card, /Done/, 45_000);
      expect(stepNumbers(world, card)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(noDuplicateReplies(world, card)).toBe(true);
    }
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    expect(deploymentPatches(world.prod, 'pay', 'payments')).toHaveLength(1);
    expect(deploymentPatches(world.staging)).toHaveLength(1);
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'job.started')).toHaveLength(3);
    expect(types.filter((t) => t === 'job.succeeded')).toHaveLength(3);
  });
});
