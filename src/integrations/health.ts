import type { HealthConfig } from '../config/schema.js';

export interface HealthReading {
  name: string;
  kind: 'probe' | 'query';
  ok: boolean;
  /** The measured number: HTTP status for probes, the sample for queries. */
  value?: number;
  /** Plain words with the numbers: "error-rate 0.0021 (max 0.005)", "200 in 12 ms". */
  detail: string;
}

export interface HealthChecker {
  check(health: HealthConfig): Promise<HealthReading[]>;
}

/** HTTP probes and Prometheus instant queries, each bounded by a timeout. */
export class HttpHealthChecker implements HealthChecker {
  constructor(private readonly queryTimeoutMs = 10_000) {}

  async check(health: HealthConfig): Promise<HealthReading[]> {
    const probes = health.probes.map((p) => this.probe(p.url, p.expectStatus, p.timeout));
    const queries = (health.prometheus?.checks ?? []).map((c) => this.query(health.prometheus!.url, c));
    return Promise.all([...probes, ...queries]);
  }

  private async probe(url: string, expect: number, timeoutMs: number): Promise<HealthReading> {
    const started = performance.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.body?.cancel();
      const ms = Math.round(performance.now() - started);
      return {
        name: url,
        kind: 'probe',
        ok: res.status === expect,
        value: res.status,
        detail: `${url} answered ${res.status} in ${ms} ms (expected ${expect})`,
      };
    } catch (err) {
      return { name: url, kind: 'probe', ok: false, detail: `${url} did not answer: ${describe(err)}` };
    }
  }

  private async query(
    base: string,
    check: { name: string; query: string; max?: number | undefined; min?: number | undefined },
  ): Promise<HealthReading> {
    const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
    url.searchParams.set('query', check.query);
    const bounds = [
      check.max !== undefined ? `max ${check.max}` : '',
      check.min !== undefined ? `min ${check.min}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.queryTimeoutMs) });
      const body = (await res.json()) as PromResponse;
      if (body.status !== 'success') {
        return {
          name: check.name,
          kind: 'query',
          ok: false,
          detail: `${check.name}: Prometheus query failed: ${body.error ?? res.status}`,
        };
      }
      const sample = firstSample(body);
      if (sample === undefined) {
        return {
          name: check.name,
          kind: 'query',
          ok: false,
          detail: `${check.name}: no data (the query returned no samples; is the service receiving traffic?)`,
        };
      }
      const ok =
        !Number.isNaN(sample) &&
        (check.max === undefined || sample <= check.max) &&
        (check.min === undefined || sample >= check.min);
      return {
        name: check.name,
        kind: 'query',
        ok,
        value: sample,
        detail: `${check.name} ${formatNumber(sample)} (${bounds || 'no bound'})`,
      };
    } catch (err) {
      return {
        name: check.name,
        kind: 'query',
        ok: false,
        detail: `${check.name}: Prometheus did not answer: ${describe(err)}`,
      };
    }
  }
}

interface PromResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: unknown };
}

function firstSample(body: PromResponse): number | undefined {
  const data = body.data;
  if (!data) return undefined;
  if (data.resultType === 'scalar' && Array.isArray(data.result)) return Number(data.result[1]);
  if (data.resultType === 'vector' && Array.isArray(data.result) && data.result.length > 0) {
    const first = data.result[0] as { value?: [number, string] };
    return first.value ? Number(first.value[1]) : undefined;
  }
  return undefined;
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n !== 0 && Math.abs(n) < 0.001) return String(Number(n.toPrecision(2)));
  return String(Math.round(n * 10_000) / 10_000);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.name === 'TimeoutError' ? 'timed out' : err.message;
  return String(err);
}
