import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The largest request body backout accepts on any endpoint. Slack's payloads are a few
 * kilobytes; this is Bolt's own default (4 MB), given to Bolt explicitly so that every
 * route shares one number.
 */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Answers 413 and closes the connection, so the rest of the body is never read. */
export function refuseTooLarge(res: ServerResponse, limit = MAX_BODY_BYTES): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ error: `request body larger than ${limit} bytes` });
  res.writeHead(413, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  // Once the answer is out, drop the socket: reading 50 MB only to discard it costs time and memory.
  // Not at once: a client still writing would meet a reset before it read the 413. Unread, the
  // body stops at TCP's window while the client reads the answer and hangs up.
  res.end(body, () => {
    const socket = res.req.socket;
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
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
        req.off('data', onData);
        req.pause();
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
