import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDeprecationMiddleware,
  type DeprecationMiddleware,
} from '../../src/api-retirement/middleware/index.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { waitFor } from '../kit/wait.js';
import { makeEntry } from './fixtures.js';
import { parseDeprecationHeader, parseLinkHeader, parseSunsetHeader } from './http-parse.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';
import { hammer, startServer, type RunningServer, type ServerKind } from './server-kit.js';

const N = 2000;
const SHARE = 0.25;
// Binomial: the refused count of N draws at SHARE has sd sqrt(p(1-p)/N); 4.5 sd makes a false alarm ~1e-5.
const TOLERANCE = 4.5 * Math.sqrt((SHARE * (1 - SHARE)) / N);

const inWindow = new Date('2026-02-01T10:30:00Z');
const outsideWindow = new Date('2026-02-01T12:00:00Z');
const afterSunset = new Date('2026-03-01T00:00:01Z');

describe.each<ServerKind>(['node', 'express', 'fastify'])('%s server with the middleware', (kind) => {
  const prefix = testPrefix();
  let redis: Redis;
  let mw: DeprecationMiddleware;
  let server: RunningServer;
  let clock = outsideWindow;
  const errors: unknown[] = [];
  const orders = makeEntry({
    brownouts: [
      { start: '2026-02-01T10:00:00.000Z', end: '2026-02-01T11:00:00.000Z', share: SHARE, status: 410 },
    ],
  });
  const slow = makeEntry({ pattern: '/v1/slow/:id', delay: { maxMs: 400 } });
  const carts = makeEntry({ pattern: '/v1/carts/:id', successor: undefined });
  const v1 = makeEntry({
    method: '*',
    pattern: undefined,
    versionHeader: { name: 'api-version', value: '1' },
  });

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    const registry = new DeprecationRegistry(redis, prefix);
    await registry.put(orders);
    await registry.put(v1);
    await registry.put(carts);
    await registry.put(slow);
    mw = createDeprecationMiddleware({
      redis: REDIS_URL,
      service: 'checkout',
      prefix,
      clientId: { header: 'x-client-id' },
      now: () => clock,
      random: Math.random,
      onError: (err) => errors.push(err),
      usage: { flushIntervalMs: 50 },
    });
    expect(await mw.whenReady()).toBe(true);
    server = await startServer(kind, mw);
  });

  afterAll(async () => {
    await server.close();
    await mw.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
    expect(errors).toEqual([]);
  });

  it('sets Deprecation, Sunset and Link exactly in the RFC formats on matching requests only', async () => {
    clock = outsideWindow;
    const matching = await fetch(`${server.url}/v1/orders/42?expand=items`);
    expect(matching.status).toBe(200);
    expect(await matching.json()).toEqual({ ok: true });
    expect(matching.headers.get('deprecation')).toBe('@1767225600');
    expect(parseDeprecationHeader(matching.headers.get('deprecation')!)).toBe(
      Date.parse(orders.deprecatedAt),
    );
    expect(matching.headers.get('sunset')).toBe('Sun, 01 Mar 2026 00:00:00 GMT');
    expect(parseSunsetHeader(matching.headers.get('sunset')!)).toBe(Date.parse(orders.sunset));
    expect(parseLinkHeader(matching.headers.get('link')!)).toEqual([
      { target: 'https://api.example.com/v2/orders', params: { rel: 'successor-version' } },
      {
        target: 'https://developer.example.com/deprecations/orders-v1',
        params: { rel: 'deprecation', type: 'text/html' },
      },
    ]);

    const byVersion = await fetch(`${server.url}/v2/anything`, {
      method: 'POST',
      headers: { 'api-version': '1' },
    });
    expect(byVersion.status).toBe(200);
    expect(byVersion.headers.get('deprecation')).toBe('@1767225600');

    for (const [path, init] of [
      ['/v1/orders', {}],
      ['/v1/orders/42/items', {}],
      ['/v2/orders/42', {}],
      ['/v1/orders/42', { method: 'POST' }],
      ['/v2/anything', { headers: { 'api-version': '2' } }],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, init);
      expect(response.status, path).toBe(200);
      for (const name of ['deprecation', 'sunset', 'link'])
        expect(response.headers.get(name), `${path} ${name}`).toBeNull();
    }
  });

  it('counts usage per client, matching requests only', async () => {
    clock = outsideWindow;
    const at = (client?: string) => ({ headers: client ? { 'x-client-id': client } : {} });
    await hammer(`${server.url}/v1/carts/1`, 3, at('mobile-ios'), 1);
    await hammer(`${server.url}/v1/carts/2?x=1`, 2, at('partner-acme'), 1);
    await hammer(`${server.url}/v1/carts/3`, 1, at(), 1);
    await hammer(`${server.url}/v2/carts/3`, 4, at('mobile-ios'), 1);
    await hammer(`${server.url}/v1/carts`, 4, at('mobile-ios'), 1);
    const registry = new DeprecationRegistry(redis, prefix);
    const usage = await waitFor(
      async () => {
        const [entry] = await registry.usage('checkout', { now: clock, ids: [carts.id] });
        return entry && entry.total >= 6 && entry;
      },
      { what: 'usage to be flushed' },
    );
    expect(usage.clients.map(({ client, count }) => [client, count])).toEqual([
      ['mobile-ios', 3],
      ['partner-acme', 2],
      ['anonymous', 1],
    ]);
    expect(usage.clients[0]?.lastSeen).toBe(clock.toISOString());
  });

  it(`refuses 25 % ± ${(TOLERANCE * 100).toFixed(2)} points (4.5 σ binomial bound) of ${N} requests inside a 25 % window`, async () => {
    clock = inWindow;
    const statuses = await hammer(`${server.url}/v1/orders/7`, N);
    const refused = statuses.filter((status) => status === 410).length;
    expect(refused + statuses.filter((status) => status === 200).length).toBe(N);
    expect(Math.abs(refused / N - SHARE)).toBeLessThanOrEqual(TOLERANCE);

    const response = await waitFor(
      async () => {
        const candidate = await fetch(`${server.url}/v1/orders/7`);
        return candidate.status === 410 ? candidate : (await candidate.arrayBuffer(), false);
      },
      { intervalMs: 0, what: 'a refused request' },
    );
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('deprecation')).toBe('@1767225600');
    expect(await response.json()).toMatchObject({
      status: 410,
      successor: 'https://api.example.com/v2/orders',
    });
  });

  it('refuses nothing outside the windows', async () => {
    clock = outsideWindow;
    const statuses = await hammer(`${server.url}/v1/orders/7`, 500);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('holds matching requests for the ramped delay before the handler runs', async () => {
    clock = outsideWindow;
    const from = Date.parse(slow.deprecatedAt);
    const expected = Math.round((400 * (clock.getTime() - from)) / (Date.parse(slow.sunset) - from));
    expect(expected).toBe(214);
    const started = performance.now();
    const response = await fetch(`${server.url}/v1/slow/1`);
    const elapsed = performance.now() - started;
    expect(response.status).toBe(200);
    expect(response.headers.get('deprecation')).toBe('@1767225600');
    // Node timers never fire early, so the delay is a lower bound on the round trip.
    expect(elapsed).toBeGreaterThanOrEqual(expected - 1);
  });

  it('answers 410 Gone with the successor link after the sunset', async () => {
    clock = afterSunset;
    const response = await fetch(`${server.url}/v1/orders/9`);
    expect(response.status).toBe(410);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(parseLinkHeader(response.headers.get('link')!)[0]).toEqual({
      target: 'https://api.example.com/v2/orders',
      params: { rel: 'successor-version' },
    });
    expect(await response.json()).toEqual({
      type: 'tag:backout,2026:api-retirement/sunset',
      title: 'Endpoint retired',
      status: 410,
      detail:
        'GET /v1/orders/:id was retired on Sun, 01 Mar 2026 00:00:00 GMT. Use https://api.example.com/v2/orders instead.',
      successor: 'https://api.example.com/v2/orders',
      sunset: '2026-03-01T00:00:00.000Z',
    });
    const untouched = await fetch(`${server.url}/v2/orders/9`);
    expect(untouched.status).toBe(200);
  });
});
