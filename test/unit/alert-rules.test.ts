import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { alertmanagerPayload } from '../../src/hooks/alertmanager.js';
import { bearerMatches, hmacSignature } from '../../src/hooks/auth.js';
import { matchRule } from '../../src/incidents/rules.js';

const BASE = `
slack: { incidentChannel: C0INCIDENT }
services:
  checkout-api:
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
      staging:
        kubernetes: { context: staging, namespace: shop, deployment: checkout-api }
`;

function config(rules: string) {
  const result = parseConfigText(`${BASE}\nalerts:\n  rules:\n${rules}`);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

describe('alert rules', () => {
  const cfg = config(`
    - { name: pages, match: { alertname: HighErrorRate }, matchRe: { severity: "critical|page" } }
    - { name: latency, match: { alertname: SlowCheckout }, service: checkout-api, environment: staging }
`);

  it.each([
    [{ alertname: 'HighErrorRate', severity: 'page', service: 'checkout-api' }, 'pages', 'production'],
    [
      { alertname: 'HighErrorRate', severity: 'critical', service: 'checkout-api', environment: 'staging' },
      'pages',
      'staging',
    ],
    [{ alertname: 'SlowCheckout' }, 'latency', 'staging'],
  ])('labels %j match rule %s in %s', (labels, rule, env) => {
    const m = matchRule(cfg, labels);
    expect(m.kind).toBe('matched');
    if (m.kind !== 'matched') return;
    expect(m.rule.name).toBe(rule);
    expect(m.environment.name).toBe(env);
  });

  it('a regex matcher must match the whole value, as in Alertmanager', () => {
    expect(
      matchRule(cfg, { alertname: 'HighErrorRate', severity: 'critical-ish', service: 'checkout-api' }).kind,
    ).toBe('none');
  });

  it('says why when the labels name no known service or environment', () => {
    const m = matchRule(cfg, { alertname: 'HighErrorRate', severity: 'page', service: 'nope' });
    expect(m).toMatchObject({ kind: 'unresolved', why: 'no service called nope is configured' });
    const e = matchRule(cfg, {
      alertname: 'HighErrorRate',
      severity: 'page',
      service: 'checkout-api',
      environment: 'qa',
    });
    expect(e).toMatchObject({ kind: 'unresolved', why: 'checkout-api has no environment called qa' });
  });

  it('refuses a rule naming an unknown service, or a bad regex, at config load with the path', () => {
    const bad = parseConfigText(
      `${BASE}\nalerts:\n  rules:\n    - { name: x, service: nope, matchRe: { a: "(" } }\n`,
    );
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const text = bad.problems.join('\n');
    expect(text).toMatch(/alerts\.rules\.0\.service.*no service called nope/);
    expect(text).toMatch(/alerts\.rules\.0\.matchRe\.a.*regular expression/);
  });

  it('refuses propose: canary-abort for a named service with no canary anywhere', () => {
    const bad = parseConfigText(
      `${BASE}\nalerts:\n  rules:\n    - { name: x, service: checkout-api, propose: canary-abort }\n`,
    );
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.problems.join('\n')).toMatch(
      /alerts\.rules\.0\.propose.*canary-abort needs a service with a canary: block; checkout-api has none/,
    );
  });
});

describe('hook authentication', () => {
  it('accepts only the exact bearer token', () => {
    expect(bearerMatches('Bearer s3cret-token-0123456', 's3cret-token-0123456')).toBe(true);
    expect(bearerMatches('bearer s3cret-token-0123456', 's3cret-token-0123456')).toBe(true);
    for (const h of [
      undefined,
      '',
      'Bearer',
      'Bearer s3cret',
      'Basic s3cret-token-0123456',
      'Bearer s3cret-token-0123456 x',
    ])
      expect(bearerMatches(h, 's3cret-token-0123456')).toBe(false);
  });

  it('signs the timestamp and the body together', () => {
    const a = hmacSignature('k', '100', '{"a":1}');
    expect(a).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(hmacSignature('k', '101', '{"a":1}')).not.toBe(a);
    expect(hmacSignature('k', '100', '{"a":2}')).not.toBe(a);
  });

  it('reads Alertmanager’s zero endsAt as no end', () => {
    const p = alertmanagerPayload.parse({
      version: '4',
      groupKey: 'g',
      status: 'firing',
      receiver: 'r',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: '',
      alerts: [
        {
          status: 'firing',
          labels: {},
          annotations: {},
          startsAt: '2026-12-06T03:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
        },
      ],
    });
    expect(p.alerts[0]?.endsAt).toBeUndefined();
    expect(p.alerts[0]?.startsAt).toBe(Date.parse('2026-12-06T03:00:00Z'));
  });
});
