import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { onClientError, refuseDeclaredOversize } from './body-limit.js';
import { sendWhole } from './send.js';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

/**
 * One port for Slack (POST /slack/events), liveness, readiness and metrics. Slack
 * requests go to the Slack receiver (src/slack/receiver.ts), which verifies signatures and timestamps. Bodies over
 * MAX_BODY_BYTES are refused with 413 on every route (see body-limit.ts).
 */
export function createHttpServer(opts: {
  receiver?: { requestListener(req: IncomingMessage, res: ServerResponse): void };
  readiness: () => Readiness;
  registry: Registry;
  log: Logger;
  /** Webhook routes (POST /hooks/…; the first taker answers): true when the route was theirs and is answered. */
  hooks?: ((req: IncomingMessage, res: ServerResponse, path: string, method: string) => boolean)[];
}): Server {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    // Every route, before anything reads the body; chunked bodies are bounded where they are read.
    if (refuseDeclaredOversize(req, res)) {
      opts.log.warn(
        { method, path, length: req.headers['content-length'] },
        'request body too large; refused',
      );
      return;
    }
    if (path === '/slack/events' && method === 'POST' && opts.receiver) {
      opts.receiver.requestListener(req, res);
      return;
    }
    if (method === 'GET' && path === '/healthz/live') return json(res, 200, { status: 'ok' });
    if (method === 'GET' && path === '/healthz/ready') {
      const r = opts.readiness();
      return json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks });
    }
    if (method === 'GET' && path === '/metrics') {
      opts.registry
        .metrics()
        .then((body) => sendWhole(res, 200, opts.registry.contentType, body))
        .catch((err: unknown) => {
          opts.log.error({ err }, 'metrics collection failed');
          json(res, 500, { error: 'metrics collection failed' });
        });
      return;
    }
    if (opts.hooks?.some((hook) => hook(req, res, path ?? '/', method))) return;
    json(res, 404, { error: `no route for ${method} ${path}` });
  });
  // Slack gives up after 3 s; nothing here should hold a socket much longer.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', onClientError);
  return server;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  sendWhole(res, status, 'application/json', JSON.stringify(body));
}
