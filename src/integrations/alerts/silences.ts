import { z } from 'zod';
import { IntegrationError } from '../../errors.js';

/** Alertmanager's matcher (API v2): `isEqual: false` negates, `isRegex` makes it `=~`. */
export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface Silences {
  create(s: { matchers: SilenceMatcher[]; startsAt: Date; endsAt: Date; comment: string }): Promise<string>;
  expire(id: string): Promise<void>;
}

const created = z.object({ silenceID: z.string().min(1) });
const TIMEOUT_MS = 5_000;

/** Alertmanager's API v2 silences: `POST /api/v2/silences`, `DELETE /api/v2/silence/{id}`. Every call has a deadline. */
export class AlertmanagerSilences implements Silences {
  constructor(private readonly baseUrl: string) {}

  async create(s: {
    matchers: SilenceMatcher[];
    startsAt: Date;
    endsAt: Date;
    comment: string;
  }): Promise<string> {
    const res = await this.call('POST', '/api/v2/silences', {
      matchers: s.matchers,
      startsAt: s.startsAt.toISOString(),
      endsAt: s.endsAt.toISOString(),
      createdBy: 'backout',
      comment: s.comment,
    });
    const body = created.safeParse(await res.json().catch(() => undefined));
    if (!body.success)
      throw new IntegrationError('alertmanager', 'Alertmanager answered a silence without its id', {
        retryable: false,
      });
    return body.data.silenceID;
  }

  async expire(id: string): Promise<void> {
    // 404: already gone (expired by hand, or garbage-collected) is what we wanted.
    await this.call('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`, undefined, [404]);
  }

  private async call(method: string, path: string, body: unknown, ok: number[] = []): Promise<Response> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new IntegrationError(
        'alertmanager',
        `Alertmanager at ${url.origin} did not answer ${method} ${path} (${(err as Error).message})`,
        { retryable: true, cause: err },
      );
    }
    if (!res.ok && !ok.includes(res.status)) {
      const text = (await res.text().catch(() => '')).slice(0, 200);
      throw new IntegrationError(
        'alertmanager',
        `Alertmanager answered ${res.status} to ${method} ${path}: ${text}`,
        { retryable: res.status >= 500 },
      );
    }
    return res;
  }
}
