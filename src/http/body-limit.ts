import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * The largest request body backout accepts on any endpoint. Slack's payloads are a few
 * kilobytes; this is Bolt's own default (4 MB), given to Bolt explicitly so that every
 * route shares one number.
 */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** How long a refused connection stays half-open so the client can read the 413 (NGINX: lingering close). */
const LINGER_MS = 2_000;

/**
 * Answers 413 and closes the connection. Nothing more of the body is kept: what still arrives is
 * discarded for at most LINGER_MS, so the client can read the answer before the socket goes.
 */
export function refuseTooLarge(res: ServerResponse, limit = MAX_BODY_BYTES): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ error: `request body larger than ${limit} bytes` });
  res.writeHead(413, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  lingerOnClose(res.req.socket);
  res.end(body);
}

/** Sockets answered with 413 and left open for a moment; see lingerOnClose. */
const lingering = new WeakSet<Socket>();

/**
 * Node's server destroys a `connection: close` socket as soon as the answer is written, and its
 * parser treats any later byte as an error that destroys it too. With body bytes still unread the
 * kernel then sends a reset, and a client still writing can lose the 413 before it reads it (the
 * "lingering close" problem). Instead: send FIN after the answer, discard what still arrives, and
 * destroy the socket a moment later.
 */
function lingerOnClose(socket: Socket): void {
  lingering.add(socket);
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
}

/**
 * The server's `clientError` handler: bytes after a 413 are discarded while the socket lingers;
 * any other malformed request gets Node's own answer (400, or 431 / 408) and the socket is closed.
 */
export function onClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (lingering.has(socket as Socket)) return;
  if (
    socket.writable &&
    !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
  ) {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    return;
  }
  socket.destroy();
}

/**
 * Refuses a request whose declared length is over the limit before any of its body is read.
 * Returns true when it answered. Bodies without a declared length (chunked) are bounded
 * where they are read: by Bolt's `bodyLimit`, or by `readBody` below.
 */
export function refuseDeclaredOversize(
  req: IncomingMessage,
  res: ServerResponse,
  limit = MAX_BODY_BYTES,
): boolean {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!Number.isFinite(declared) || declared <= limit) return false;
  refuseTooLarge(res, limit);
  return true;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/**
 * Reads a request body up to `limit` bytes, for routes of backout's own (webhooks). Over
 * the limit it stops reading, answers 413, and rejects with BodyTooLargeError.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (refuseDeclaredOversize(req, res, limit)) {
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Read on and throw the rest away while the connection lingers (see lingerOnClose).
        req.off('data', onData);
        req.resume();
        chunks.length = 0;
        refuseTooLarge(res, limit);
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (size <= limit) resolve(Buffer.concat(chunks));
    });
    req.once('error', reject);
  });
}
