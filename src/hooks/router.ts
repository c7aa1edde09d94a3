import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../http/body-limit.js';
import { sendWhole } from '../http/send.js';
import type { Logger } from '../observability/logger.js';
import { bearerMatches } from './auth.js';

/** Webhook payloads are small; a megabyte leaves room for an Alertmanager group of hundreds of alerts. */
export const HOOK_BODY_LIMIT = 1024 * 1024;

export interface HookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One webhook: its path under /hooks/, how it is authenticated, and what it does with the body. */
export interface HookRoute {
  method: 'POST';
  /** Exact path, or a prefix ending in `/` (e.g. `/hooks/flagger/`). */
  path: string;
  /** `bearer`: checked here before the body is read. `self`: the handler checks a signature over the body. */
  auth: 'bearer' | 'self';
  handle(body: Buffer, req: IncomingMessage): Promise<HookAnswer>;
}

/**
 * The routes under /hooks/. Without a webhook token every hook answers 404, as if it did not
 * exist; a request without the right token is refused with 401 before its body is read.
 * Returns a request listener that answers true when the path was a hook's.
 */
export function createHookRouter(opts: {
  token: string | undefined;
  routes: HookRoute[];
  log: Logger;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!path.startsWith('/hooks/')) return false;
    const route = opts.routes.find((r) => (r.path.endsWith('/') ? path.startsWith(r.path) : path === r.path));
    const token = opts.token;
    if (!route || !token) {
      send(res, 404, { error: `no route for ${req.method ?? 'GET'} ${path}` });
      return true;
    }
    if (req.method !== route.method) {
      res.setHeader('allow', route.method);
      send(res, 405, { error: `${path} takes ${route.method}` });
      return true;
    }
    if (route.auth === 'bearer' && !bearerMatches(req.headers.authorization, token)) {
      opts.log.warn({ path }, 'webhook refused: missing or wrong bearer token');
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { error: 'missing or wrong bearer token; nothing was done' });
      return true;
    }
    readBody(req, res, HOOK_BODY_LIMIT)
      .then((body) => route.handle(body, req))
      .then((answer) => send(res, answer.status, answer.body))
      .catch((err: unknown) => {
        if (err instanceof BodyTooLargeError) return;
        opts.log.error({ err, path }, 'webhook failed');
        send(res, 500, { error: `could not handle the webhook: ${(err as Error).message}` });
      });
    return true;
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  sendWhole(res, status, 'application/json', JSON.stringify(body));
}
