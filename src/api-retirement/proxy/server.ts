import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import type { DeprecationMiddleware } from '../middleware/index.js';
import { applyToNode } from '../middleware/node.js';
import { hopByHopNames } from './hop-by-hop.js';
import { ProxyMetrics } from './metrics.js';
import { proxyProblem } from './problem.js';
import { sendWhole } from '../../http/send.js';

export interface ListenAddress {
  host?: string;
  port: number;
}

export interface RetirementProxyOptions {
  middleware: DeprecationMiddleware;
  service: string;
  upstream: URL;
  listen: ListenAddress;
  /** `/healthz` and `/metrics` live on their own port, so they never shadow the service's routes. */
  admin?: ListenAddress;
  /** No answer (headers) from the upstream by then: 504. */
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
  onError?: (err: unknown, context: string) => void;
}

export interface RetirementProxy {
  port: number;
  adminPort: number | undefined;
  metrics: ProxyMetrics;
  close(): Promise<void>;
}

/**
 * `backout proxy`: the middleware's decisions in front of any HTTP service. Bodies stream both
 * ways (http-proxy pipes them), upgrades pass through, and the registry is the middleware's own
 * cache, so when Redis is away the proxy keeps deciding from the last registry it loaded.
 */
export async function startRetirementProxy(options: RetirementProxyOptions): Promise<RetirementProxy> {
  const { middleware, upstream } = options;
  const onError = options.onError ?? (() => undefined);
  const metrics = new ProxyMetrics(options.service, () => middleware.stats());
  const secure = upstream.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: Infinity })
    : new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const proxy = createProxyServer({
    target: upstream,
    agent,
    ws: true,
    xfwd: true,
    proxyTimeout: options.upstreamTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
  });
  const timedOut = new WeakSet<IncomingMessage>();

  proxy.on('proxyReq', (proxyReq, req) => {
    for (const name of hopByHopNames(req.headers)) proxyReq.removeHeader(name);
    proxyReq.on('timeout', () => timedOut.add(req));
  });
  proxy.on('proxyRes', (proxyRes) => {
    for (const name of hopByHopNames(proxyRes.headers)) delete proxyRes.headers[name];
  });
  proxy.on('error', (err, req, res) => {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    const tooSlow = timedOut.has(req) || code === 'ECONNECT_TIMEOUT';
    metrics.upstreamError(tooSlow ? 'timeout' : code);
    onError(err, `upstream ${req.method ?? 'GET'} ${req.url ?? '/'}`);
    if (!('setHeader' in res)) {
      res.destroy();
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const problem = proxyProblem(tooSlow ? 504 : 502, upstream.origin, tooSlow ? 'no answer in time' : code);
    res.writeHead(tooSlow ? 504 : 502, problem.headers).end(problem.body);
  });

  const server = http.createServer((req, res) => {
    const outcome = middleware.evaluate(facts(req));
    metrics.decided(outcome.kind);
    applyToNode(outcome, res, () => proxy.web(req, res));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', (err) => onError(err, 'client socket'));
    const outcome = middleware.evaluate(facts(req));
    metrics.decided(outcome.kind);
    if (outcome.kind === 'refuse') {
      socket.end(rawResponse(outcome.status, outcome.headers, outcome.body));
      return;
    }
    const go = () => proxy.ws(req, socket, head);
    if (outcome.kind === 'pass' && outcome.delayMs > 0) setTimeout(go, outcome.delayMs);
    else go();
  });
  // Clients that stop talking mid-request must not hold sockets for ever.
  server.requestTimeout = options.upstreamTimeoutMs + 60_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const admin = options.admin
    ? http.createServer((req, res) => {
        answerAdmin(req, res, metrics, middleware).catch((err: unknown) => {
          onError(err, 'admin');
          if (!res.headersSent) res.writeHead(500).end();
        });
      })
    : undefined;
  await listen(server, options.listen);
  if (admin && options.admin) await listen(admin, options.admin);

  return {
    port: (server.address() as AddressInfo).port,
    adminPort: admin ? (admin.address() as AddressInfo).port : undefined,
    metrics,
    close: async () => {
      await Promise.all([close(server), admin ? close(admin) : undefined]);
      proxy.close();
      agent.destroy();
    },
  };
}

function facts(req: IncomingMessage) {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress,
  };
}

async function answerAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: ProxyMetrics,
  middleware: DeprecationMiddleware,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    // Live and serving whatever Redis does; the body says whether the registry has loaded.
    const stats = middleware.stats();
    const body = JSON.stringify({
      status: 'ok',
      registry: stats.registryVersion >= 0 ? 'loaded' : 'not loaded yet',
      registryVersion: stats.registryVersion,
      entries: middleware.entries().length,
    });
    sendWhole(res, 200, 'application/json', body);
    return;
  }
  if (path === '/metrics') {
    const text = await metrics.render();
    sendWhole(res, 200, metrics.contentType, text);
    return;
  }
  sendWhole(res, 404, 'text/plain', 'not found: the admin port serves /healthz and /metrics\n');
}

function rawResponse(status: number, headers: Record<string, string>, body: string): string {
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push('Connection: close', '', body);
  return lines.join('\r\n');
}

function listen(server: http.Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}
