import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { parseConfigText } from '../../src/config/load.js';
import { mergePolicy, DEFAULT_POLICY } from '../../src/config/model.js';
import { prometheusSecretProblems } from '../../src/integrations/prometheus/secrets-check.js';

const VALID = `
slack: { incidentChannel: C0INCIDENT }
policy:
  approvers: { users: [U0SRE1], usergroups: [S0ONCALL] }
  approvalTtl: 15m
services:
  checkout-api:
    github: { repo: acme/checkout }
    policy: { twoPerson: true, approvalTtl: 30m }
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        policy: { approvers: { users: [U0SRE2] } }
      staging:
        kubernetes: { context: staging, namespace: shop, deployment: checkout-api }
        policy: { approval: not-required }
`;

describe('config file', () => {
  it('resolves policy nearest-wins, field by field', () => {
    const result = parseConfigText(VALID);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const svc = result.config.services.get('checkout-api')!;
    const prod = svc.environments.get('production')!;
    const staging = svc.environments.get('staging')!;
    expect(prod.policy.approvers).toEqual({ users: ['U0SRE2'], usergroups: [] });
    expect(prod.policy.approvalTtlMs).toBe(30 * 60_000);
    expect(prod.policy.approval).toBe('required');
    expect(staging.policy.approval).toBe('not-required');
    expect(staging.policy.approvers).toEqual({ users: ['U0SRE1'], usergroups: ['S0ONCALL'] });
    expect(result.config.knownChannels.has('C0INCIDENT')).toBe(true);
  });

  it('lists every problem with its path in the file, at once', () => {
    const result = parseConfigText(`
slack: { incidentChannel: general }
servics: {}
services:
  checkout-api:
    environments:
      production:
        default: true
        health: { stabilityWindow: soon }
      staging:
        default: true
        kubernetes: { context: s, namespace: shop }
        canary: { provider: linkerd }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join('\n');
    expect(text).toContain('services.checkout-api.environments.production.kubernetes: required');
    expect(text).toContain('slack.incidentChannel: expected a Slack channel id');
    expect(text).toMatch(/unknown key "servics" \(did you mean "services"\?\)/);
    expect(text).toContain(
      'services.checkout-api.environments.production.health.stabilityWindow: expected a duration',
    );
    expect(text).toContain('services.checkout-api.environments.staging.kubernetes.deployment: required');
    expect(text).toMatch(
      /services\.checkout-api\.environments\.staging\.canary\.provider: expected one of "argo-rollouts", "nginx-ingress", "gateway-api"/,
    );
    expect(text).toMatch(/only one environment may be the default/);
    expect(result.problems.every((p) => /\(line \d+\)$/.test(p))).toBe(true);
  });

  it('Prometheus credentials never sit in the file: a user:password URL, a header named Authorization and two kinds of auth are refused', () => {
    const result = parseConfigText(`
services:
  checkout-api:
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        health:
          prometheus:
            url: https://backout:hunter2@prometheus.example:9090
            tokenEnv: PROM_TOKEN
            basicAuth: { username: backout }
            headers: { Authorization: "Bearer abc" }
            caFile: /etc/ca.pem
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join('\n');
    const at = 'services.checkout-api.environments.production.health.prometheus';
    expect(text).toContain(`${at}.url: must not carry credentials (user:password@)`);
    expect(text).toContain('use basicAuth with passwordEnv or passwordFile');
    expect(text).toContain(`${at}.basicAuth: give exactly one of passwordEnv or passwordFile`);
    expect(text).toContain(`${at}.headers: set Authorization through tokenEnv, tokenFile or basicAuth`);
    expect(text).not.toContain('hunter2');
  });

  it('Prometheus auth settings that name variables and files are accepted', () => {
    const result = parseConfigText(`
services:
  checkout-api:
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        health:
          prometheus:
            url: https://prometheus.example:9090
            basicAuth: { username: backout, passwordEnv: PROM_PASSWORD }
            headers: { X-Scope-OrgID: tenant-a, X-Extra: { file: /run/secrets/extra } }
            caFile: /etc/ca.pem
            timeout: 5s
            checks: [{ name: up, query: up, min: 1 }]
`);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const prom = result.config.services.get('checkout-api')!.environments.get('production')!.health!
      .prometheus!;
    expect(prom.timeout).toBe(5_000);
    expect(prom.headers).toEqual({ 'X-Scope-OrgID': 'tenant-a', 'X-Extra': { file: '/run/secrets/extra' } });
  });

  it('start-up names a Prometheus secret variable that is not set and a secret file that does not exist', () => {
    const result = parseConfigText(`
services:
  checkout-api:
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        health:
          prometheus:
            url: https://prometheus.example:9090
            tokenEnv: CHECKOUT_PROM_TOKEN
            headers: { X-Scope-OrgID: { env: TENANT } }
            caFile: /nonexistent/ca.pem
`);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const at = 'services.checkout-api.environments.production.health.prometheus';
    expect(prometheusSecretProblems(result.config, { TENANT: 'shop' })).toEqual([
      `${at}.tokenEnv names CHECKOUT_PROM_TOKEN, which is not set`,
      `${at}.caFile names /nonexistent/ca.pem, which does not exist`,
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    const result = parseConfigText('services:\n  a: [1, 2\n', 'backout.yml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatch(/^backout\.yml:\d+:\d+: YAML syntax error/);
  });

  it('mergePolicy keeps the defaults where no block speaks', () => {
    expect(mergePolicy(DEFAULT_POLICY)).toEqual(DEFAULT_POLICY);
  });
});

describe('environment', () => {
  it('lists every missing or invalid setting at once', () => {
    const result = parseEnv({ PORT: 'eighty', BACKOUT_ROLE: 'both', REDIS_URL: 'localhost' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join('\n');
    expect(text).toMatch(/SLACK_BOT_TOKEN is missing/);
    expect(text).toMatch(/SLACK_SIGNING_SECRET is missing/);
    expect(text).toMatch(/PORT must be a port number/);
    expect(text).toMatch(/BACKOUT_ROLE must be all, web or worker/);
    expect(text).toMatch(/REDIS_URL must be a redis:\/\//);
  });

  it('Socket Mode needs no signing secret', () => {
    const result = parseEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(result.ok).toBe(true);
  });

  it('DRY_RUN accepts the usual truthy spellings', () => {
    for (const v of ['1', 'true', 'yes', 'TRUE']) {
      const r = parseEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DRY_RUN: v });
      expect(r.ok && r.env.DRY_RUN).toBe(true);
    }
    const off = parseEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DRY_RUN: '0' });
    expect(off.ok && off.env.DRY_RUN).toBe(false);
  });
});
