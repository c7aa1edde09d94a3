import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. Upgrade is left to the
// WebSocket path, which needs it.
const ALWAYS = [
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
];

/** The header names to drop: the fixed list plus every name the `Connection` header lists. */
export function hopByHopNames(headers: IncomingHttpHeaders | OutgoingHttpHeaders): string[] {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade');
  return [...ALWAYS, ...listed];
}
