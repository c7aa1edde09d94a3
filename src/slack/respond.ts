import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Logger } from '../observability/logger.js';
import type { SlackMessage } from './notifier.js';

export interface Responder {
  /** Ephemeral answer to the person behind a response_url (usable 5 times in 30 minutes). */
  respond(responseUrl: string, message: SlackMessage, opts?: { replaceOriginal?: boolean }): Promise<boolean>;
}

type Agents = Record<'http:' | 'https:', HttpAgent>;

/** POSTs `body` as JSON and resolves with the status once the answer has been read. */
function postJson(
  agents: Agents,
  url: URL,
  body: string,
  timeoutMs: number,
  retried = false,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      reject(new Error(`response_url has an unsupported scheme (${url.protocol})`));
      return;
    }
    const req: ClientRequest = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        agent: agents[url.protocol as keyof Agents],
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.resume();
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive connection the server had just closed: nothing was read, so send it once more.
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) {
        postJson(agents, url, body, timeoutMs, true).then(resolve, reject);
        return;
      }
      reject(err);
    });
    req.end(body);
  });
}

/**
 * POSTs to response_url with a bounded timeout; failures are logged, never thrown. Answers go over
 * node:http(s) with kept-alive connections rather than fetch: a burst of commands is a burst of
 * answers, and fetch costs several times the CPU per request (streams, Request and Response
 * objects), taken from the same event loop that acknowledges the next commands.
 */
export class ResponseUrlResponder implements Responder {
  private readonly agents: Agents = {
    'http:': new HttpAgent({ keepAlive: true, maxFreeSockets: 16 }),
    'https:': new HttpsAgent({ keepAlive: true, maxFreeSockets: 16 }),
  };

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs = 5_000,
  ) {}

  async respond(
    responseUrl: string,
    message: SlackMessage,
    opts: { replaceOriginal?: boolean } = {},
  ): Promise<boolean> {
    try {
      const status = await postJson(
        this.agents,
        new URL(responseUrl),
        JSON.stringify({
          response_type: 'ephemeral',
          replace_original: opts.replaceOriginal ?? false,
          ...message,
        }),
        this.timeoutMs,
      );
      if (status < 200 || status >= 300) {
        this.log.warn({ status }, 'response_url refused the answer (expired or used up)');
        return false;
      }
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not answer through response_url');
      return false;
    }
  }
}
