import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import type { SocketModeDouble } from '../doubles/slack-socket-mode.js';

/** What GET /healthz/ready says about Slack. */
async function readySlack(bot: RunningApp): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${bot.app.port}/healthz/ready`);
  return ((await res.json()) as { checks: { slack?: unknown } }).checks.slack;
}

describe('Socket Mode through reconnects', () => {
  let world: World;
  let bot: RunningApp;
  let socket: SocketModeDouble;
  beforeAll(async () => {
    world = await createWorld({ transport: 'socket' });
    socket = world.socket!;
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('a refresh_requested in the middle of an approval loses nothing and doubles nothing', async () => {
    await run(world, bot, '/rollback', 'checkout-api --reason "refresh mid-approval"');
    const card = await cardIn(world);
    const [old] = socket.live();
    const sent = socket.deliveries.length;
    // The Approve click reaches the old connection, whose ack is lost as Slack rotates it.
    socket.loseNextAcks(1);
    const clicked = click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitFor(() => socket.deliveries.length > sent, { what: 'the click to be delivered' });
    socket.disconnect(old!.id, 'refresh_requested');
    const url = await clicked;

    await waitCard(world, card, /Done — healthy/);
    const click1 = socket.deliveries.slice(sent);
    // Delivered again (as a retry, on the new connection) until an ack got through; handled once.
    // A redelivery that arrives while the first is still in hand gets no ack, so Slack asks once more.
    expect(click1.length).toBeGreaterThanOrEqual(2);
    expect(click1.map((d) => d.retryAttempt)).toEqual(click1.map((_, i) => i));
    expect(click1.slice(1).every((d) => d.connection !== old!.id)).toBe(true);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'request.approved')).toHaveLength(1);
    expect(types.filter((t) => t === 'job.started')).toHaveLength(1);
    await waitFor(() => world.slack.responses(url)[0], { what: 'the answer to the click' });
    expect(world.slack.responses(url)).toHaveLength(1);
    expect(socket.connections().find((c) => c.id === old!.id)?.open).toBe(false);
    expect(await readySlack(bot)).toBe(true);
  });

  it('a redelivered envelope is answered as before and handled once, under its id or under a new one', async () => {
    const filed = await run(world, bot, '/rollback', 'checkout-api --env staging --reason "again"', {
      channel: PEOPLE.incident,
    });
    expect(await filed.answer()).toMatch(/Started `rb-/);
    const [first] = socket.acks.slice(-1);
    const envelopeId = first!.envelopeId;
    const again = await socket.redeliver(envelopeId);
    expect(again.payload).toEqual(first!.payload);
    const payload = socket.deliveries.length;
    // Slack sending the same payload under a new envelope id (same trigger_id) is recognised too.
    const sameCommand = socket.sentPayload(envelopeId);
    await socket.send('slash_commands', sameCommand);
    expect(socket.deliveries.length).toBe(payload + 1);
    const card = await cardIn(world, PEOPLE.incident);
    await waitCard(world, card, /Done/);
    expect(world.slack.messages(PEOPLE.incident).filter((m) => !m.thread_ts)).toHaveLength(1);
    expect((await auditTypes(world)).filter((t) => t === 'request.created')).toHaveLength(2);
  });

  it('on a warning backout opens the new connection before it lets the old one go', async () => {
    const [old] = socket.live();
    socket.disconnect(old!.id, 'warning');
    // The double never closes a warned connection itself: backout does, once the new one said hello.
    await waitFor(() => socket.connections().find((c) => c.id === old!.id)?.open === false, {
      what: 'backout to close the warned connection',
    });
    const [fresh] = socket.live();
    expect(fresh!.openedAt).toBeLessThanOrEqual(
      socket.connections().find((c) => c.id === old!.id)!.closedAt!,
    );
    expect(await readySlack(bot)).toBe(true);
    const help = await run(world, bot, '/rollback', 'help', { channel: PEOPLE.random });
    expect(help.ackText).toContain('/rollback');
  });

  it('a dropped socket is reopened with backoff while Slack refuses, and readiness says why', async () => {
    world.slack.platformError('apps.connections.open', 'internal_error', 2);
    const [live] = socket.live();
    socket.drop(live!.id);
    await waitFor(async () => /reconnecting: .*internal_error/.test(String(await readySlack(bot))), {
      what: 'readiness to report the failed reconnect',
    });
    await waitFor(async () => (await readySlack(bot)) === true, { what: 'the socket to come back' });
    const help = await run(world, bot, '/rollback', 'help', { channel: PEOPLE.random });
    expect(help.ackText).toContain('/rollback');
  });

  it('link_disabled is reported, and the link comes back when Slack lets it', async () => {
    world.slack.platformError('apps.connections.open', 'internal_error', 3);
    const [live] = socket.live();
    socket.disconnect(live!.id, 'link_disabled');
    await waitFor(async () => /link_disabled|internal_error/.test(String(await readySlack(bot))), {
      what: 'readiness to report the disabled link',
    });
    await waitFor(async () => (await readySlack(bot)) === true, { what: 'the socket to come back' });
    expect(socket.live()).toHaveLength(1);
  });
});
