import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { UsageRecorder } from '../../src/api-retirement/usage-recorder.js';
import { runCliCommand } from '../../src/cli/run.js';
import { captureIo } from '../cli/kit.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';

const DAY = 86_400_000;

describe('backout report api: the usage evidence as CSV and JSON', () => {
  const prefix = testPrefix();
  const orders = makeEntry();
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    await new DeprecationRegistry(redis, prefix).put(orders);
    const recorder = new UsageRecorder({ redis, service: 'checkout', prefix, flushIntervalMs: 60_000 });
    const today = Date.now();
    // mobile-ios calls less each day, =cmd (a hostile client id) once three days ago.
    for (const [daysAgo, calls] of [
      [3, 6],
      [2, 4],
      [1, 2],
      [0, 0],
    ] as const) {
      for (let i = 0; i < calls; i++) recorder.record(orders.id, 'mobile-ios', today - daysAgo * DAY);
    }
    recorder.record(orders.id, '=cmd', today - 3 * DAY);
    await recorder.flush();
    await recorder.close();
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('CSV: one row per endpoint and client, share, first/last seen, trend and a column per day', async () => {
    const io = captureIo({ REDIS_URL, BACKOUT_PREFIX: prefix });
    expect(await runCliCommand(['report', 'api', '--service', 'checkout', '--days', '4'], io.io)).toBe(0);
    const lines = io.stdout().split('\r\n');
    expect(lines.at(-1)).toBe('');
    const [header, first, second] = lines.map((line) => line.split(','));
    expect(header!.slice(0, 8)).toEqual([
      'endpoint',
      'client',
      'requests',
      'share',
      'first_seen',
      'last_seen',
      'trend',
      'slope_per_day',
    ]);
    expect(header).toHaveLength(12);
    expect(first!.slice(0, 5)).toEqual(['GET /v1/orders/:id', 'mobile-ios', '12', '0.9231', header![8]]);
    expect(first!.slice(6, 8)).toEqual(['falling', '-2']);
    expect(first!.slice(8)).toEqual(['6', '4', '2', '0']);
    // A client id that would run as a spreadsheet formula is neutralised.
    expect(second!.slice(0, 4)).toEqual(['GET /v1/orders/:id', "'=cmd", '1', '0.0769']);
    expect(io.stderr()).toContain('checkout: 1 deprecated endpoint, 13 requests over the last 4 days');
  });

  it('JSON: the same figures, with each endpoint’s share of the deprecated traffic', async () => {
    const io = captureIo({ REDIS_URL, BACKOUT_PREFIX: prefix });
    expect(
      await runCliCommand(
        ['report', 'api', '--service', 'checkout', '--days', '4', '--format', 'json'],
        io.io,
      ),
    ).toBe(0);
    const report = JSON.parse(io.stdout()) as {
      endpoints: {
        id: string;
        total: number;
        daily: number[];
        shareOfDeprecatedTraffic: number;
        trend: { direction: string };
      }[];
    };
    expect(report.endpoints).toHaveLength(1);
    expect(report.endpoints[0]).toMatchObject({
      id: orders.id,
      total: 13,
      daily: [7, 4, 2, 0],
      shareOfDeprecatedTraffic: 1,
      trend: { direction: 'falling' },
    });
  });

  it('refuses bad flags with the reason', async () => {
    for (const [argv, message] of [
      [['report', 'api'], '--service is required'],
      [
        ['report', 'api', '--service', 'checkout', '--days', '90'],
        '--days must be a whole number from 1 to 35, got "90"',
      ],
      [['report', 'api', '--service', 'checkout', '--format', 'xml'], '--format must be csv or json'],
    ] as const) {
      const io = captureIo({ REDIS_URL, BACKOUT_PREFIX: prefix });
      expect(await runCliCommand(argv, io.io)).toBe(2);
      expect(io.stderr()).toContain(message);
    }
  });
});
