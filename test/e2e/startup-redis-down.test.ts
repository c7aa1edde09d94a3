import { afterEach, describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { parseConfigText } from '../../src/config/load.js';
import { startBackout, type Backout } from '../../src/app.js';
import { freePort, spawnBackout } from '../kit/process.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, type World } from '../kit/world.js';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** A Redis URL on a port nothing listens on. */
async function deadRedis(): Promise<string> {
  return `redis://127.0.0.1:${await freePort()}`;
}

const live = (port: number) =>
  fetch(`http://127.0.0.1:${port}/healthz/live`, { signal: AbortSignal.timeout(500) }).then(
    (r) => r.status,
    () => 0,
  );

describe('start-up and shutdown while Redis does not answer', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('/healthz/live answers within a second, ready says 503, and a stop with no jobs takes under a second', async () => {
    world = await createWorld();
    const port = await freePort();
    const metricsPort = await freePort();
    const env = parseEnv({
      ...world.rawEnv,
      REDIS_URL: await deadRedis(),
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
    });
    if (!env.ok) throw new Error(env.problems.join('\n'));
    const config = parseConfigText(await readFile(world.configPath, 'utf8'));
    if (!config.ok) throw new Error(config.problems.join('\n'));
    const stopAsked = new AbortController();
    const began = Date.now();
    const starting = startBackout(env.env, config.config, {
      signal: stopAsked.signal,
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    await waitFor(async () => (await live(port)) === 200, {
      timeoutMs: 5_000,
      intervalMs: 20,
      what: 'liveness',
    });
    expect(Date.now() - began).toBeLessThan(1_000);
    const ready = await fetch(`http://127.0.0.1:${port}/healthz/ready`);
    expect(ready.status).toBe(503);
    // Readiness names why Redis is not ready (a reason string), never `true`.
    const body = (await ready.json()) as { status: string; checks: { redis: boolean | string } };
    expect(body.status).toBe('not ready');
    expect(body.checks.redis).toMatch(/^not ready: /);
    // Metrics on their own port too (and still on PORT).
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);

    // Asked to stop while it still waits for Redis: the start ends, and the stop is quick.
    stopAsked.abort();
    const app: Backout = await starting;
    expect(app.metricsPort).toBe(metricsPort);
    const stopping = Date.now();
    await app.stop();
    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(await live(port)).toBe(0);
  });

  it(
    'as its own process: SIGTERM before Redis ever connected exits 0 within a second',
    { timeout: 120_000 },
    async () => {
      world = await createWorld();
      const bot = await spawnBackout(world, { REDIS_URL: await deadRedis() }, { waitReady: false });
      await waitFor(async () => (await live(bot.port)) === 200, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'liveness',
      });
      const stopping = Date.now();
      expect(await bot.terminate()).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(1_000);
    },
  );

  it(
    'as its own process: SIGTERM once started with no jobs exits 0 within a second',
    { timeout: 120_000 },
    async () => {
      world = await createWorld();
      const bot = await spawnBackout(world, { REDIS_URL: await deadRedis() }, { waitReady: false });
      await waitFor(async () => (await live(bot.port)) === 200, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'liveness',
      });
      // Past the start-up wait for Redis: the bot is fully up, still without Redis.
      await waitFor(() => bot.output.join('').includes('backout is up'), {
        timeoutMs: 20_000,
        what: 'backout is up',
      });
      const stopping = Date.now();
      expect(await bot.terminate()).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(1_000);
    },
  );
});
