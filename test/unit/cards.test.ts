import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackoutRequest } from '../../src/requests/types.js';
import { buttonsFor } from '../../src/requests/card-view.js';
import { esc, helpMessage, progressBar, requestCard, stepReply } from '../../src/slack/cards.js';
import { validateBlocks } from '../doubles/slack.js';

function request(overrides: Partial<BackoutRequest> = {}): BackoutRequest {
  return {
    id: 'rb-abcdefgh',
    kind: 'rollback',
    service: 'checkout-api',
    environment: 'production',
    target: 'checkout-api/production',
    mutating: true,
    requester: 'U0REQUEST',
    reason: 'bad deploy',
    createdAt: Date.parse('2026-11-23T10:00:00Z'),
    expiresAt: Date.parse('2026-11-23T10:15:00Z'),
    plan: {},
    planHash: 'a'.repeat(64),
    title: 'Roll back checkout-api in production from revision 3 to revision 2',
    approval: {
      required: true,
      reasons: ['policy requires approval'],
      approvers: { users: ['U0SRE1'], usergroups: ['S0ONCALL'] },
      twoPerson: true,
    },
    slack: { channel: 'C0CHECKOUT' },
    dryRun: false,
    state: 'pending',
    version: 1,
    updatedAt: Date.parse('2026-11-23T10:00:00Z'),
    run: 0,
    ...overrides,
  };
}

describe('cards stay within what Slack accepts', () => {
  it('a plan of thousands of long lines is truncated with a note, never rejected', () => {
    const lines = Array.from(
      { length: 2000 },
      (_, i) => `• container \`c${i}\`: \`${'x'.repeat(200)}:1\` → \`${'y'.repeat(200)}:2\``,
    );
    const r = request();
    const card = requestCard({ request: r, planLines: lines, buttons: buttonsFor(r, undefined) });
    expect(validateBlocks(card.blocks ?? [])).toBeUndefined();
    expect(card.blocks!.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(card.blocks)).toContain('not shown (Slack');
    expect(card.text.length).toBeLessThanOrEqual(4000);
  });

  it('whatever a user puts in a reason or title, the card is valid and the text cannot ping anyone', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), fc.string({ maxLength: 500 }), (reason, title) => {
        const r = request({ reason, title, state: 'failed', outcome: reason });
        const card = requestCard({
          request: r,
          planLines: [esc(reason)],
          detail: esc(reason),
          progress: { done: 3, total: 6, current: reason },
          buttons: buttonsFor(r, undefined),
        });
        expect(validateBlocks(card.blocks ?? [])).toBeUndefined();
        expect(JSON.stringify(card.blocks)).not.toMatch(/<!(channel|here|everyone)>/);
      }),
      { numRuns: 500 },
    );
  });

  it("an outcome names the request's own people as mentions, and anyone else as text", () => {
    const r = request({
      state: 'succeeded',
      approver: 'U0SRE1',
      outcome: 'aborted by <@U0SRE1> at 20 %: asked for by <@U0REQUEST>, cc <@U0STRANGER> <!channel>',
    });
    const text = JSON.stringify(requestCard({ request: r, planLines: [], buttons: [] }).blocks);
    expect(text).toContain('aborted by <@U0SRE1> at 20 %: asked for by <@U0REQUEST>, cc &lt;@U0STRANGER&gt;');
    expect(text).not.toContain('<@U0STRANGER>');
    expect(text).not.toMatch(/<!channel>/);
  });

  it('every state renders, with the buttons that state allows', () => {
    for (const state of [
      'pending',
      'approved',
      'rejected',
      'expired',
      'cancelled',
      'running',
      'succeeded',
      'failed',
    ] as const) {
      const r = request({ state, approver: 'U0SRE1' });
      const card = requestCard({ request: r, planLines: ['line'], buttons: buttonsFor(r, undefined) });
      expect(validateBlocks(card.blocks ?? [])).toBeUndefined();
      const ids = JSON.stringify(card.blocks).match(/backout_[a-z_]+/g) ?? [];
      if (state === 'pending') expect(ids).toEqual(['backout_approve', 'backout_reject']);
      else if (state === 'failed') expect(ids).toEqual(['backout_retry']);
      else expect(ids).toEqual([]);
    }
  });

  it('a freeze turns Approve into a break-glass button with a confirm dialog', () => {
    const r = request({ approval: { ...request().approval, freeze: 'year-end' } });
    const card = requestCard({ request: r, planLines: [], buttons: buttonsFor(r, undefined) });
    expect(JSON.stringify(card.blocks)).toContain('backout_break_glass');
    expect(JSON.stringify(card.blocks)).not.toContain('backout_approve');
    expect(validateBlocks(card.blocks ?? [])).toBeUndefined();
  });

  it('step replies, help and the progress bar are valid at any size', () => {
    expect(progressBar(3, 6)).toBe('▰▰▰▰▰▱▱▱▱▱ 3/6');
    expect(progressBar(9, 6)).toBe('▰▰▰▰▰▰▰▰▰▰ 6/6');
    const reply = stepReply({
      index: 1,
      total: 6,
      label: 'x'.repeat(500),
      event: 'failed',
      detail: 'y'.repeat(10_000),
    });
    expect(validateBlocks(reply.blocks ?? [])).toBeUndefined();
    const services = Array.from({ length: 300 }, (_, i) => ({
      name: `svc-${i}`,
      environments: ['production', 'staging'],
    }));
    const help = helpMessage({ command: '/rollback', usage: ['a'], examples: ['b'] }, services);
    expect(validateBlocks(help.blocks ?? [])).toBeUndefined();
  });

  it('a help lists a few services one per line, many by environment, and counts what does not fit instead of cutting it off', () => {
    const few = [
      { name: 'checkout-api', environments: ['production', 'staging'] },
      { name: 'payments', environments: ['production'] },
    ];
    const small = helpMessage({ command: '/rollback', usage: ['a'], examples: ['b'] }, few);
    expect(small.text).toContain(
      '*Services you may act on*\n• `checkout-api` (production, staging)\n• `payments` (production)',
    );

    const many = [
      { name: 'checkout-api', environments: ['production'] },
      ...Array.from({ length: 60 }, (_, i) => ({ name: `svc-${i + 1}`, environments: ['bench'] })),
    ];
    const grouped = helpMessage({ command: '/rollback', usage: ['a'], examples: ['b'] }, many);
    expect(grouped.text).toContain(
      '*Services you may act on* (61)\n• _production_: `checkout-api`\n• _bench_: `svc-1`, `svc-2`,',
    );
    expect(grouped.text).toContain('`svc-60`');
    expect(grouped.text).not.toContain('more service');
    expect(grouped.text).not.toContain('…');
    // Shown whole in the blocks too (Slack shows the blocks, the text is the fallback).
    expect(JSON.stringify(grouped.blocks)).toContain('`svc-60`');

    const lots = Array.from({ length: 400 }, (_, i) => ({
      name: `service-number-${i + 1}`,
      environments: ['bench'],
    }));
    const counted = helpMessage({ command: '/rollback', usage: ['a'], examples: ['b'] }, lots);
    const shown = (counted.text.match(/`service-number-\d+`/g) ?? []).length;
    expect(shown).toBeGreaterThan(50);
    expect(counted.text).toContain(`…and ${400 - shown} more services, not listed for want of room.`);
    expect(JSON.stringify(counted.blocks)).toContain(`…and ${400 - shown} more services`);
    expect(counted.text.length).toBeLessThan(3_900);
    expect(validateBlocks(counted.blocks ?? [])).toBeUndefined();
  });
});
