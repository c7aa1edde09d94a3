import type { Logger } from '../observability/logger.js';
import type { SlackMessage } from './notifier.js';

export interface Responder {
  /** Ephemeral answer to the person behind a response_url (usable 5 times in 30 minutes). */
  respond(responseUrl: string, message: SlackMessage, opts?: { replaceOriginal?: boolean }): Promise<boolean>;
}

/** POSTs to response_url with a bounded timeout; failures are logged, never thrown. */
export class ResponseUrlResponder implements Responder {
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
      const res = await fetch(responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          response_type: 'ephemeral',
          replace_original: opts.replaceOriginal ?? false,
          ...message,
        }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) {
        this.log.warn({ status: res.status }, 'response_url refused the answer (expired or used up)');
        return false;
      }
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not answer through response_url');
      return false;
    }
  }
}
