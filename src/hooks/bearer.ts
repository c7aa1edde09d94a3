import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * `Authorization: Bearer <token>` against the configured webhook token, compared in constant time.
 * `unset`: no token is configured, so the hooks do not exist (404); `bad`: missing or wrong (401).
 */
export function checkBearer(req: IncomingMessage, token: string | undefined): 'ok' | 'unset' | 'bad' {
  if (!token) return 'unset';
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return 'bad';
  const given = Buffer.from(match[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted) ? 'ok' : 'bad';
}
