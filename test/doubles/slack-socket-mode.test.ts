import { SocketModeClient } from '@slack/socket-mode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SlackDouble } from './slack.js';
import { SocketModeDouble } from './slack-socket-mode.js';
import { waitFor } from '../kit/wait.js';

async function open(slack: SlackDouble, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${slack.apiUrl}apps.connections.open`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return (await res.json()) as Record<string, unknown>;
}

/** A raw client: every frame it got, and a way to answer. */
async function connect(url: string): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await waitFor(() => frames.some((f) => f.type === 'hello'), { what: 'hello' });
  return { ws, frames };
}

describe('the Socket Mode double', () => {
  let slack: SlackDouble;
  let socket: SocketModeDouble;
  beforeAll(async () => {
    slack = await SlackDouble.start();
    socket = await SocketModeDouble.start(slack, { ackTimeoutMs: 300, maxRetries: 2 });
  });
  afterAll(async () => {
    await socket.stop();
    await slack.stop();
  });

  it('opens a connection only with the app token and connections:write, each URL once', async () => {
    expect(await open(slack, 'xapp-1-wrong')).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await open(slack, 'xoxb-bot')).toEqual({ ok: false, error: 'not_allowed_token_type' });
    socket.setScopes(['authorizations:read']);
    expect(await open(slack, socket.appToken)).toMatchObject({ ok: false, error: 'missing_scope' });
    socket.setScopes(['connections:write']);
    const answer = await open(slack, socket.appToken);
    expect(answer.ok).toBe(true);
    expect(String(answer.url)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=/);
    const { ws, frames } = await connect(String(answer.url));
    expect(frames[0]).toMatchObject({
      type: 'hello',
      num_connections: 1,
      connection_info: { app_id: slack.appId },
      debug_info: { host: expect.any(String) as unknown },
    });
    await expect(connect(String(answer.url))).rejects.toThrow(/401/);
    ws.close();
    await waitFor(() => socket.live().length === 0, { what: 'the close' });
  });

  it('gives each envelope to one connection, redelivers it unacked with retry_attempt, and resolves on the ack', async () => {
    const [a, b] = [
      await connect(String((await open(slack, socket.appToken)).url)),
      await connect(String((await open(slack, socket.appToken)).url)),
    ];
    const acks = Promise.all([1, 2, 3, 4].map((n) => socket.send('slash_commands', { text: `n${n}` })));
    const ids = (frames: Record<string, unknown>[]) =>
      frames.filter((f) => f.envelope_id).map((f) => String(f.envelope_id));
    await waitFor(() => ids(a.frames).length + ids(b.frames).length >= 4, { what: 'four envelopes' });
    expect(ids(a.frames).length).toBeGreaterThan(0);
    expect(ids(b.frames).length).toBeGreaterThan(0);
    expect(new Set([...ids(a.frames), ...ids(b.frames)]).size).toBe(4);
    // a answers everything from now on; b goes away without a word, so its envelopes come to a as retries.
    const answer = (f: Record<string, unknown>) =>
      a.ws.send(JSON.stringify({ envelope_id: f.envelope_id, payload: { text: 'ok' } }));
    a.ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.envelope_id) answer(f);
    });
    a.frames.filter((f) => f.envelope_id).forEach(answer);
    const fromB = ids(b.frames);
    b.ws.terminate();
    const settled = await acks;
    expect(settled.map((s) => s.payload)).toEqual([1, 2, 3, 4].map(() => ({ text: 'ok' })));
    const retried = a.frames.filter((f) => f.retry_attempt === 1);
    expect(retried.map((f) => f.envelope_id).sort()).toEqual([...fromB].sort());
    expect(retried.every((f) => f.retry_reason === 'timeout' && f.accepts_response_payload === true)).toBe(
      true,
    );
    a.ws.close();
    await waitFor(() => socket.live().length === 0, { what: 'the close' });
  });

  it('delivers an envelope not acknowledged in time again, on the same connection if it is the only one', async () => {
    const { ws, frames } = await connect(String((await open(slack, socket.appToken)).url));
    ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      // The first delivery goes unanswered (past the ack deadline); the retry is acknowledged.
      if (f.retry_attempt === 1) ws.send(JSON.stringify({ envelope_id: f.envelope_id }));
    });
    const ack = await socket.send('interactive', { type: 'block_actions' });
    expect(ack.deliveries).toBe(2);
    expect(ack.payload).toBeUndefined();
    expect(frames.filter((f) => f.envelope_id).map((f) => f.retry_attempt ?? 0)).toEqual([0, 1]);
    ws.close();
    await waitFor(() => socket.live().length === 0, { what: 'the close' });
  });

  it('is what @slack/socket-mode expects: hello, envelopes with ack, and a reconnect on refresh_requested', async () => {
    const client = new SocketModeClient({
      appToken: socket.appToken,
      clientOptions: { slackApiUrl: slack.apiUrl },
      logLevel: undefined,
      clientPingTimeout: 200,
    });
    client.on(
      'slash_commands',
      ({ ack, body }: { ack: (r: unknown) => Promise<void>; body: { text: string } }) => {
        void ack({ text: `got ${body.text}` });
      },
    );
    await client.start();
    try {
      expect((await socket.send('slash_commands', { text: 'one' })).payload).toEqual({ text: 'got one' });
      const [first] = socket.live();
      socket.disconnect(first!.id, 'refresh_requested');
      await waitFor(() => socket.live().some((c) => c.id !== first!.id), { what: 'the client to reconnect' });
      expect((await socket.send('slash_commands', { text: 'two' })).payload).toEqual({ text: 'got two' });
    } finally {
      await client.disconnect();
    }
  });
});
