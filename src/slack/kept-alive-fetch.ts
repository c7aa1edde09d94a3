import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** The headers of an answer, read the way the Slack Web API client reads them. */
class AnswerHeaders {
  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.raw)) yield [name, this.get(name)!];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/** A read answer: what the Slack Web API client uses of a fetch Response. */
class Answer {
  readonly ok: boolean;
  readonly headers: AnswerHeaders;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    headers: IncomingHttpHeaders,
    private readonly body: Buffer,
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = new AnswerHeaders(headers);
  }

  text(): Promise<string> {
    return Promise.resolve(this.body.toString('utf8'));
  }

  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t) as unknown);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const { buffer, byteOffset, byteLength } = this.body;
    return Promise.resolve(buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer);
  }
}

/**
 * A `fetch` for the Slack Web API client over node:http(s) with kept-alive connections. Every
 * Slack call the outbox makes went through the platform's fetch, whose streams, Request, Headers
 * and Response objects cost several times the CPU and garbage of the call itself, on the loop
 * that also acknowledges commands and clicks. It keeps fetch's contract where the client and
 * backout look: a timeout rejects with the signal's reason (a `TimeoutError`), a network failure
 * with `TypeError('fetch failed')` whose `cause` carries the socket's error code, a redirect is an
 * error, and nothing is ever sent twice. A body that is not text (a file upload) goes through the
 * platform's fetch.
 */
export function keptAliveFetch(): typeof fetch {
  const httpAgent = new HttpAgent({ keepAlive: true, maxFreeSockets: 16 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxFreeSockets: 16 });
  const send = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body ?? '';
    const plainHeaders =
      init.headers === undefined || Object.getPrototypeOf(init.headers) === Object.prototype;
    if (typeof body !== 'string' || !plainHeaders || input instanceof Request) return fetch(input, init);
    const url = new URL(String(input));
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const failed = (err: unknown) => settle(() => reject(new TypeError('fetch failed', { cause: err })));
      const onAbort = () => {
        settle(() => reject(signal!.reason as Error));
        req.destroy();
      };
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: init.method ?? 'GET',
          agent: secure ? httpsAgent : httpAgent,
          headers: {
            ...(init.headers as Record<string, string> | undefined),
            'content-length': String(Buffer.byteLength(body)),
          },
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400 && init.redirect === 'error') {
            res.resume();
            failed(new Error(`unexpected redirect (HTTP ${status}) from ${url.host}`));
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', failed);
          res.on('end', () =>
            settle(() =>
              resolve(
                new Answer(
                  url.href,
                  status,
                  res.statusMessage ?? '',
                  res.headers,
                  Buffer.concat(chunks),
                ) as unknown as Response,
              ),
            ),
          );
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', failed);
      req.end(body);
    });
  };
  return send;
}
