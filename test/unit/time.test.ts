import { describe, expect, it } from 'vitest';
import { slackDate, utcText } from '../../src/text/time.js';
import { requestCard } from '../../src/slack/cards.js';

const AT = Date.parse('2026-12-06T03:18:25.097Z');

describe('times people read in Slack', () => {
  it('the plain form is UTC to the minute (or second), never ISO with milliseconds', () => {
    expect(utcText(AT)).toBe('2026-12-06 03:18 UTC');
    expect(utcText(new Date(AT), { seconds: true })).toBe('2026-12-06 03:18:25 UTC');
  });

  it("Slack's date token renders in each reader's time zone and falls back to the plain form", () => {
    expect(slackDate(AT)).toBe('<!date^1796527105^{date_short_pretty} {time}|2026-12-06 03:18 UTC>');
    expect(slackDate(AT, { seconds: true })).toBe(
      '<!date^1796527105^{date_short_pretty} {time_secs}|2026-12-06 03:18:25 UTC>',
    );
  });

  it('the approval line of a card says the deadline with the token, not an ISO time', () => {
    const card = requestCard({
      request: {
        id: 'rb-abcdefgh',
        kind: 'rollback',
        service: 'checkout-api',
        environment: 'production',
        target: 'checkout-api/production',
        mutating: true,
        requester: 'U0REQUEST',
        createdAt: AT - 15 * 60_000,
        expiresAt: AT,
        plan: {},
        planHash: 'a'.repeat(64),
        title: 'Roll back checkout-api',
        approval: {
          required: true,
          reasons: ['policy requires approval'],
          approvers: { users: [], usergroups: [] },
          twoPerson: false,
        },
        slack: { channel: 'C0CHECKOUT' },
        dryRun: false,
        state: 'pending',
        version: 1,
        updatedAt: AT,
        run: 0,
      },
      planLines: [],
      buttons: [],
    });
    const all = JSON.stringify(card);
    expect(all).toContain(
      'before <!date^1796527105^{date_short_pretty} {time}|2026-12-06 03:18 UTC> (15m window)',
    );
    expect(all).not.toMatch(/\d{2}:\d{2}:\d{2}\.\d{3}Z/);
  });
});
