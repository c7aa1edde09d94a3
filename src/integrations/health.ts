import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HealthConfig, PrometheusConfig } from '../config/schema.js';
import { instantQuery, type Environ } from './prometheus/client.js';
import { judge, type Judgement } from './prometheus/result.js';

export interface HealthReading {
  name: string;
  kind: 'probe' | 'query';
  ok: boolean;
  /** The measured number: HTTP status for probes, the worst sample for queries. */
  value?: number;
  /**
   * What was read, as units that each pass or fail: a probe is one; a query counts each
   * series (its scalar, or 1 when it returned no data). Verification uses it to tell a
   * degraded service (some pass) from a failed one (none pass).
   */
  units: { total: number; passed: number };
  /** Plain words with the numbers: "error-rate 0.0021 (max 0.005)", "200 in 12 ms". Not escaped. */
  detail: string;
}

export interface HealthChecker {
  check(health: HealthConfig): Promise<HealthReading[]>;
}

/** A failing series is named at most this many at a time; the count says how many more. */
const NAMED_SERIES = 5;

/** HTTP probes and Prometheus instant queries, each bounded by its deadline. */
export class HttpHealthChecker implements HealthChecker {
  /** `environ`: where Prometheus secrets named in the config are read from (process.env in production). */
  constructor(private readonly environ: Environ) {}

  async check(health: HealthConfig): Promise<HealthReading[]> {
    const probes = health.probes.map((p) => this.probe(p.url, p.expectStatus, p.timeout));
    const prom = health.prometheus;
    const queries = prom ? prom.checks.map((c) => this.query(prom, c)) : [];
    return Promise.all([...probes, ...queries]);
  }

  private async probe(url: string, expect: number, timeoutMs: number): Promise<HealthReading> {
    const started = performance.now();
    try {
      const status = await probeStatus(url, timeoutMs);
      const ms = Math.round(performance.now() - started);
      const ok = status === expect;
      return {
        name: url,
        kind: 'probe',
        ok,
        value: status,
        units: { total: 1, passed: ok ? 1 : 0 },
        detail: `${url} answered ${status} in ${ms} ms (expected ${expect})`,
      };
    } catch (err) {
      return {
        name: url,
        kind: 'probe',
        ok: false,
        units: { total: 1, passed: 0 },
        detail: `${url} did not answer: ${describe(err, timeoutMs)}`,
      };
    }
  }

  private async query(
    prom: PrometheusConfig,
    check: { name: string; query: string; max?: number | undefined; min?: number | undefined },
  ): Promise<HealthReading> {
    const failed = (detail: string): HealthReading => ({
      name: check.name,
      kind: 'query',
      ok: false,
      units: { total: 1, passed: 0 },
      detail: `${check.name}: ${detail}`,
    });
    let answer;
    try {
      answer = await instantQuery(prom, check.query, this.environ);
    } catch (err) {
      return failed(`Prometheus did not answer: ${describe(err, prom.timeout)}`);
    }
    if (answer.status === 'error') {
      return failed(`Prometheus query failed: ${answer.error ?? answer.errorType ?? 'error'}`);
    }
    const j = judge(answer.data, check);
    const bounds = boundsText(check);
    if (j.problem) return failed(j.problem);
    return {
      name: check.name,
      kind: 'query',
      ok: j.ok,
      ...(j.worst !== undefined ? { value: j.worst } : {}),
      units: { total: j.total, passed: j.passed },
      detail: describeJudgement(check.name, j, bounds),
    };
  }
}

/**
 * The status a probe URL answers a GET with, within the deadline (connecting and waiting for the
 * headers; the body is discarded). A redirect is a status like any other, not followed.
 * node:http rather than fetch: fetch's client costs about 15 MB resident once loaded.
 */
function probeStatus(url: string, timeoutMs: number): Promise<number> {
  const signal = AbortSignal.timeout(timeoutMs);
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'GET', signal }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => reject(signal.aborted ? (signal.reason as Error) : err));
    req.end();
  });
}

function boundsText(check: { max?: number | undefined; min?: number | undefined }): string {
  const parts = [
    check.max !== undefined ? `max ${check.max}` : '',
    check.min !== undefined ? `min ${check.min}` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'no bound';
}

/**
 * "error-rate 0.001 (max 0.005)" for one value; "error-rate: 2 series, all within max 0.005
 * (highest 0.003)"; "error-rate: 1 of 2 series outside max 0.005: {pod="b"} 0.5".
 */
function describeJudgement(name: string, j: Judgement, bounds: string): string {
  if (j.total === 1) {
    const only = j.failing[0];
    const value = only ? only.value : j.worst!;
    const why = only && Number.isNaN(only.value) ? ', not a number: 0/0, no traffic?' : '';
    const series = only && only.series !== 'scalar' && only.series !== '{}' ? ` ${only.series}` : '';
    return `${name}${series} ${formatNumber(value)} (${bounds}${why})`;
  }
  if (j.ok) {
    return `${name}: ${j.total} series, all within ${bounds} (worst ${formatNumber(j.worst!)})`;
  }
  const named = j.failing
    .slice(0, NAMED_SERIES)
    .map((f) => `${f.series} ${formatNumber(f.value)}`)
    .join('; ');
  const more = j.failing.length > NAMED_SERIES ? `; and ${j.failing.length - NAMED_SERIES} more` : '';
  return `${name}: ${j.failing.length} of ${j.total} series outside ${bounds}: ${named}${more}`;
}

export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (n !== 0 && Math.abs(n) < 0.001) return String(Number(n.toPrecision(2)));
  return String(Math.round(n * 10_000) / 10_000);
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof Error)
    return err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : err.message;
  return String(err);
}
