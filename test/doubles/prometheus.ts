/**
 * PrometheusDouble: a real HTTP server answering Prometheus' instant-query API (`/api/v1/query`, GET or
 * form POST) with scripted values, in Prometheus' response and error shapes.
 *
 * Scripting: `set(queryOrSubstring, value)` — an exact query match wins, otherwise the longest registered
 * substring contained in the query. A query nothing matches gets an empty vector, as Prometheus answers for
 * series that do not exist. A scripted function that throws is answered as an `execution` error (422).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PrometheusError {
  status: 400 | 422 | 503;
  /** Prometheus uses bad_data, execution, timeout, canceled, internal, unavailable and not_found. */
  errorType: string;
  error: string;
}

export interface PrometheusQuery {
  query: string;
  /** The `time` parameter as sent, if any. */
  time?: string;
  method: string;
  at: number;
}

type Scripted = number | (() => number);

/** Formats a sample value the way Prometheus does (Go's strconv.FormatFloat(v, 'f', -1, 64)). */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  const text = String(value);
  const exp = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!exp) return text;
  const [, sign = '', lead = '', frac = '', power = '0'] = exp;
  const digits = lead + frac;
  const point = 1 + Number(power);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function parseTime(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return Date.now() / 1000;
  // Prometheus keeps millisecond precision.
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.round(seconds * 1000) / 1000;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class PrometheusDouble {
  /** The query strings asked, in order. */
  readonly queries: string[] = [];
  /** Every query request with its parameters. */
  readonly requests: PrometheusQuery[] = [];

  private readonly server: Server;
  private readonly values = new Map<string, Scripted>();
  private readonly errors = new Map<string, PrometheusError>();
  private baseUrl = '';

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, body, contentType }) => {
          res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err instanceof Error ? err.message : String(err));
        });
    });
  }

  static async start(): Promise<PrometheusDouble> {
    const double = new PrometheusDouble();
    await new Promise<void>((resolve, reject) => {
      double.server.once('error', reject);
      double.server.listen(0, '127.0.0.1', () => resolve());
    });
    double.baseUrl = `http://127.0.0.1:${(double.server.address() as AddressInfo).port}`;
    return double;
  }

  /** The server root (what a Prometheus URL setting expects, without `/api/v1`). */
  get url(): string {
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  /** Scripts the value for an exact query, or for every query containing this string. */
  set(queryOrSubstring: string, value: Scripted): void {
    this.values.set(queryOrSubstring, value);
  }

  unset(queryOrSubstring: string): void {
    this.values.delete(queryOrSubstring);
  }

  /** Answers an exact query (or, with '*', every query) with a Prometheus error until clearError(). */
  setError(query: string, error: PrometheusError): void {
    this.errors.set(query, error);
  }

  clearError(query?: string): void {
    if (query === undefined) this.errors.clear();
    else this.errors.delete(query);
  }

  /** Forgets scripted values, errors and the query log. */
  reset(): void {
    this.values.clear();
    this.errors.clear();
    this.queries.length = 0;
    this.requests.length = 0;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: string; contentType: string }> {
    const url = new URL(req.url ?? '/', 'http://prometheus.test');
    const method = (req.method ?? 'GET').toUpperCase();
    if (url.pathname === '/-/ready' || url.pathname === '/-/healthy') {
      const text =
        url.pathname === '/-/ready' ? 'Prometheus Server is Ready.\n' : 'Prometheus Server is Healthy.\n';
      return { status: 200, body: text, contentType: 'text/plain; charset=utf-8' };
    }
    if (url.pathname !== '/api/v1/query' || (method !== 'GET' && method !== 'POST')) {
      return { status: 404, body: '404 page not found\n', contentType: 'text/plain; charset=utf-8' };
    }
    const params = new URLSearchParams(url.searchParams);
    if (method === 'POST') {
      const type = String(req.headers['content-type'] ?? '');
      const text = await readBody(req);
      if (type.startsWith('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(text)) params.set(k, v);
      }
    }
    const query = params.get('query') ?? '';
    const rawTime = params.get('time') ?? undefined;
    this.queries.push(query);
    this.requests.push({ query, time: rawTime, method, at: Date.now() });

    if (query.trim() === '') {
      return this.error({
        status: 400,
        errorType: 'bad_data',
        error: 'invalid parameter "query": 1:1: parse error: no expression found in input',
      });
    }
    const time = parseTime(rawTime);
    if (time === undefined) {
      return this.error({
        status: 400,
        errorType: 'bad_data',
        error: `invalid parameter "time": cannot parse "${rawTime}" to a valid timestamp`,
      });
    }
    const scriptedError = this.errors.get(query) ?? this.errors.get('*');
    if (scriptedError) return this.error(scriptedError);

    const scripted = this.lookup(query);
    let result: { metric: Record<string, string>; value: [number, string] }[] = [];
    if (scripted !== undefined) {
      let value: number;
      try {
        value = typeof scripted === 'function' ? scripted() : scripted;
      } catch (err) {
        return this.error({
          status: 422,
          errorType: 'execution',
          error: err instanceof Error ? err.message : String(err),
        });
      }
      result = [{ metric: {}, value: [time, formatSampleValue(value)] }];
    }
    return {
      status: 200,
      body: JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }),
      contentType: 'application/json',
    };
  }

  private lookup(query: string): Scripted | undefined {
    const exact = this.values.get(query);
    if (exact !== undefined) return exact;
    let best: string | undefined;
    for (const key of this.values.keys()) {
      if (query.includes(key) && (best === undefined || key.length > best.length)) best = key;
    }
    return best === undefined ? undefined : this.values.get(best);
  }

  private error(e: PrometheusError): { status: number; body: string; contentType: string } {
    return {
      status: e.status,
      body: JSON.stringify({ status: 'error', errorType: e.errorType, error: e.error }),
      contentType: 'application/json',
    };
  }
}
