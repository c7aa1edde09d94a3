/**
 * `backout proxy` against real NGINX (Debian's nginx, `proxy_pass` with upstream keep-alive) in
 * front of the same Node upstream, in one run: p50/p99 latency added to a direct call and
 * throughput at 1, 64 and 256 connections, measured with wrk. Both proxies get one worker (one
 * core) and both add the deprecation headers; backout's also matches the registry and counts usage.
 *
 * Run alone with `npx tsx test/bench/proxy.ts` (replaces its section of BENCHMARKS.md), or as part
 * of `npm run bench`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { makeEntry } from '../api-retirement/fixtures.js';
import { freePort } from '../kit/process.js';
import { waitFor } from '../kit/wait.js';
import { ROOT, stopProcess, track, writeMarkedSection } from './procs.js';

const CONNECTIONS = [1, 64, 256] as const;
const DURATION_S = 6;
export const PROXY_TARGETS = { p99OverheadRatio: 1.5, throughputRatio: 0.7 };
const MARK_START = '<!-- proxy-bench:start -->';
const MARK_END = '<!-- proxy-bench:end -->';

interface WrkResult {
  p50Ms: number;
  p99Ms: number;
  rps: number;
  errors: number;
}

export interface ProxyBench {
  rows: {
    connections: number;
    direct: WrkResult;
    nginx: WrkResult;
    backout: WrkResult;
  }[];
  skipped?: string;
}

const UPSTREAM_SOURCE = `
const http = require('node:http');
const body = JSON.stringify({ ok: true, items: [1, 2, 3] });
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

function spawnTracked(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  return child;
}

async function answers(url: string): Promise<boolean> {
  return fetch(url).then(
    async (r) => (await r.arrayBuffer(), r.ok),
    () => false,
  );
}

function parseWrk(output: string): WrkResult {
  const ms = (label: string) => {
    const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
    if (!match) throw new Error(`wrk printed no ${label}th percentile:\n${output}`);
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1];
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    p50Ms: ms('50'),
    p99Ms: ms('99'),
    rps,
    errors: Number(errors ?? 0) + (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0),
  };
}

function wrk(url: string, connections: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${DURATION_S}s`, '--latency', url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      try {
        resolve(parseWrk(out));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

export async function benchProxy(log: (line: string) => void): Promise<ProxyBench> {
  for (const tool of ['wrk', 'nginx']) {
    if (!['/usr/bin', '/usr/sbin'].some((dir) => existsSync(join(dir, tool)))) {
      return { rows: [], skipped: `${tool} is not installed (apt-get install ${tool})` };
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'backout-proxy-bench-'));
  const children: ChildProcess[] = [];
  const redis = new Redis('redis://127.0.0.1:6379');
  const prefix = `bench-proxy-${process.pid}`;
  try {
    const entry = makeEntry({ pattern: '/v1/orders/:id', sunset: '2099-01-01T00:00:00Z' });
    await new DeprecationRegistry(redis, prefix).put(entry);
    const [upPort, nginxPort, backoutPort, adminPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    writeFileSync(join(dir, 'upstream.cjs'), UPSTREAM_SOURCE);
    children.push(spawnTracked(process.execPath, [join(dir, 'upstream.cjs')], { PORT: String(upPort) }));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header Deprecation "@1767225600" always;
      add_header Sunset "Thu, 01 Jan 2099 00:00:00 GMT" always;
    }
  }
}
`,
    );
    children.push(
      spawnTracked('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]),
    );
    const dist = join(ROOT, 'dist', 'src', 'main.js');
    const entryArgs = existsSync(dist) ? [dist] : ['--import', 'tsx', join(ROOT, 'src', 'main.ts')];
    children.push(
      spawnTracked(
        process.execPath,
        [
          '--max-semi-space-size=2',
          ...entryArgs,
          'proxy',
          '--service',
          'checkout',
          '--upstream',
          `http://127.0.0.1:${upPort}`,
          '--listen',
          `127.0.0.1:${backoutPort}`,
          '--admin-listen',
          `127.0.0.1:${adminPort}`,
        ],
        { REDIS_URL: 'redis://127.0.0.1:6379', BACKOUT_PREFIX: prefix, LOG_LEVEL: 'warn' },
      ),
    );
    const path = '/v1/orders/42';
    const urls = {
      direct: `http://127.0.0.1:${upPort}${path}`,
      nginx: `http://127.0.0.1:${nginxPort}${path}`,
      backout: `http://127.0.0.1:${backoutPort}${path}`,
    };
    for (const [name, url] of Object.entries(urls)) {
      await waitFor(() => answers(url), { what: `${name} to answer`, timeoutMs: 30_000 });
    }
    const headers = (await fetch(urls.backout)).headers;
    if (!headers.get('deprecation')) throw new Error('backout proxy did not add the Deprecation header');

    const rows: ProxyBench['rows'] = [];
    for (const connections of CONNECTIONS) {
      // Warm both proxies' connection pools and JIT before each measured round.
      await wrk(urls.backout, connections);
      await wrk(urls.nginx, connections);
      const direct = await wrk(urls.direct, connections);
      const nginx = await wrk(urls.nginx, connections);
      const backout = await wrk(urls.backout, connections);
      log(
        `proxy c=${connections}: direct p99 ${direct.p99Ms.toFixed(2)} ms, nginx p99 ${nginx.p99Ms.toFixed(2)} ms ${nginx.rps.toFixed(0)}/s, backout p99 ${backout.p99Ms.toFixed(2)} ms ${backout.rps.toFixed(0)}/s`,
      );
      rows.push({ connections, direct, nginx, backout });
    }
    return { rows };
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => (n >= 10 ? n.toFixed(1) : n.toFixed(2));

export function renderProxyBench(bench: ProxyBench): string {
  const lines = [
    MARK_START,
    '## backout proxy vs NGINX',
    '',
    'Both in front of the same Node upstream (a 30-byte JSON answer), one worker each, both adding the',
    "deprecation headers; backout's proxy also matches its registry and counts usage per client. wrk,",
    `one thread, ${DURATION_S} s per round after a warm-up round. Added latency = proxy minus a direct call`,
    'at the same percentile. Targets: backout p99 added latency ≤ 1.5× NGINX’s, throughput ≥ 0.7× NGINX’s.',
    '',
  ];
  if (bench.skipped) {
    lines.push(`Skipped: ${bench.skipped}.`, MARK_END);
    return lines.join('\n');
  }
  lines.push(
    '| connections | direct p50 / p99 ms | NGINX added p50 / p99 ms | backout added p50 / p99 ms | p99 added ratio | NGINX req/s | backout req/s | throughput ratio | verdict |',
    '|---:|---|---|---|---:|---:|---:|---:|---|',
  );
  for (const { connections, direct, nginx, backout } of bench.rows) {
    const added = (r: WrkResult) => ({
      p50: Math.max(0, r.p50Ms - direct.p50Ms),
      p99: Math.max(0, r.p99Ms - direct.p99Ms),
    });
    const [n, b] = [added(nginx), added(backout)];
    // A floor of 0.05 ms keeps a near-zero NGINX figure from turning noise into a huge ratio.
    const latencyRatio = Math.max(b.p99, 0.05) / Math.max(n.p99, 0.05);
    const throughputRatio = backout.rps / nginx.rps;
    const ok =
      latencyRatio <= PROXY_TARGETS.p99OverheadRatio &&
      throughputRatio >= PROXY_TARGETS.throughputRatio &&
      backout.errors === 0;
    lines.push(
      `| ${connections} | ${fmt(direct.p50Ms)} / ${fmt(direct.p99Ms)} | ${fmt(n.p50)} / ${fmt(n.p99)} | ${fmt(b.p50)} / ${fmt(b.p99)} | ${latencyRatio.toFixed(2)}× | ${nginx.rps.toFixed(0)} | ${backout.rps.toFixed(0)} | ${throughputRatio.toFixed(2)}× | ${ok ? 'meets' : 'misses'}${backout.errors ? ` (${backout.errors} errors)` : ''} |`,
    );
  }
  lines.push(MARK_END);
  return lines.join('\n');
}

/** Puts the section into BENCHMARKS.md, replacing an earlier one. */
export function writeProxySection(markdown: string): void {
  writeMarkedSection(markdown, MARK_START, MARK_END);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  benchProxy(log).then(
    (bench) => {
      writeProxySection(renderProxyBench(bench));
      log('wrote the proxy section of BENCHMARKS.md');
    },
    (err: unknown) => {
      process.stderr.write(`proxy bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
