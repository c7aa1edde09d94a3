import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeprecationEngine, Outcome } from './engine.js';

export type NodeNext = (err?: unknown) => void;
export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next?: NodeNext) => void;

/**
 * For Node's `http`: `http.createServer((req, res) => mw.node(req, res, () => handler(req, res)))`.
 * Without `next` the headers are still set and refusals answered, but no delay can be applied;
 * check `res.writableEnded` to know whether the request was refused.
 */
export function nodeMiddleware(engine: DeprecationEngine): NodeMiddleware {
  return (req, res, next) => {
    const outcome = engine.evaluate({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress,
    });
    applyToNode(outcome, res, next);
  };
}

export function applyToNode(outcome: Outcome, res: ServerResponse, next: NodeNext | undefined): void {
  if (outcome.kind === 'refuse') {
    res.statusCode = outcome.status;
    for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
    res.end(outcome.body);
    return;
  }
  if (outcome.kind === 'pass') {
    for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
    if (outcome.delayMs > 0 && next) {
      setTimeout(next, outcome.delayMs);
      return;
    }
  }
  next?.();
}
