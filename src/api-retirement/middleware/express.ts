import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeprecationEngine } from './engine.js';
import { applyToNode, type NodeNext } from './node.js';

/** The parts of Express's request this middleware reads; typed structurally so Express stays optional. */
export type ExpressLikeRequest = IncomingMessage & { originalUrl?: string; ip?: string | undefined };
export type ExpressMiddleware = (req: ExpressLikeRequest, res: ServerResponse, next: NodeNext) => void;

/**
 * Standard Express middleware (`app.use(mw.express)`). It reads `originalUrl`, so patterns are the
 * full path even under a mounted router, and `req.ip`, so source ids follow the app's `trust proxy`.
 */
export function expressMiddleware(engine: DeprecationEngine): ExpressMiddleware {
  return (req, res, next) => {
    const outcome = engine.evaluate({
      method: req.method ?? 'GET',
      url: req.originalUrl ?? req.url ?? '/',
      headers: req.headers,
      remoteAddress: req.ip ?? req.socket.remoteAddress,
    });
    applyToNode(outcome, res, next);
  };
}
