import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trend } from '../../src/api-retirement/trend.js';
import {
  buildEntry,
  formatWindow,
  type DeprecationEntry,
  type EntryInput,
  type EntryUsage,
} from '../../src/api-retirement/index.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/model.js';
import { UsageError, type BackoutError } from '../../src/errors.js';
import {
  normalisePattern,
  parseDelay,
  parseSchedule,
  parseSunset,
  planRetire,
  type ApiRegistryReader,
} from '../../commands/retract-api.js';
import { listMessage, usageMessage } from '../../commands/retract-api-views.js';
import { parse } from '../../commands/retract-grammar.js';
import { entryHash, type ApiRetirePlan, type ApiUnretirePlan } from '../../jobs/api-retire-plan.js';
import { describeRetire, describeUnretire, windowLines } from '../../jobs/api-retire-text.js';

const NOW = new Date('2026-06-01T12:00:00Z');

function entry(overrides: Partial<EntryInput> = {}): DeprecationEntry {
  const built = buildEntry({
    service: 'checkout-api',
    method: 'GET',
    pattern: '/v1/checkout/*',
    deprecatedAt: '2026-05-01T00:00:00Z',
    sunset: '2027-03-01T00:00:00Z',
    successor: 'https://api.example.com/v2/checkout',
    createdBy: 'U0REQUEST',
    requestId: 'api-retire-1',
    createdAt: new Date('2026-05-01T00:00:00Z'),
    ...overrides,
  });
  if (!built.ok) throw new Error(built.error);
  return built.entry;
}

function config(): Config {
  const parsed = parseConfigText(`
slack: { incidentChannel: C0INCIDENT }
services:
  checkout-api:
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        channel: C0CHECKOUT
`);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.config;
}

function registryWith(...entries: DeprecationEntry[]): ApiRegistryReader {
  return {
    list: () => Promise.resolve(entries),
    get: (_service, id) => Promise.resolve(entries.find((e) => e.id === id)),
    usage: () => Promise.resolve([]),
  };
}

function retire(text: string) {
  const cmd = parse(`api checkout-api ${text}`);
  if (cmd.kind !== 'api-retire') throw new Error(`not a retire command: ${cmd.kind}`);
  return cmd;
}

describe('the plan card of an API retirement says what clients will see, and when', () => {
  const plan: ApiRetirePlan = {
    service: 'checkout-api',
    id: 'GET /v1/checkout/*',
    method: 'GET',
    pattern: '/v1/checkout/*',
    sunset: '2027-03-01T00:00:00.000Z',
    successor: 'https://api.example.com/v2/checkout',
    policy: 'https://developer.example.com/deprecations/checkout-v1',
    brownouts: [
      { start: '2027-02-01T14:00:00.000Z', end: '2027-02-01T15:00:00.000Z', share: 0.25, status: 410 },
      { start: '2027-02-15T14:00:00.000Z', end: '2027-02-15T16:00:00.000Z', share: 0.5, status: 503 },
    ],
    delay: { maxMs: 2000 },
    announceChannel: 'C0CHECKOUT',
  };

  it('names the headers from approval on, each brownout window, the delay ramp and 410 after the sunset', () => {
    const text = describeRetire(plan).join('\n');
    expect(text).toContain(
      '`GET /v1/checkout/*` of *checkout-api* (GET and HEAD; `*` covers the rest of the path)',
    );
    expect(text).toContain('*From approval on*');
    expect(text).toContain('`Deprecation: @&lt;Unix time of approval&gt;`');
    expect(text).toContain('`Sunset: Mon, 01 Mar 2027 00:00:00 GMT`');
    expect(text).toContain(
      '`Link: &lt;https://api.example.com/v2/checkout&gt;; rel="successor-version", &lt;https://developer.example.com/deprecations/checkout-v1&gt;; rel="deprecation"; type="text/html"`',
    );
    for (const window of plan.brownouts) expect(text).toContain(`• ${formatWindow(window)}`);
    expect(text).toContain('25% refused with 410 Gone');
    expect(text).toContain('50% refused with 503 Service Unavailable');
    expect(text).toContain('0 at approval, growing linearly to 2s at the sunset');
    expect(text).toContain(
      '*From the sunset* (Mon 1 Mar 2027 00:00 UTC) every matching request is refused with `410 Gone`',
    );
    expect(text).toContain('*Announcement* in <#C0CHECKOUT>');
    expect(text).not.toContain('*Replaces*');
  });

  it('says when there is no Link header, no brownout and no delay', () => {
    const bare: ApiRetirePlan = { ...plan, brownouts: [] };
    delete bare.successor;
    delete bare.policy;
    delete bare.delay;
    delete bare.announceChannel;
    const text = describeRetire(bare).join('\n');
    expect(text).toContain('no `Link` header');
    expect(text).toContain('*Brownouts* none scheduled.');
    expect(text).toContain('*Delay* none.');
    expect(text).toContain('*Announcement* none');
  });

  it('keeps the deprecation date of the entry it replaces and lists what changes', () => {
    const previous = entry();
    const text = describeRetire({
      ...plan,
      deprecatedAt: previous.deprecatedAt,
      previous: { hash: entryHash(previous), entry: previous },
    }).join('\n');
    expect(text).toContain('`Deprecation: @1777593600` — deprecated since Fri 1 May 2026 00:00 UTC, kept');
    expect(text).toContain('*Replaces* the current entry (written by <@U0REQUEST> in `api-retire-1`)');
    expect(text).toContain('policy (none) → https://developer.example.com/deprecations/checkout-v1');
    expect(text).toContain('brownout windows 0 → 2');
    expect(text).toContain('delay none → up to 2s');
  });

  it('summarises long schedules instead of listing hundreds of windows', () => {
    const windows = Array.from({ length: 40 }, (_, day) => ({
      start: new Date(Date.UTC(2027, 0, day + 1, 14)).toISOString(),
      end: new Date(Date.UTC(2027, 0, day + 1, 15)).toISOString(),
      share: 0.1,
      status: 410 as const,
    }));
    const lines = windowLines(windows);
    expect(lines).toHaveLength(11);
    expect(lines[10]).toMatch(/^• …and 30 more windows, the last Tue 9 Feb 2027 14:00–15:00 UTC/);
  });

  it('the undo card shows what it removes', () => {
    const current = entry({
      brownouts: [{ start: '2027-02-01T14:00:00Z', end: '2027-02-01T15:00:00Z', share: 0.25, status: 410 }],
      delay: { maxMs: 1500 },
    });
    const undo: ApiUnretirePlan = {
      service: 'checkout-api',
      id: current.id,
      previous: { hash: entryHash(current), entry: current },
      announceChannel: 'C0CHECKOUT',
    };
    const text = describeUnretire(undo).join('\n');
    expect(text).toContain('*Removes* the deprecation of `GET /v1/checkout/*` from *checkout-api*');
    expect(text).toContain('no `Deprecation`, `Sunset` or `Link` headers');
    expect(text).toContain('no brownouts (its one window no longer applies)');
    expect(text).toContain('no delay (it was up to 1.5s)');
    expect(text).toContain('no `410 Gone` from the sunset of Mon 1 Mar 2027 00:00 UTC');
    expect(text).toContain('deprecated since Fri 1 May 2026 00:00 UTC by <@U0REQUEST> (`api-retire-1`)');
  });
});

describe('/retract api validation', () => {
  it.each([
    ['2027-03-01', '2027-03-01T00:00:00.000Z'],
    ['2027-03-01T09:30Z', '2027-03-01T09:30:00.000Z'],
    ['2027-03-01T09:30:15.5Z', '2027-03-01T09:30:15.500Z'],
    ['2027-03-01T10:30+01:00', '2027-03-01T09:30:00.000Z'],
    ['2027-03-01T10:30+0100', '2027-03-01T09:30:00.000Z'],
  ])('reads the sunset %s as %s', (text, iso) => {
    expect(parseSunset(text, NOW).toISOString()).toBe(iso);
  });

  it.each([
    ['2026-05-01', /is not in the future/],
    ['2026-06-01T12:00Z', /is not in the future/],
    ['2027-03-01T09:30', /needs a time zone: write 2027-03-01T09:30Z/],
    ['2027-02-30', /not a real date/],
    ['2027-13-01', /not a real date/],
    ['next tuesday', /--sunset takes a date such as 2027-03-01/],
    ['1772323200', /--sunset takes a date/],
  ])('refuses the sunset %s', (text, message) => {
    expect(() => parseSunset(text, NOW)).toThrow(message);
  });

  it.each([
    ['2s', 2000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['30s', 30_000],
  ])('reads --delay %s', (text, ms) => {
    expect(parseDelay(text)).toBe(ms);
  });

  it.each([
    ['31s', /over the 30s cap/],
    ['1m', /over the 30s cap/],
    ['0s', /--delay takes the longest delay/],
    ['soon', /--delay takes the longest delay/],
  ])('refuses --delay %s', (text, message) => {
    expect(() => parseDelay(text)).toThrow(message);
  });

  it('passes brownout schedule errors on word for word', () => {
    const sunset = new Date('2027-03-01T00:00:00Z');
    expect(() => parseSchedule('2027-02-01T14:00Z/1h 150%', NOW, sunset)).toThrow(
      'brownout item 1 ("2027-02-01T14:00Z/1h 150%"): the share 150% must be between 1% and 100%',
    );
    expect(() => parseSchedule('2027-04-01T14:00Z/1h 10%', NOW, sunset)).toThrow(/ends after the sunset/);
  });

  it('folds empty path segments and names pattern problems', () => {
    expect(normalisePattern('/v1//checkout/*')).toBe('/v1/checkout/*');
    expect(normalisePattern('/v1/orders/:id/')).toBe('/v1/orders/:id');
    expect(() => normalisePattern('/v1/*/orders')).toThrow('"*" is only allowed as the last segment');
  });

  it('plans a new entry with its announcement channel, and keeps a replaced entry’s dates', async () => {
    const fresh = await planRetire(
      retire('GET /v1/checkout/* --sunset 2027-03-01 --brownout "2027-02-01T14:00Z/1h 25%" --delay 2s'),
      config(),
      registryWith(),
      'U0REQUEST',
      NOW,
    );
    expect(fresh.plan).toEqual({
      service: 'checkout-api',
      id: 'GET /v1/checkout/*',
      method: 'GET',
      pattern: '/v1/checkout/*',
      sunset: '2027-03-01T00:00:00.000Z',
      brownouts: [
        { start: '2027-02-01T14:00:00.000Z', end: '2027-02-01T15:00:00.000Z', share: 0.25, status: 410 },
      ],
      delay: { maxMs: 2000 },
      announceChannel: 'C0CHECKOUT',
    });

    const previous = entry({ delay: { maxMs: 1000, from: '2026-05-02T00:00:00Z' } });
    const replaced = await planRetire(
      retire('GET /v1/checkout/* --sunset 2027-06-01 --delay 3s'),
      config(),
      registryWith(previous),
      'U0REQUEST',
      NOW,
    );
    expect(replaced.plan.deprecatedAt).toBe(previous.deprecatedAt);
    expect(replaced.plan.delay).toEqual({ maxMs: 3000, from: '2026-05-02T00:00:00.000Z' });
    expect(replaced.plan.previous).toEqual({ hash: entryHash(previous), entry: previous });
  });

  it('never fails with anything but a usage error, whatever is typed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.string(), async (sunset, schedule, delay) => {
        const cmd = {
          kind: 'api-retire' as const,
          service: 'checkout-api',
          method: 'GET',
          pattern: '/v1/x',
          sunset,
          brownout: schedule,
          delay,
        };
        try {
          await planRetire(cmd, config(), registryWith(), 'U0REQUEST', NOW);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as BackoutError).message.length).toBeGreaterThan(10);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('/retract api list and usage answers', () => {
  const current = entry({
    brownouts: [{ start: '2027-02-01T14:00:00Z', end: '2027-02-01T15:00:00Z', share: 0.25, status: 410 }],
  });
  const retired = entry({
    method: 'POST',
    pattern: '/v1/orders',
    sunset: '2026-05-20T00:00:00Z',
    successor: undefined,
  });

  it('lists each entry with where it stands', () => {
    const { text } = listMessage('checkout-api', [current, retired], NOW);
    expect(text).toContain('*Deprecated endpoints of checkout-api* (2):');
    expect(text).toContain(
      '• `GET /v1/checkout/*` — :hourglass_flowing_sand: deprecated, sunset Mon 1 Mar 2027 00:00 UTC (in 272d 12h)',
    );
    expect(text).toContain('brownouts: 1 window, 1 still to come; next Mon 1 Feb 2027 14:00–15:00 UTC');
    expect(text).toContain(
      '• `POST /v1/orders` — :no_entry: *retired*: answering `410 Gone` since Wed 20 May 2026 00:00 UTC',
    );
    expect(listMessage('checkout-api', [], NOW).text).toContain('checkout-api has no deprecated endpoints');
  });

  it('reports clients with counts and last seen, escaping what callers sent', () => {
    const usage: EntryUsage[] = [
      usageOf(current.id, [
        { client: 'mobile-ios', daily: [0, 1, 3], lastSeen: '2026-06-01T11:00:00.000Z' },
        { client: '<!channel> `x`', daily: [1, 1, 0], lastSeen: '2026-05-30T08:00:00.000Z' },
        { client: 'anonymous', daily: [1, 0, 0] },
      ]),
      usageOf(retired.id, []),
    ];
    const { text } = usageMessage('checkout-api', [current, retired], usage, NOW);
    expect(text).toContain(
      '*`GET /v1/checkout/*`* — 7 requests from 3 clients · rising (+0.5 requests/day each day) ·',
    );
    expect(text).toContain(
      '• `mobile-ios` — 4 requests (57.1 %), first seen 2026-05-31, last seen <!date^1780311600^{date_short_pretty} {time}|2026-06-01 11:00 UTC> · rising (+1.5 requests/day each day)',
    );
    expect(text).toContain("• `&lt;!channel&gt; 'x'` — 2 requests (28.6 %), first seen 2026-05-30");
    expect(text).toContain('falling (-0.5 requests/day each day)');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('• `anonymous` — 1 request');
    expect(text).toContain('*`POST /v1/orders`* — no calls seen in the last 30 days');
    expect(text).toContain('`anonymous`: requests that carried no client id');
  });

  it('stays within Slack’s text limit with many clients', () => {
    const clients = Array.from({ length: 40 }, (_, i) => ({ client: `client-${i}`, daily: [100 - i] }));
    const usage: EntryUsage[] = Array.from({ length: 12 }, (_, i) => usageOf(`GET /v${i}/*`, clients));
    const entries = usage.map((_, i) => entry({ pattern: `/v${i}/*` }));
    const { text } = usageMessage('checkout-api', entries, usage, NOW);
    expect(text.length).toBeLessThanOrEqual(3900);
    expect(text).toContain('…and 25 more clients');
    expect(text).toMatch(/more lines? not shown/);
  });
});

/** An EntryUsage as the registry computes it, from per-client daily counts ending on 2026-06-01. */
function usageOf(id: string, clients: { client: string; daily: number[]; lastSeen?: string }[]): EntryUsage {
  const length = Math.max(1, ...clients.map((c) => c.daily.length));
  const days = Array.from({ length }, (_, i) =>
    new Date(Date.UTC(2026, 5, 1 - (length - 1 - i))).toISOString().slice(0, 10),
  );
  const daily = days.map((_, d) => clients.reduce((sum, c) => sum + (c.daily[d] ?? 0), 0));
  const total = daily.reduce((a, b) => a + b, 0);
  return {
    id,
    total,
    days,
    daily,
    trend: trend(daily),
    clients: clients.map((c) => {
      const count = c.daily.reduce((a, b) => a + b, 0);
      const first = c.daily.findIndex((n) => n > 0);
      return {
        client: c.client,
        count,
        ...(c.lastSeen && { lastSeen: c.lastSeen }),
        ...(first >= 0 && { firstSeen: days[first] }),
        daily: c.daily,
        share: total ? count / total : 0,
        trend: trend(c.daily),
      };
    }),
  };
}
