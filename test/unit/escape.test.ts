import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackoutRequest } from '../../src/requests/types.js';
import { esc, requestCard, stepReply } from '../../src/slack/cards.js';

/** Pieces people paste to make a message ping everyone or hide where a link goes. */
const HOSTILE = [
  '<!here>',
  '<!channel>',
  '<!everyone>',
  '<!subteam^S0ONCALL|@oncall>',
  '<@U0SRE1>',
  '<#C0CHECKOUT>',
  '<https://evil.example/approve|Approve here>',
  '<mailto:a@b.example|mail>',
  '@here',
  '@channel',
  '@everyone',
  '&lt;!here&gt;',
  '&amp;',
  '<',
  '>',
  '|',
  '!',
  '^',
  ' ',
  '`',
  '*',
];

const userText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc
    .array(fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 6 })), { maxLength: 30 })
    .map((parts) => parts.join('')),
);

/** What Slack would turn into a broadcast, a mention or a labelled link. */
function dangers(mrkdwn: string): string[] {
  const found: string[] = [];
  if (/<!/.test(mrkdwn)) found.push('control sequence <!…>');
  if (/<[@#]/.test(mrkdwn)) found.push('mention <@…>/<#…>');
  if (/<[a-z][a-z0-9+.-]*:/i.test(mrkdwn)) found.push('link <scheme:…>');
  if (/@(here|channel|everyone)\b/i.test(mrkdwn)) found.push('plain broadcast @here/@channel/@everyone');
  return found;
}

function request(reason: string, title: string): BackoutRequest {
  return {
    id: 'rb-abcdefgh',
    kind: 'rollback',
    service: 'checkout-api',
    environment: 'production',
    target: 'checkout-api/production',
    mutating: true,
    requester: 'U0REQUEST',
    reason,
    createdAt: 0,
    expiresAt: 900_000,
    plan: {},
    planHash: 'a'.repeat(64),
    title,
    approval: {
      required: true,
      reasons: ['policy requires approval'],
      approvers: { users: ['U0SRE1'], usergroups: [] },
      twoPerson: true,
    },
    slack: { channel: 'C0CHECKOUT' },
    dryRun: false,
    state: 'failed',
    outcome: reason,
    version: 1,
    updatedAt: 0,
    run: 1,
  };
}

describe('the one escaping function for user text in mrkdwn', () => {
  it('no <!…>, no link and no mention can come out of any user text', () => {
    fc.assert(
      fc.property(userText, (text) => {
        expect(dangers(esc(text))).toEqual([]);
        expect(esc(text)).not.toMatch(/[<>]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('what a person reads is what they typed: only & < > become entities and an invisible joiner follows @ of a broadcast', () => {
    fc.assert(
      fc.property(userText, (text) => {
        const shown = esc(text)
          .replace(/\u2060/g, '')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&');
        expect(shown).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });

  it('a reason, title or outcome of a card and user text in a step detail come out harmless', () => {
    fc.assert(
      fc.property(userText, userText, (reason, title) => {
        const card = requestCard({ request: request(reason, title), planLines: [], buttons: [] });
        const step = stepReply({ index: 1, total: 2, label: title, event: 'failed', detail: esc(reason) });
        for (const text of [card.text, JSON.stringify(card.blocks), step.text]) {
          // The card's own mentions (the requester) are backout's, not the user's: drop them first.
          expect(dangers(text.replace(/<@U0REQUEST>|<@U0SRE1>/g, ''))).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the classic payloads are shown as text', () => {
    expect(esc('<!here> look')).toBe('&lt;!here&gt; look');
    expect(esc('<https://evil.example|Approve>')).toBe('&lt;https://evil.example|Approve&gt;');
    expect(esc('ping @channel now')).toBe('ping @\u2060channel now');
  });
});
