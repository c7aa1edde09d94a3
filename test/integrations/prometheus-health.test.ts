import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthSchema } from '../../src/config/schema.js';
import { HttpHealthChecker, type HealthReading } from '../../src/integrations/health.js';
import { BlackHole } from '../kit/black-hole.js';
import { waitFor } from '../kit/wait.js';
import { AuthProxy, Exporter, PrometheusServer, selfSignedCert } from '../kit/prometheus-server.js';

/** Health checks against a real Prometheus scraping an exporter whose values the test sets. */
describe('health checks read every series of a real Prometheus', () => {
  let exporter: Exporter;
  let prometheus: PrometheusServer;
  let dir: string;

  beforeAll(async () => {
    exporter = await Exporter.start();
    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.001);
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.5);
    exporter.set('checkout_ok_ratio', { pod: 'a' }, 0.001);
    exporter.set('checkout_ok_ratio', { pod: 'b' }, 0.002);
    exporter.set('checkout_weird', { kind: 'nan' }, Number.NaN);
    exporter.set('checkout_weird', { kind: 'inf' }, Infinity);
    exporter.set('checkout_weird', { kind: 'neginf' }, -Infinity);
    prometheus = await PrometheusServer.start([exporter.target]);
    await prometheus.waitFor('checkout_error_ratio', 'pod', { a: '0.001', b: '0.5' });
    dir = await mkdtemp(join(tmpdir(), 'backout-prom-auth-'));
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    await exporter?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const check = async (
    query: string,
    bounds: { max?: number; min?: number },
    prom: Record<string, unknown> = {},
    environ: Record<string, string> = {},
  ): Promise<HealthReading> => {
    const health = healthSchema.parse({
      prometheus: { url: prometheus.url, timeout: '3s', ...prom, checks: [{ name: 'c', query, ...bounds }] },
    });
    const [reading] = await new HttpHealthChecker(environ).check(health);
    return reading!;
  };

  it('a vector passes only when every sample passes, and the failing series is named with its value', async () => {
    const failing = await check('checkout_error_ratio', { max: 0.05 });
    expect(failing.ok).toBe(false);
    expect(failing.units).toEqual({ total: 2, passed: 1 });
    expect(failing.detail).toMatch(
      /^c: 1 of 2 series outside max 0\.05: checkout_error_ratio\{.*pod="b"\} 0\.5$/,
    );
    expect(failing.detail).not.toContain('pod="a"');

    const passing = await check('checkout_ok_ratio', { max: 0.05 });
    expect(passing).toMatchObject({ ok: true, units: { total: 2, passed: 2 }, value: 0.002 });
    expect(passing.detail).toBe('c: 2 series, all within max 0.05 (worst 0.002)');
  });

  it('a scalar is its one value; a matrix is judged by the last value of each series', async () => {
    expect(await check('scalar(sum(checkout_ok_ratio))', { max: 0.05 })).toMatchObject({
      ok: true,
      detail: 'c 0.003 (max 0.05)',
    });
    const matrix = await check('checkout_error_ratio[10s]', { max: 0.05 });
    expect(matrix).toMatchObject({ ok: false, units: { total: 2, passed: 1 } });
    expect(matrix.detail).toContain('pod="b"} 0.5');
  });

  it('NaN fails whatever the bounds; +Inf fails a max and passes a min; -Inf the other way round', async () => {
    const nan = await check('checkout_weird{kind="nan"}', { max: 1 });
    expect(nan).toMatchObject({ ok: false });
    expect(nan.detail).toContain('NaN (max 1, not a number: 0/0, no traffic?)');
    expect(await check('checkout_weird{kind="inf"}', { max: 1 })).toMatchObject({ ok: false });
    expect((await check('checkout_weird{kind="inf"}', { max: 1 })).detail).toContain('+Inf');
    expect(await check('checkout_weird{kind="inf"}', { min: 1 })).toMatchObject({ ok: true });
    expect(await check('checkout_weird{kind="neginf"}', { max: 1 })).toMatchObject({ ok: true });
    expect(await check('checkout_weird{kind="neginf"}', { min: 1 })).toMatchObject({ ok: false });
  });

  it('an empty result is no data and fails, saying how to make "nothing" count as 0; a string fails too', async () => {
    const empty = await check('checkout_missing_series', { max: 1 });
    expect(empty).toMatchObject({ ok: false, units: { total: 1, passed: 0 } });
    expect(empty.detail).toContain('no data');
    expect(empty.detail).toContain('or vector(0)');
    expect(await check('checkout_missing_series or vector(0)', { max: 1 })).toMatchObject({ ok: true });
    expect((await check('"abc"', { max: 1 })).detail).toContain('a string, not a number');
    const bad = await check('sum(', { max: 1 });
    expect(bad.ok).toBe(false);
    expect(bad.detail).toContain('Prometheus query failed');
  });

  describe('behind a proxy that checks credentials', () => {
    it('sends PROMETHEUS_TOKEN, or the variable tokenEnv names, and the tenant header; a wrong token is refused clearly', async () => {
      const proxy = await AuthProxy.start(prometheus.url, {
        authorization: 'Bearer s3cret-token',
        headers: { 'X-Scope-OrgID': 'tenant-a' },
      });
      try {
        const viaProxy = (prom: Record<string, unknown>, environ: Record<string, string>) =>
          check('checkout_ok_ratio', { max: 0.05 }, { url: proxy.url, ...prom }, environ);
        const headers = { headers: { 'X-Scope-OrgID': 'tenant-a' } };
        expect(await viaProxy(headers, { PROMETHEUS_TOKEN: 's3cret-token' })).toMatchObject({ ok: true });
        expect(
          await viaProxy(
            { ...headers, tokenEnv: 'CHECKOUT_PROM_TOKEN' },
            { CHECKOUT_PROM_TOKEN: 's3cret-token' },
          ),
        ).toMatchObject({ ok: true });

        const wrong = await viaProxy(headers, { PROMETHEUS_TOKEN: 'wrong' });
        expect(wrong.ok).toBe(false);
        expect(wrong.detail).toContain('Prometheus refused the credentials (HTTP 401)');
        const unset = await viaProxy({ ...headers, tokenEnv: 'CHECKOUT_PROM_TOKEN' }, {});
        expect(unset.detail).toContain(
          'the bearer token is to come from CHECKOUT_PROM_TOKEN, which is not set',
        );
        expect(proxy.seen.filter((s) => s.allowed)).toHaveLength(2);
      } finally {
        await proxy.stop();
      }
    });

    it('basic auth with the password from a file, and a tenant header from a variable', async () => {
      const proxy = await AuthProxy.start(prometheus.url, {
        authorization: `Basic ${Buffer.from('backout:pa55:word').toString('base64')}`,
        headers: { 'X-Scope-OrgID': 'tenant-b' },
      });
      try {
        const passwordFile = join(dir, 'password');
        await writeFile(passwordFile, 'pa55:word\n');
        const reading = await check(
          'checkout_ok_ratio',
          { max: 0.05 },
          {
            url: proxy.url,
            basicAuth: { username: 'backout', passwordFile },
            headers: { 'X-Scope-OrgID': { env: 'TENANT' } },
          },
          { TENANT: 'tenant-b', PROMETHEUS_TOKEN: 'not-sent-when-basic-auth-is-set' },
        );
        expect(reading).toMatchObject({ ok: true });
        expect(proxy.seen.every((s) => s.allowed)).toBe(true);
      } finally {
        await proxy.stop();
      }
    });

    it('over https with a CA bundle and a token file; without the CA the failure says so', async () => {
      const tls = await selfSignedCert(dir);
      const proxy = await AuthProxy.start(prometheus.url, { authorization: 'Bearer from-file' }, tls);
      try {
        const tokenFile = join(dir, 'token');
        await writeFile(tokenFile, 'from-file\n');
        const prom = { url: proxy.url, tokenFile };
        expect(
          await check('checkout_ok_ratio', { max: 0.05 }, { ...prom, caFile: tls.certFile }),
        ).toMatchObject({
          ok: true,
        });
        const untrusted = await check('checkout_ok_ratio', { max: 0.05 }, prom);
        expect(untrusted.ok).toBe(false);
        expect(untrusted.detail).toMatch(/Prometheus did not answer: .*(self[- ]signed|certificate)/i);
      } finally {
        await proxy.stop();
      }
    });
  });

  it('a Prometheus that accepts the connection and never answers fails the check at its deadline', async () => {
    const hole = await BlackHole.start();
    try {
      const port = hole.port;
      const started = Date.now();
      const reading = await check('up', { min: 1 }, { url: `http://127.0.0.1:${port}`, timeout: '300ms' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(reading).toMatchObject({ ok: false });
      expect(reading.detail).toContain('no answer within 300 ms');
      // The socket is closed at the deadline, not left hanging.
      await waitFor(() => hole.open === 0, { timeoutMs: 2_000, what: 'the hung connection to be closed' });
    } finally {
      await hole.stop();
    }
  });
});
