import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { App, Receiver } from '@slack/bolt';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { EnvelopeLedger } from './envelope-ledger.js';

const OpenAnswer = z.object({ ok: z.boolean(), url: z.string().optional(), error: z.string().optional() });
const Frame = z.looseObject({
  type: z.string(),
  envelope_id: z.string().optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().optional(),
  retry_attempt: z.number().optional(),
  retry_reason: z.string().optional(),
});
type Frame = z.infer<typeof Frame>;

/** Every outbound call has a deadline: opening the URL, and the handshake up to `hello`. */
const OPEN_TIMEOUT_MS = 10_000;
const HELLO_TIMEOUT_MS = 10_000;

export interface SocketModeLinkOptions {
  appToken: string;
  /** Web API base URL (ends with `/`). */
  apiUrl: string;
  log: Logger;
  ledger: EnvelopeLedger;
  /** Reconnect backoff: first wait and ceiling. */
  backoff?: { firstMs: number; maxMs: number };
  /** Slack pings every few seconds; this long without a ping or a frame, the link is taken for dead. Default 30 s. */
  silenceMs?: number;
}

/** Node's WebSocket reports pings it answers here, with the socket they came on. */
const PING_CHANNEL = 'undici:websocket:ping';

/**
 * Bolt's receiver for Socket Mode, holding the WebSocket itself so that Slack's routine
 * reconnects cost nothing: on `warning` or `refresh_requested` a new connection is opened
 * first and the old one closed once the new one said `hello` (Bolt's own client closes first
 * and waits seconds before reconnecting). A dropped socket is reopened with jittered
 * exponential backoff. Envelopes Slack delivers again (late or lost ack) are recognised in
 * Redis across replicas and answered with the first ack, never run twice.
 */
export class SocketModeLink implements Receiver {
  private app: App | undefined;
  private current: WebSocket | undefined;
  private readonly sockets = new Set<WebSocket>();
  private opening = false;
  private stopped = true;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private status: { connected: boolean; detail: string } = { connected: false, detail: 'not started' };
  private readonly heard = new WeakMap<WebSocket, number>();
  private watchdog: NodeJS.Timeout | undefined;
  private readonly onPing = (message: unknown) => {
    const ws = (message as { websocket?: unknown }).websocket;
    if (ws instanceof WebSocket && this.sockets.has(ws)) this.heard.set(ws, Date.now());
  };

  constructor(private readonly opts: SocketModeLinkOptions) {}

  init(app: App): void {
    this.app = app;
  }

  /** Starts connecting and returns at once: Slack being away never holds start-up. */
  start(): Promise<void> {
    if (this.stopped) {
      this.stopped = false;
      this.status = { connected: false, detail: 'connecting' };
      subscribe(PING_CHANNEL, this.onPing);
      const silenceMs = this.opts.silenceMs ?? 30_000;
      this.watchdog = setInterval(() => this.checkSilence(silenceMs), Math.min(5_000, silenceMs / 3));
      this.watchdog.unref();
      void this.open('start');
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    unsubscribe(PING_CHANNEL, this.onPing);
    for (const ws of this.sockets) ws.close(1000);
    this.sockets.clear();
    this.current = undefined;
    this.status = { connected: false, detail: 'stopped' };
    return Promise.resolve();
  }

  /** For readiness: `true` when connected, else what is going on and why. */
  state(): true | string {
    return this.status.connected ? true : this.status.detail;
  }

  private async open(why: string): Promise<void> {
    if (this.stopped || this.opening) return;
    this.opening = true;
    let url: string;
    try {
      url = await this.connectionUrl();
    } catch (err) {
      this.opening = false;
      this.retry(`apps.connections.open failed: ${(err as Error).message}`);
      return;
    }
    if (this.stopped) {
      this.opening = false;
      return;
    }
    const ws = new WebSocket(url);
    this.sockets.add(ws);
    const helloTimer = setTimeout(() => ws.close(4000, 'no hello'), HELLO_TIMEOUT_MS);
    ws.addEventListener('message', (event) => {
      this.heard.set(ws, Date.now());
      if (typeof event.data !== 'string') return;
      const frame = parseFrame(event.data);
      if (!frame) return;
      if (frame.type === 'hello') {
        clearTimeout(helloTimer);
        this.greeted(ws, why);
      } else if (frame.type === 'disconnect') this.told(ws, frame.reason ?? 'unknown');
      else if (frame.envelope_id && frame.payload) void this.envelope(ws, frame);
    });
    ws.addEventListener('close', (event) => {
      clearTimeout(helloTimer);
      this.closed(ws, event.code, event.reason);
    });
    // A failed handshake or a broken connection ends in `close`, which does the work.
    ws.addEventListener('error', () => undefined);
  }

  private async connectionUrl(): Promise<string> {
    const answer = await openConnection(this.opts.apiUrl, this.opts.appToken);
    if (!answer.ok) throw new Error(answer.error);
    return answer.url;
  }

  private greeted(ws: WebSocket, why: string): void {
    this.opening = false;
    this.failures = 0;
    const previous = this.current;
    this.current = ws;
    this.status = { connected: true, detail: 'connected' };
    this.opts.log.info({ why }, 'Socket Mode connected');
    // The replacement is up: the old connection may go (envelopes it still carries are acked on the new one).
    if (previous && previous !== ws) previous.close(1000);
  }

  /**
   * A connection whose peer vanished without a FIN (a NAT or proxy dropping it) stays open for
   * ever: when Slack has been silent too long, open a new one and let the old one go.
   */
  private checkSilence(silenceMs: number): void {
    const ws = this.current;
    if (!ws || this.opening) return;
    const quietMs = Date.now() - (this.heard.get(ws) ?? 0);
    if (quietMs < silenceMs) return;
    const why = `no ping from Slack for ${Math.round(quietMs / 1000)} s`;
    this.opts.log.warn({ quietMs }, 'Socket Mode connection silent; replacing it');
    this.current = undefined;
    this.status = { connected: false, detail: `reconnecting: ${why}` };
    ws.close(4001, 'silent');
    void this.open(why);
  }

  private told(ws: WebSocket, reason: string): void {
    this.opts.log.info({ reason }, 'Slack asked for a new Socket Mode connection');
    if (ws !== this.current) return;
    if (reason === 'link_disabled') {
      // Socket Mode was turned off for the app: keep trying, slowly, and say so.
      this.status = {
        connected: false,
        detail: 'reconnecting: Slack disabled this Socket Mode link (link_disabled)',
      };
      return;
    }
    void this.open(reason);
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    this.sockets.delete(ws);
    if (this.stopped) return;
    const why = `socket closed (${code}${reason ? ` ${reason}` : ''})`;
    if (ws === this.current) {
      this.current = undefined;
      this.status = {
        connected: false,
        detail: this.status.detail.includes('link_disabled') ? this.status.detail : `reconnecting: ${why}`,
      };
      this.opts.log.warn({ code, reason }, 'Socket Mode connection lost; reconnecting');
      if (!this.opening) this.retry(why);
    } else if (this.opening && ![...this.sockets].some((s) => s !== this.current)) {
      // The connection being opened failed before saying hello.
      this.opening = false;
      this.retry(why);
    }
  }

  private retry(why: string): void {
    if (this.stopped || this.retryTimer) return;
    this.failures += 1;
    const { firstMs, maxMs } = this.opts.backoff ?? { firstMs: 250, maxMs: 30_000 };
    const ms = Math.min(maxMs, firstMs * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    if (!this.current) this.status = { connected: false, detail: `reconnecting: ${why}` };
    this.opts.log.warn({ why, attempt: this.failures, inMs: Math.round(ms) }, 'Socket Mode: trying again');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open(why);
    }, ms);
    this.retryTimer.unref();
  }

  private async envelope(ws: WebSocket, frame: Frame): Promise<void> {
    const identity = { envelopeId: frame.envelope_id!, payload: frame.payload! };
    const claim = await this.opts.ledger.claim(identity).catch((err: unknown) => {
      // Without Redis nothing can be recorded anyway; the handlers answer with what they can.
      this.opts.log.warn({ err: (err as Error).message }, 'could not check the envelope ledger');
      return { first: true } as const;
    });
    if (!claim.first) {
      this.opts.log.info(
        {
          envelopeId: identity.envelopeId,
          retryAttempt: frame.retry_attempt,
          retryReason: frame.retry_reason,
        },
        claim.settled
          ? 'envelope delivered again: answered as before'
          : 'envelope delivered again while in hand',
      );
      // While the first delivery is still at work no ack goes out: Slack asks again, and by then it is settled.
      if (claim.settled) this.sendAck(ws, identity.envelopeId, claim.settled.payload);
      return;
    }
    let acked = false;
    const ack = async (response?: unknown): Promise<void> => {
      if (acked) return;
      acked = true;
      const payload =
        typeof response === 'string'
          ? { text: response }
          : response && typeof response === 'object'
            ? (response as Record<string, unknown>)
            : undefined;
      this.sendAck(ws, identity.envelopeId, payload);
      await this.opts.ledger.settle(identity, payload).catch(() => undefined);
    };
    try {
      await this.app?.processEvent({
        body: frame.payload!,
        ack,
        ...(frame.retry_attempt !== undefined ? { retryNum: frame.retry_attempt } : {}),
        ...(frame.retry_reason !== undefined ? { retryReason: frame.retry_reason } : {}),
        customProperties: {},
      });
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'Socket Mode envelope failed');
      await ack();
    }
  }

  /** Acks go back on the connection the envelope came on, or on the current one if that closed. */
  private sendAck(ws: WebSocket, envelopeId: string, payload: Record<string, unknown> | undefined): void {
    const target = ws.readyState === WebSocket.OPEN ? ws : this.current;
    target?.send(JSON.stringify({ envelope_id: envelopeId, ...(payload ? { payload } : {}) }));
  }
}

/**
 * `apps.connections.open` with the app-level token: a one-use WebSocket URL, or Slack's error
 * code (`invalid_auth`, `not_allowed_token_type`, `missing_scope` without connections:write).
 * Throws only when Slack cannot be reached or answers something else than the Web API.
 */
export async function openConnection(
  apiUrl: string,
  appToken: string,
): Promise<{ ok: true; url: string } | { ok: false; error: string }> {
  const response = await fetch(`${apiUrl}apps.connections.open`, {
    method: 'POST',
    headers: { authorization: `Bearer ${appToken}`, 'content-type': 'application/x-www-form-urlencoded' },
    signal: AbortSignal.timeout(OPEN_TIMEOUT_MS),
  });
  const parsed = OpenAnswer.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new Error(`HTTP ${response.status}, not a Web API answer`);
  if (parsed.data.ok && parsed.data.url) return { ok: true, url: parsed.data.url };
  return { ok: false, error: parsed.data.error ?? 'no url in the answer' };
}

function parseFrame(text: string): Frame | undefined {
  try {
    const parsed = Frame.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
