import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatStartupProblems, readStartupSettings } from '../../src/cli/startup-problems.js';
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
    expect(text).toMatch(/servics: unknown key \(did you mean "services"\?\) \(line 3\)/);
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

  it('booleans are strict: 1/true/yes/on and 0/false/no/off; anything else stops start-up naming the variable', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    for (const v of ['1', 'true', 'yes', 'on', 'TRUE', ' On ']) {
      const r = parseEnv({ ...base, DRY_RUN: v });
      expect(r.ok && r.env.DRY_RUN, v).toBe(true);
    }
    for (const v of ['0', 'false', 'no', 'off', 'OFF']) {
      const r = parseEnv({ ...base, DRY_RUN: v });
      expect(r.ok && r.env.DRY_RUN === false, v).toBe(true);
    }
    const unset = parseEnv(base);
    expect(unset.ok && unset.env.DRY_RUN === false).toBe(true);
    for (const v of ['y', 'n', 'enabled', '2', 'truee']) {
      const r = parseEnv({ ...base, DRY_RUN: v });
      expect(r.ok, v).toBe(false);
      if (!r.ok) {
        expect(r.problems).toEqual([
          `DRY_RUN must be 1, true, yes or on, or 0, false, no or off (got ${JSON.stringify(v)})`,
        ]);
      }
    }
  });

  it('a port says what it got', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    for (const v of ['eighty', '70000', '3000.5', '-1']) {
      const r = parseEnv({ ...base, PORT: v, METRICS_PORT: v });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.problems).toEqual([
          `PORT must be a port number (got ${JSON.stringify(v)})`,
          `METRICS_PORT must be a port number (got ${JSON.stringify(v)})`,
        ]);
      }
    }
    const ok = parseEnv({ ...base, PORT: '8080', METRICS_PORT: '9464' });
    expect(ok.ok && [ok.env.PORT, ok.env.METRICS_PORT]).toEqual([8080, 9464]);
    const dflt = parseEnv(base);
    expect(dflt.ok && [dflt.env.PORT, dflt.env.METRICS_PORT]).toEqual([3000, undefined]);
  });

  it('the job lock is a duration from 2s to 5m, 10s when unset', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    const dflt = parseEnv(base);
    expect(dflt.ok && dflt.env.BACKOUT_JOB_LOCK).toBe(10_000);
    const set = parseEnv({ ...base, BACKOUT_JOB_LOCK: '5s' });
    expect(set.ok && set.env.BACKOUT_JOB_LOCK).toBe(5_000);
    for (const v of ['1s', '10m', 'soon', '0']) {
      const r = parseEnv({ ...base, BACKOUT_JOB_LOCK: v });
      expect(r.ok, v).toBe(false);
      if (!r.ok)
        expect(r.problems.join('\n'), v).toContain('BACKOUT_JOB_LOCK must be a duration from 2s to 5m');
    }
  });
});

describe('config messages', () => {
  const BROKEN = `slack:
  incidentChannel: general
sevrices:
  x: 1
policy:
  approval: sometimes
services:
  checkout-api:
    github: { repo: nope }
    environments:
      production:
        kubernetes: { context: prod }
        health:
          probes: oops
`;

  it("come in the order of the file, each on its own line, in backout's words", () => {
    const result = parseConfigText(BROKEN);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const lines = result.problems.map((p) => Number(/\(line (\d+)\)$/.exec(p)?.[1]));
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(result.problems).toContain('sevrices: unknown key (did you mean "services"?) (line 3)');
    expect(result.problems).toContain(
      'slack.incidentChannel: expected a Slack channel id such as C0123ABCD (line 2)',
    );
    expect(result.problems).toContain('policy.approval: expected one of "required", "not-required" (line 6)');
    expect(result.problems).toContain('services.checkout-api.github.repo: expected owner/name (line 9)');
    expect(result.problems).toContain(
      'services.checkout-api.environments.production.kubernetes.namespace: required (text) (line 12)',
    );
    expect(result.problems).toContain(
      'services.checkout-api.environments.production.health.probes: expected a list, got text "oops" (line 14)',
    );
    const text = result.problems.join('\n');
    expect(text).not.toMatch(/expected (record|object|array|string)\b|Too (small|big)|Invalid input/);
  });

  it('a typo in a top-level key is reported on its own line, not on the line of its value', () => {
    const result = parseConfigText(
      'services:\n  a:\n    environments:\n      p: { kubernetes: { context: c, namespace: n, deployment: d } }\nfreezez:\n  - name: x\n',
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems).toEqual(['freezez: unknown key (did you mean "freezes"?) (line 5)']);
  });

  it('start-up lists the environment, the file and the settings that span both in one message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'backout-config-'));
    try {
      await writeFile(join(dir, 'backout.yml'), BROKEN);
      const result = await readStartupSettings({
        BACKOUT_CONFIG: join(dir, 'backout.yml'),
        DRY_RUN: 'y',
        PORT: 'http',
        KUBECONFIG: join(dir, 'missing-kubeconfig'),
      });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      const message = formatStartupProblems(result.problems);
      for (const expected of [
        'SLACK_BOT_TOKEN is missing',
        'PORT must be a port number (got "http")',
        'DRY_RUN must be 1, true, yes or on',
        'GITHUB_TOKEN is missing: service checkout-api names a GitHub repo',
        `KUBECONFIG names ${join(dir, 'missing-kubeconfig')}, which does not exist`,
        `${join(dir, 'backout.yml')}: sevrices: unknown key`,
      ]) {
        expect(message).toContain(expected);
      }
      expect(message).toContain('README.md ("Environment")');
      expect(message).toContain('README.md ("Configuration file")');

      const missing = await readStartupSettings({
        BACKOUT_CONFIG: './nowhere.yml',
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_SIGNING_SECRET: 's',
      });
      expect(missing.ok).toBe(false);
      if (!missing.ok) {
        expect(missing.problems).toEqual([
          './nowhere.yml: no such file. Set BACKOUT_CONFIG to your config file, or write one with `backout init` (backout.example.yml shows every key).',
        ]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
