import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/record.js';
import { runCliCommand } from '../../src/cli/run.js';
import { RequestStore } from '../../src/requests/store.js';
import type { RequestSpec } from '../../src/requests/types.js';
import { auditKit, type AuditKit } from '../audit/kit.js';
import { captureIo } from './kit.js';

const ID = 'rb-alert001';
const OTHER = 'rb-other002';
const GROUP = 'rg-group003';
const MEMBER = 'rb-member04';

function spec(id: string, channel: string): RequestSpec {
  return {
    id,
    kind: 'rollback',
    service: 'checkout-api',
    environment: 'production',
    target: 'checkout-api/production',
    mutating: true,
    requester: 'Alertmanager',
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    plan: {},
    planHash: 'a'.repeat(64),
    title: 'Roll back checkout-api in production from revision 3 to revision 2',
    approval: { required: true, reasons: [], approvers: { users: [], usergroups: [] }, twoPerson: true },
    slack: { channel },
    dryRun: false,
  };
}

describe('backout timeline', () => {
  let kit: AuditKit;
  const firedAt = new Date(Date.now() - 90_000).toISOString();

  beforeAll(async () => {
    kit = await auditKit();
    const store = new RequestStore(kit.redis, kit.prefix);
    await store.create(spec(ID, 'C0CHECKOUT'));
    await store.create(spec(OTHER, 'C0RANDOM'));
    const base = { requestId: ID, service: 'checkout-api', environment: 'production' };
    const events: AuditEvent[] = [
      {
        type: 'alert.received',
        ...base,
        actor: 'alertmanager',
        details: { rule: 'checkout-errors', alertname: 'HighErrorRate', startsAt: firedAt, value: '0.12' },
      },
      { type: 'request.created', ...base, actor: 'Alertmanager', details: { title: spec(ID, '').title } },
      { type: 'request.created', requestId: OTHER, service: 'payments', details: { title: 'Other' } },
      { type: 'request.approved', ...base, approver: 'U0SRE1' },
      { type: 'step.finished', ...base, details: { step: 'apply', durationMs: 1200 } },
      { type: 'step.finished', ...base, details: { step: 'wait', durationMs: 4000 } },
      { type: 'step.finished', ...base, details: { step: 'verify', durationMs: 120_000 } },
      { type: 'job.succeeded', ...base, outcome: 'healthy' },
      {
        type: 'request.created',
        requestId: GROUP,
        service: 'storefront',
        details: { title: 'Roll back group' },
      },
      { type: 'request.approved', requestId: GROUP, service: 'storefront', approver: 'U0SRE2' },
      {
        type: 'request.created',
        requestId: MEMBER,
        service: 'cart-api',
        details: { title: 'Roll back cart-api', parentId: GROUP },
      },
      {
        type: 'step.finished',
        requestId: MEMBER,
        service: 'cart-api',
        details: { step: 'wait', durationMs: 900 },
      },
      { type: 'job.succeeded', requestId: GROUP, service: 'storefront', outcome: 'all members rolled back' },
    ];
    for (const e of events) await kit.audit.append(e);
  });
  afterAll(async () => {
    await kit.close();
  });

  it('prints one request’s timeline as Markdown, in time order, with the stages', async () => {
    const cap = captureIo(kit.env);
    expect(await runCliCommand(['timeline', ID], cap.io)).toBe(0);
    const md = cap.stdout();
    const lines = [
      'Alert HighErrorRate fired (value 0.12)',
      'Alert HighErrorRate received from alertmanager (rule checkout-errors)',
      'Proposal posted: Roll back checkout-api',
      'Approved by U0SRE1',
      'Step apply done in 1s',
      'Step wait done in 4s',
      'Step verify done in 2m',
      'Finished: healthy',
    ].map((l) => md.indexOf(l));
    expect(lines.every((i) => i > 0)).toBe(true);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
    expect(md).not.toContain('Other');
    expect(md).toMatch(/alert → proposal: 1m (29|30|3\d)s/);
    expect(md).toContain('proposal → approval:');
    expect(md).toContain('applied → verified:');
  });

  it('prints JSON with the stage seconds, and finds the incident by its channel', async () => {
    const cap = captureIo(kit.env);
    expect(
      await runCliCommand(
        ['timeline', '--channel', 'C0CHECKOUT', '--since', '1h', '--format', 'json'],
        cap.io,
      ),
    ).toBe(0);
    const t = JSON.parse(cap.stdout()) as {
      requestIds: string[];
      stages: Record<string, number>;
      entries: { what: string; at: string }[];
    };
    expect(t.requestIds).toEqual([ID]);
    expect(t.stages.alert_to_proposal).toBeGreaterThanOrEqual(89);
    expect(t.stages.alert_to_proposal).toBeLessThan(150);
    expect(Object.keys(t.stages).sort()).toEqual([
      'alert_to_proposal',
      'applied_to_verified',
      'approval_to_applied',
      'proposal_to_approval',
    ]);
    expect(t.entries[0]?.at).toBe(firedAt.replace(/\.\d{3}Z$/, (m) => m));
  });

  it('a group’s timeline covers the requests it filed, each entry naming its request', async () => {
    const cap = captureIo(kit.env);
    expect(await runCliCommand(['timeline', GROUP], cap.io)).toBe(0);
    const md = cap.stdout();
    expect(md).toContain(`# Timeline of ${GROUP}, ${MEMBER}`);
    expect(md).toContain(`${GROUP}: Approved by U0SRE2`);
    expect(md).toContain(`${MEMBER}: Step wait done in 900ms`);
    expect(md).not.toContain(ID);
    expect(md).toContain('approval → applied:');
  });

  it.each([
    [['timeline'], /give a request id/],
    [['timeline', 'nope'], /is not a request id/],
    [['timeline', ID, '--channel', 'C0CHECKOUT'], /not both/],
    [['timeline', '--channel', '#general'], /Slack channel id/],
    [['timeline', ID, '--format', 'pdf'], /--format must be md or json/],
  ])('refuses %j with a clear message', async (argv, message) => {
    const cap = captureIo(kit.env);
    expect(await runCliCommand(argv, cap.io)).not.toBe(0);
    expect(cap.stderr()).toMatch(message);
  });

  it('says so when there is nothing recorded for the request', async () => {
    const cap = captureIo(kit.env);
    expect(await runCliCommand(['timeline', 'rb-nothin00'], cap.io)).toBe(1);
    expect(cap.stderr()).toMatch(/no audit records for rb-nothin00/);
  });
});
