/**
 * A real Prometheus (Debian's `prometheus` package, /usr/bin/prometheus or on PATH) for tests:
 * temp config and storage, a free port, a 1 s scrape interval, killed after. It scrapes an
 * `Exporter` the test serves (Prometheus' text exposition format, values the test sets).
 * `AuthProxy` puts it behind a token, basic auth and tenant-header check, over TLS if asked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFreePort } from './process.js';
import { waitFor } from './wait.js';

async function listen(server: Server | HttpsServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function close(server: Server | HttpsServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Serves `/metrics` in the text exposition format; `set` changes what the next scrape reads. */
export class Exporter {
  private readonly series = new Map<
    string,
    { name: string; labels: Record<string, string>; value: number }
  >();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<Exporter> {
    const holder: { e?: Exporter } = {};
    const server = createServer((req, res) => {
      const body = holder.e?.exposition() ?? '';
      res.writeHead(req.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(req.url === '/metrics' ? body : 'not found\n');
    });
    holder.e = new Exporter(server, await listen(server));
    return holder.e;
  }

  /** `host:port` as a scrape target. */
  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  set(name: string, labels: Record<string, string>, value: number): void {
    this.series.set(`${name}${JSON.stringify(labels)}`, { name, labels, value });
  }

  exposition(): string {
    const lines: string[] = [];
    const typed = new Set<string>();
    for (const s of this.series.values()) {
      if (!typed.has(s.name)) {
        lines.push(`# TYPE ${s.name} gauge`);
        typed.add(s.name);
      }
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      const value = Number.isNaN(s.value)
        ? 'NaN'
        : s.value === Infinity
          ? '+Inf'
          : s.value === -Infinity
            ? '-Inf'
            : String(s.value);
      lines.push(`${s.name}${labels ? `{${labels}}` : ''} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }

  stop(): Promise<void> {
    return close(this.server);
  }
}

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';

/** A Prometheus process scraping the given targets every second under job "exporter". */
export class PrometheusServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly output: string[],
  ) {}

  /** `opts.rules`: an alerting rule file's text; `opts.alertmanager`: `host:port` to send alerts to. */
  static start(
    targets: string[],
    opts: { rules?: string; alertmanager?: string } = {},
  ): Promise<PrometheusServer> {
    return onFreePort((port) => PrometheusServer.startOn(port, targets, opts));
  }

  private static async startOn(
    port: number,
    targets: string[],
    opts: { rules?: string; alertmanager?: string },
  ): Promise<PrometheusServer> {
    const dir = await mkdtemp(join(tmpdir(), 'backout-prometheus-'));
    if (opts.rules) await writeFile(join(dir, 'rules.yml'), opts.rules);
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        ...(opts.rules ? [`rule_files: ["${join(dir, 'rules.yml')}"]`] : []),
        ...(opts.alertmanager
          ? ['alerting:', '  alertmanagers:', `    - static_configs: [{ targets: ["${opts.alertmanager}"] }]`]
          : []),
        'scrape_configs:',
        '  - job_name: exporter',
        '    scrape_interval: 1s',
        `    static_configs: [{ targets: [${targets.map((t) => `"${t}"`).join(', ')}] }]`,
        '',
      ].join('\n'),
    );
    const child = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
        // Alerts reach Alertmanager at every evaluation that changes them, not once a minute.
        ...(opts.alertmanager ? ['--rules.alert.resend-delay=1s'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const server = new PrometheusServer(child, dir, `http://127.0.0.1:${port}`, output);
    let exited = false;
    child.once('exit', () => (exited = true));
    try {
      await waitFor(
        async () => {
          const res = await fetch(`${server.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          return res.status === 200;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: 'Prometheus to be ready',
          giveUpIf: () => (exited ? new Error(`prometheus exited:\n${output.join('')}`) : undefined),
        },
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** An instant query, straight to Prometheus (for the test to wait on). */
  async query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(q)}`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await res.json()) as {
      data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data?.result ?? [];
  }

  /** Waits until Prometheus reads `q` as these values by one label (a scrape has happened). */
  async waitFor(q: string, label: string, values: Record<string, string>): Promise<void> {
    await waitFor(
      async () => {
        const got = new Map((await this.query(q)).map((s) => [s.metric[label], s.value[1]]));
        return Object.entries(values).every(([k, v]) => got.get(k) === v);
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `Prometheus to read ${q} as ${JSON.stringify(values)}` },
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGKILL');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface ProxyRule {
  /** `Bearer <token>` or `Basic <base64>` expected in Authorization. */
  authorization?: string;
  /** Headers that must be present with these values (e.g. X-Scope-OrgID). */
  headers?: Record<string, string>;
}

/** A reverse proxy in front of Prometheus that answers 401 unless the request carries what `rule` asks. */
export class AuthProxy {
  /** What each request carried, and whether it was let through. */
  readonly seen: {
    authorization?: string;
    headers: Record<string, string | string[] | undefined>;
    allowed: boolean;
  }[] = [];
  private constructor(
    private readonly server: Server | HttpsServer,
    readonly url: string,
  ) {}

  static async start(
    upstream: string,
    rule: ProxyRule,
    tls?: { key: string; cert: string },
  ): Promise<AuthProxy> {
    const holder: { p?: AuthProxy } = {};
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const allowed =
        (rule.authorization === undefined || req.headers.authorization === rule.authorization) &&
        Object.entries(rule.headers ?? {}).every(([k, v]) => req.headers[k.toLowerCase()] === v);
      holder.p?.seen.push({
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        headers: req.headers,
        allowed,
      });
      if (!allowed) {
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
        res.end('Unauthorized\n');
        return;
      }
      const target = new URL(req.url ?? '/', upstream);
      const forward = request(
        target,
        { method: req.method, headers: { accept: 'application/json' } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(forward);
    };
    const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
    const port = await listen(server);
    holder.p = new AuthProxy(server, `${tls ? 'https' : 'http'}://127.0.0.1:${port}`);
    return holder.p;
  }

  stop(): Promise<void> {
    return close(this.server);
  }
}

/** A self-signed certificate for 127.0.0.1 (openssl), as the PEM key, certificate and its path. */
export async function selfSignedCert(dir: string): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = join(dir, 'tls.key');
  const certFile = join(dir, 'tls.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  const { readFile } = await import('node:fs/promises');
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}
