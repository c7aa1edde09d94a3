import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnBackout, type BotProcess } from '../kit/process.js';
import {
  auditTypes,
  click,
  deploymentPatches,
  noDuplicateReplies,
  run,
  stepNumbers,
  waitCard,
} from '../kit/flows.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

/** The two-replica scenario of replicas.test.ts, with each process holding its own Socket Mode connection. */
describe('two backout processes, each with a Socket Mode connection, on one Redis', () => {
  let world: World;
  let bots: BotProcess[];

  beforeAll(async () => {
    world = await createWorld({ transport: 'socket' });
    world.prod.addDeployment({
      namespace: 'pay',
      name: 'payments',
      replicas: 2,
      containers: [
        [{ name: 'app', image: 'pay/payments:2.0.0' }],
        [{ name: 'app', image: 'pay/payments:2.1.0' }],
      ],
    });
    bots = await Promise.all([spawnBackout(world), spawnBackout(world)]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(bots.map((p) => p.terminate()));
    await world.close();
  });

  it('Slack gives each envelope to one connection; every approval yields one job, every job runs once', async () => {
    const socket = world.socket!;
    expect(socket.live()).toHaveLength(2);
    const [a] = bots as [BotProcess, BotProcess];
    const acks = await Promise.all(
      [
        ['checkout-api --reason one', PEOPLE.requester, PEOPLE.checkout],
        ['payments --reason two', PEOPLE.requester, PEOPLE.incident],
        ['checkout-api --env staging --reason three', PEOPLE.oncall, PEOPLE.incident],
        ['help', PEOPLE.stranger, PEOPLE.random],
      ].map(([text, user, channel]) =>
        a.client.command({ command: '/rollback', text: text!, user_id: user!, channel_id: channel! }),
      ),
    );
    for (const ack of acks) expect(ack.status).toBe(200);
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
    for (const card of cards.filter((c) => JSON.stringify(c.blocks).includes('backout_approve'))) {
      await Promise.all([
        click(world, a, card, 'backout_approve', PEOPLE.sre1),
        click(world, a, card, 'backout_approve', PEOPLE.sre2),
        click(world, a, card, 'backout_approve', PEOPLE.sre1),
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
    // Each envelope went to exactly one connection, and both connections took some. (An ack later
    // than Slack's 3 s on a loaded machine brings a redelivery, as Slack does; the jobs above show
    // it was handled once. Only first deliveries count here.)
    const byEnvelope = new Map<string, number[]>();
    for (const d of socket.deliveries.filter((x) => x.retryAttempt === 0))
      byEnvelope.set(d.envelopeId, [...(byEnvelope.get(d.envelopeId) ?? []), d.connection]);
    expect([...byEnvelope.values()].every((c) => c.length === 1)).toBe(true);
    expect(new Set(socket.deliveries.map((d) => d.connection)).size).toBe(2);
  });

  it('with one replica gone, its connection closes and the other takes every envelope', async () => {
    const socket = world.socket!;
    const [a, b] = bots as [BotProcess, BotProcess];
    await a.crash();
    await waitFor(() => socket.live().length === 1, { what: 'the crashed replica’s connection to close' });
    const help = await run(world, b, '/rollback', 'help', { channel: PEOPLE.random });
    expect(help.ackText).toContain('/rollback');
  });
});
