import { describe, expect, it } from 'vitest';
import { ApiWarnings, type ApiWarningJob } from '../../jobs/api-warnings.js';
import type { DeprecationEntry } from '../../src/api-retirement/index.js';
import { warningId, warningsFor } from '../../src/api-retirement/warnings.js';
import type { SlackMessage } from '../../src/slack/notifier.js';
import { makeEntry } from '../api-retirement/fixtures.js';

const DAY = 86_400_000;
const entry = makeEntry({
  brownouts: [
    { start: '2026-02-01T10:00:00.000Z', end: '2026-02-01T11:00:00.000Z', share: 0.25, status: 410 },
  ],
});

describe('API retirement reminders', () => {
  it('one per lead time before each brownout and the sunset, only those still ahead, soonest first', () => {
    const now = Date.parse('2026-01-20T00:00:00Z');
    const due = warningsFor(entry, [30 * DAY, 7 * DAY, DAY], now).map((w) => [
      w.target,
      new Date(w.dueAt).toISOString(),
    ]);
    expect(due).toEqual([
      ['brownout', '2026-01-25T10:00:00.000Z'],
      ['sunset', '2026-01-30T00:00:00.000Z'],
      ['brownout', '2026-01-31T10:00:00.000Z'],
      ['sunset', '2026-02-22T00:00:00.000Z'],
      ['sunset', '2026-02-28T00:00:00.000Z'],
    ]);
    expect(new Set(warningsFor(entry, [30 * DAY, 7 * DAY, DAY], now).map(warningId)).size).toBe(5);
    expect(warningId(warningsFor(entry, [DAY], now)[0]!)).not.toContain(':');
  });

  it('a reminder for a moment that no longer exists (entry changed or removed) is not posted', async () => {
    const posted: SlackMessage[] = [];
    let current: DeprecationEntry | undefined = entry;
    const warnings = new ApiWarnings({
      timers: { add: () => Promise.reject(new Error('not used')) },
      registry: { get: () => Promise.resolve(current), usage: () => Promise.resolve([]) },
      notifier: { post: (_key, _channel, message) => Promise.resolve(void posted.push(message)) },
      leadsMs: [DAY],
    });
    const [sunsetWarning] = warningsFor(entry, [DAY], Date.parse('2026-02-15T00:00:00Z'));
    const job: ApiWarningJob = { ...sunsetWarning!, channel: 'C0CHECKOUT' };
    current = makeEntry({ sunset: '2026-04-01T00:00:00Z' });
    expect(await warnings.fire(job)).toBe('no longer applies');
    current = undefined;
    expect(await warnings.fire(job)).toBe('no longer applies');
    current = entry;
    expect(await warnings.fire(job)).toBe('posted');
    expect(posted).toHaveLength(1);
    expect(posted[0]!.text).toContain('No calls seen in the last 30 days.');
  });
});
