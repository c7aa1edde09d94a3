import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogLevel, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keptAliveFetch } from '../../src/slack/kept-alive-fetch.js';
import { createSlackCaller } from '../../src/slack/notify-slack.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { SlackDouble } from '../doubles/slack.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A plain HTTP server whose answer each test chooses; it records what it was sent. */
async function startServer(): Promise<{
  server: Server;
  url: string;
  answer: (h: Handler) => void;
  connections: () => number;
}> {
  let handler: Handler = (_req, _body, res) => res.end();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answer: (h) => {
      handler = h;
    },
    connections: () => connections,
  };
}

describe('the kept-alive fetch behind the Slack Web API clients', () => {
  const fetchFn = keptAliveFetch();
  let peer: Awaited<ReturnType<typeof startServer>>;
  let slack: SlackDouble;
  beforeAll(async () => {
    peer = await startServer();
    slack = await SlackDouble.start();
  });
  afterAll(async () => {
    peer.server.closeAllConnections();
    await new Promise((r) => peer.server.close(r));
    await slack.stop();
  });

  it('sends the method, headers and body, reads status, headers and body, and keeps the connection', async () => {
    const seen: { method?: string; type?: string; auth?: string; length?: string; body?: string }[] = [];
    peer.answer((req, body, res) => {
      seen.push({
        method: req.method,
        type: req.headers['content-type'],
        auth: req.headers.authorization,
        length: req.headers['content-length'],
        body,
      });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-slack-req-id': 'r1' });
      res.end(JSON.stringify({ ok: true, text: 'héllo' }));
    });
    const before = peer.connections();
    for (let i = 0; i < 3; i++) {
      const res = await fetchFn(`${peer.url}/api/chat.postMessage`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Bearer xoxb-1' },
        body: 'channel=C0X&text=h%C3%A9llo',
      });
      expect(res.status).toBe(200);
      expect(res.ok).toBe(true);
      expect(res.headers.get('Content-Type')).toBe('application/json; charset=utf-8');
      expect(Object.fromEntries(res.headers.entries())['x-slack-req-id']).toBe('r1');
      expect(await res.json()).toEqual({ ok: true, text: 'héllo' });
    }
    expect(seen).toHaveLength(3);
    expect(seen[0]).toEqual({
      method: 'POST',
      type: 'application/x-www-form-urlencoded',
      auth: 'Bearer xoxb-1',
      length: String(Buffer.byteLength('channel=C0X&text=h%C3%A9llo')),
      body: 'channel=C0X&text=h%C3%A9llo',
    });
    // Three calls, one connection.
    expect(peer.connections() - before).toBe(1);
  });

  it('rejects as fetch does: the signal’s TimeoutError, TypeError("fetch failed") with the socket’s code, and a redirect', async () => {
    peer.answer(() => undefined); // never answers
    const late = await fetchFn(`${peer.url}/api/chat.postMessage`, {
      method: 'POST',
      body: 'a=1',
      signal: AbortSignal.timeout(100),
    }).catch((e: unknown) => e as Error);
    expect(late).toMatchObject({ name: 'TimeoutError' });

    const refused = await fetchFn('http://127.0.0.1:1/api/auth.test', { method: 'POST', body: '' }).catch(
      (e: unknown) => e as TypeError & { cause?: { code?: string } },
    );
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as TypeError).message).toBe('fetch failed');
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');

    peer.answer((_req, _body, res) => {
      res.writeHead(302, { location: 'https://example.invalid/' });
      res.end();
    });
    const moved = await fetchFn(`${peer.url}/api/auth.test`, {
      method: 'POST',
      body: '',
      redirect: 'error',
    }).catch((e: unknown) => e as Error);
    expect(moved).toBeInstanceOf(TypeError);
  });

  it('under the notifier’s Web API client, Slack’s answers are told apart as before: posted, refused, rate limited, timed out, never sent', async () => {
    const client = (slackApiUrl: string, timeout = 5_000) =>
      new WebClient('xoxb-fetch-test', {
        slackApiUrl,
        fetch: fetchFn,
        timeout,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logLevel: LogLevel.ERROR,
      });
    const call = createSlackCaller(client(slack.apiUrl), createMetrics());
    slack.setBotChannels('all');
    const posted = await call('chat.postMessage', { channel: 'C0FETCH', text: 'hello', blocks: [] });
    expect(posted).toMatchObject({ kind: 'ok' });
    expect(slack.messages('C0FETCH').map((m) => m.text)).toEqual(['hello']);

    slack.platformError('chat.postMessage', 'msg_too_long');
    expect(await call('chat.postMessage', { channel: 'C0FETCH', text: 'x' })).toEqual({
      kind: 'refused',
      error: 'msg_too_long',
    });

    slack.rateLimit({ methods: ['chat.postMessage'], retryAfterSec: 7 });
    expect(await call('chat.postMessage', { channel: 'C0FETCH', text: 'x' })).toEqual({
      kind: 'rate_limited',
      retryAfterMs: 7_000,
    });

    slack.delay({ methods: ['chat.postMessage'], ms: 1_000 });
    const slow = createSlackCaller(client(slack.apiUrl, 200), createMetrics());
    expect(await slow('chat.postMessage', { channel: 'C0FETCH', text: 'late' })).toMatchObject({
      kind: 'unknown',
      answered: false,
      unsent: false,
      why: 'timeout',
    });

    const nobody = createSlackCaller(client('http://127.0.0.1:1/api/'), createMetrics());
    expect(await nobody('chat.postMessage', { channel: 'C0FETCH', text: 'x' })).toMatchObject({
      kind: 'unknown',
      answered: false,
      unsent: true,
    });
  });
});
