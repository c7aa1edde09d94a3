import type { IncomingMessage } from 'node:http';
import { bearerMatches } from './auth.js';

/**
 * `Authorization: Bearer <token>` against the configured webhook token (the one check in auth.ts).
 * `unset`: no token is configured, so the hooks do not exist (404); `bad`: missing or wrong (401).
 */
export function checkBearer(req: IncomingMessage, token: string | undefined): 'ok' | 'unset' | 'bad' {
  if (!token) return 'unset';
  return bearerMatches(req.headers.authorization, token) ? 'ok' : 'bad';
}
