import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { waitFor } from '../kit/wait.js';
import { makeEntry } from './fixtures.js';
import { parseDeprecationHeader, parseLinkHeader, parseSunsetHeader } from './http-parse.js';
import { startProxyProcess, startPythonUpstream } from './proxy-kit.js';
import { deletePrefix, REDIS_URL, RedisProxy, testPrefix } from './redis-kit.js';
import { hammer } from './server-kit.js';

const N = 2000;
const SHARE = 0.25;
// Binomial: the refused count of N draws at SHARE has sd sqrt(p(1-p)/N); 4.5 sd makes a false alarm ~1e-5.
const TOLERANCE = 4.5 * Math.sqrt((SHARE * (1 - SHARE)) / N);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MB = 1024 * 1024;

describe('backout proxy in front of a Python http.server upstream', () => {
  const prefix = testPrefix();
  // Whole seconds: the header formats carry no milliseconds.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const iso = (ms: number) => new Date(ms).toISOString();
  // Times are relative to the real clock: the proxy is its own process and reads its own.
  const orders = makeEntry({
    deprecatedAt: iso(now - 10 * DAY),
    sunset: iso(now + 30 * DAY),
    brownouts: [{ start: iso(now - HOUR), end: iso(now + HOUR), share: SHARE, status: 410 }],
  });
  const carts = makeEntry({
    pattern: '/v1/carts/:id',
    deprecatedAt: iso(now - DAY),
    sunset: iso(now + 30 * DAY),
  });
  const legacy = makeEntry({
    pattern: '/v1/legacy/:id',
    deprecatedAt: iso(now - 60 * DAY),
    sunset: iso(now - DAY),
  });
  const slow = makeEntry({
    pattern: '/v1/slow/:id',
    deprecatedAt: iso(now - 10 * DAY),
    sunset: iso(now + 10 * DAY),
    delay: { maxMs: 400 },
  });
  let redis: Redis;
  const redisDoor = new RedisProxy();
  let upstream: Awaited<ReturnType<typeof startPythonUpstream>>;
  let proxy: Awaited<ReturnType<typeof startProxyProcess>>;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    const registry = new DeprecationRegistry(redis, prefix);
    for (const entry of [orders, carts, legacy, slow]) await registry.put(entry);
    await redisDoor.open();
    upstream = await startPythonUpstream();
    proxy = await startProxyProcess(
      [
        '--service',
        'checkout',
        '--upstream',
        upstream.url,
        '--client-id',
        'source',
        '--trusted-proxies',
        '127.0.0.1/32,::1',
        '--upstream-timeout',
        '1500ms',
      ],
      { REDIS_URL: redisDoor.url, BACKOUT_PREFIX: prefix },
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.stop();
    await redisDoor.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('adds Deprecation, Sunset and Link in their RFC formats to matching responses only, and forwards no hop-by-hop header', async () => {
    // fetch() may not set Connection, so this one goes out through node:http.
    const raw = await rawGet(`${proxy.url}/v1/carts/42?expand=items`, {
      connection: 'keep-alive, x-internal-trace',
      'x-internal-trace': 'secret',
      'keep-alive': 'timeout=5',
      'x-client-id': 'kept',
    });
    expect(raw.status).toBe(200);
    const echoed = JSON.parse(raw.body) as { path: string; headers: Record<string, string> };
    expect(echoed.headers['keep-alive']).toBeUndefined();
    expect(echoed.path).toBe('/v1/carts/42?expand=items');
    expect(echoed.headers['x-client-id']).toBe('kept');
    expect(echoed.headers['x-internal-trace']).toBeUndefined();
    expect(echoed.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(parseDeprecationHeader(raw.headers.deprecation as string)).toBe(Date.parse(carts.deprecatedAt));
    expect(parseSunsetHeader(raw.headers.sunset as string)).toBe(Date.parse(carts.sunset));
    expect(parseLinkHeader(raw.headers.link as string)).toEqual([
      { target: 'https://api.example.com/v2/orders', params: { rel: 'successor-version' } },
      {
        target: 'https://developer.example.com/deprecations/orders-v1',
        params: { rel: 'deprecation', type: 'text/html' },
      },
    ]);

    const untouched = await fetch(`${proxy.url}/v2/carts/42`);
    expect(untouched.status).toBe(200);
    await untouched.arrayBuffer();
    for (const name of ['deprecation', 'sunset', 'link']) expect(untouched.headers.get(name)).toBeNull();
  });

  it(`refuses 25 % ± ${(TOLERANCE * 100).toFixed(2)} points (4.5 σ) of ${N} requests inside a brownout, with a problem body`, async () => {
    const statuses = await hammer(`${proxy.url}/v1/orders/7`, N);
    const refused = statuses.filter((status) => status === 410).length;
    expect(refused + statuses.filter((status) => status === 200).length).toBe(N);
    expect(Math.abs(refused / N - SHARE)).toBeLessThanOrEqual(TOLERANCE);
    const problem = await waitFor(
      async () => {
        const candidate = await fetch(`${proxy.url}/v1/orders/7`);
        return candidate.status === 410 ? candidate : (await candidate.arrayBuffer(), false);
      },
      { intervalMs: 0, what: 'a refused request' },
    );
    expect(problem.headers.get('content-type')).toBe('application/problem+json');
    expect(await problem.json()).toMatchObject({
      status: 410,
      successor: 'https://api.example.com/v2/orders',
    });
  });

  it('answers 410 Gone after the sunset without calling the upstream', async () => {
    const response = await fetch(`${proxy.url}/v1/legacy/9`);
    expect(response.status).toBe(410);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(parseSunsetHeader(response.headers.get('sunset')!)).toBe(Date.parse(legacy.sunset));
    expect(await response.json()).toMatchObject({
      type: 'tag:backout,2026:api-retirement/sunset',
      status: 410,
    });
  });

  it('holds matching requests for the ramped delay before passing them on', async () => {
    const from = Date.parse(slow.deprecatedAt);
    const started = Date.now();
    const expected = Math.round((400 * (started - from)) / (Date.parse(slow.sunset) - from));
    const response = await fetch(`${proxy.url}/v1/slow/1`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(Date.now() - started).toBeGreaterThanOrEqual(expected - 1);
  });

  it('streams 100 MB downloads and uploads through with flat memory', async () => {
    const baseline = proxy.rssBytes();
    let peak = baseline;
    const sample = setInterval(() => (peak = Math.max(peak, proxy.rssBytes())), 10);
    const download = async (bytes: number) => {
      const response = await fetch(`${proxy.url}/big/${bytes}`);
      let received = 0;
      for await (const chunk of response.body!) received += (chunk as Uint8Array).byteLength;
      return received;
    };
    const upload = async (megabytes: number) => {
      const hash = createHash('sha256');
      const block = new Uint8Array(MB).fill(7);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === megabytes) return controller.close();
          hash.update(block);
          sent++;
          controller.enqueue(block);
        },
      });
      const response = await fetch(`${proxy.url}/upload`, {
        method: 'POST',
        body,
        duplex: 'half',
      });
      return { answer: await response.json(), sha256: hash.digest('hex') };
    };
    try {
      expect(await download(100 * MB)).toBe(100 * MB);
      const uploaded = await upload(100);
      expect(uploaded.answer).toEqual({ received: 100 * MB, sha256: uploaded.sha256 });
      expect(await download(200 * MB)).toBe(200 * MB);
      // Buffering would hold a whole body; streaming reuses socket buffers, so once the heap has
      // settled the peak stays put whatever passes through (another 300 MB here).
      const settled = peak;
      expect(settled - baseline).toBeLessThan(100 * MB);
      expect((await upload(100)).answer).toMatchObject({ received: 100 * MB });
      expect(await download(200 * MB)).toBe(200 * MB);
      expect(peak - settled).toBeLessThan(16 * MB);
    } finally {
      clearInterval(sample);
    }
  });

  it('passes a WebSocket upgrade through', async () => {
    const socket = new WebSocket(`${proxy.url.replace('http', 'ws')}/v2/live`);
    const reply = await new Promise<string>((resolve, reject) => {
      socket.addEventListener('open', () => socket.send('hello'));
      socket.addEventListener('message', (event) => resolve(String(event.data)));
      socket.addEventListener('error', () => reject(new Error('WebSocket failed')));
    });
    socket.close();
    expect(reply).toBe('echo: hello');
  });

  it('counts usage by the client address behind a trusted proxy', async () => {
    const response = await fetch(`${proxy.url}/v1/carts/5`, {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    await response.arrayBuffer();
    const registry = new DeprecationRegistry(redis, prefix);
    const usage = await waitFor(
      async () => {
        const [entry] = await registry.usage('checkout', { ids: [carts.id] });
        return entry?.clients.find((client) => client.client === '203.0.113.9');
      },
      { what: 'the forwarded client in the usage counts' },
    );
    expect(usage.count).toBe(1);
  });

  it('answers 504 when the upstream is too slow and 502 when it is gone, as problem documents', async () => {
    const slowAnswer = await fetch(`${proxy.url}/slow/3`);
    expect(slowAnswer.status).toBe(504);
    expect(await slowAnswer.json()).toMatchObject({ status: 504, title: 'Upstream did not answer in time' });
  });

  it('keeps deciding from its last registry, refusing nothing it should pass, while Redis is away', async () => {
    await redisDoor.close();
    const statuses = await hammer(`${proxy.url}/v1/carts/3`, 200);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const response = await fetch(`${proxy.url}/v1/carts/3`);
    await response.arrayBuffer();
    expect(response.headers.get('deprecation')).not.toBeNull();
    const health = await fetch(`${proxy.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/backout_proxy_requests_total\{service="checkout",decision="refused"\} [1-9]/);
    await upstream.stop();
    const gone = await fetch(`${proxy.url}/v2/anything`);
    expect(gone.status).toBe(502);
    expect(await gone.json()).toMatchObject({ status: 502, title: 'Upstream unavailable' });
  });
});

function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    request.on('error', reject);
  });
}
