import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Logger as BoltLogger, Receiver, ReceiverEvent } from '@slack/bolt';
import { HTTPModuleFunctions, HTTPResponseAck } from './bolt-runtime.js';
import { BodyTooLargeError, MAX_BODY_BYTES, readBody } from '../http/body-limit.js';
import { sendWhole } from '../http/send.js';

/** Slack's replay window: a request signed more than 5 minutes from now is refused. */
const MAX_SKEW_S = 5 * 60;

/**
 * What a slash command is acknowledged with, decided without any I/O (see commands/index.ts): a
 * message already serialised as JSON (or nothing: an empty 200), and whether that answer is all
 * there is to do (`complete`: a help with nothing to look up, a usage error), in which case Bolt
 * is not given the request at all.
 */
export interface CommandAcknowledgement {
  body?: string;
  complete?: boolean;
}

export type CommandAcknowledger = (body: Record<string, unknown>) => CommandAcknowledgement;

/**
 * A slash command's work after its acknowledgement waits until requests stop arriving for this long
 * (or the oldest has waited MAX_DEFER_MS), so that a burst is acknowledged before any of its slow
 * work starts. A click's work does not wait (see `handle`).
 */
const QUIET_MS = 10;
const MAX_DEFER_MS = 150;

export type AckKind = 'command' | 'action';

/** True when `signature` is Slack's v0 HMAC of `v0:<timestamp>:<raw body>` under `secret`. */
export function validSlackSignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  rawBody: Buffer,
  nowMs = Date.now(),
): boolean {
  if (!secret || !timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > MAX_SKEW_S) return false;
  const expected = Buffer.from(
    `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const single = (v: string | string[] | undefined) => (typeof v === 'string' ? v : undefined);

/**
 * POST /slack/events in front of Bolt. Slash commands and button clicks are answered as soon as
 * the signature checks out — the answer is computed without Redis, Kubernetes or Slack — and
 * then handed to Bolt's `processEvent`: a click at once, a slash command once a burst has been
 * acknowledged. Everything else
 * (modal submissions, whose acknowledgement carries validation errors; options; events) goes
 * through Bolt as its own HTTPReceiver would send it, acknowledged by the listener.
 */
export class SlackEventsReceiver implements Receiver {
  private app: App | undefined;
  private acknowledge: CommandAcknowledger = () => ({});
  private readonly deferred: (() => void)[] = [];
  private lastArrival = 0;
  private oldestDeferred = 0;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      signingSecret: string;
      logger: BoltLogger;
      unhandledRequestTimeoutMillis: number;
      onAck?: (kind: AckKind, seconds: number) => void;
    },
  ) {}

  init(app: App): void {
    this.app = app;
  }

  /** The HTTP server is backout's own (src/http/server.ts): nothing to start or stop here. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** Set once the commands are registered: decides each slash command's acknowledgement. */
  acknowledgeCommandsWith(fn: CommandAcknowledger): void {
    this.acknowledge = fn;
  }

  readonly requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    readBody(req, res, MAX_BODY_BYTES).then(
      (raw) => this.handle(req, res, raw, started),
      (err: unknown) => {
        if (err instanceof BodyTooLargeError) {
          this.opts.logger.warn(`Request body exceeded the maximum allowed size (limit: ${err.limit} bytes)`);
          return;
        }
        if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      },
    );
  };

  private handle(req: IncomingMessage, res: ServerResponse, rawBody: Buffer, started: number): void {
    const form = req.headers['content-type'] === 'application/x-www-form-urlencoded';
    // Slack's SSL check carries no signature and is answered with nothing else done.
    if (form && rawBody.toString('latin1').startsWith('ssl_check=1')) {
      HTTPModuleFunctions.buildSSLCheckResponse(res);
      return;
    }
    const signed = validSlackSignature(
      this.opts.signingSecret,
      single(req.headers['x-slack-request-timestamp']),
      single(req.headers['x-slack-signature']),
      rawBody,
    );
    if (!signed) {
      this.opts.logger.warn('Failed to verify authenticity: signature or timestamp not valid');
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = HTTPModuleFunctions.parseHTTPRequestBody(Object.assign(req, { rawBody })) as Record<
        string,
        unknown
      >;
    } catch (err) {
      this.opts.logger.warn(`Malformed request body: ${(err as Error).message}`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      return;
    }
    if (body.type === 'url_verification') {
      HTTPModuleFunctions.buildUrlVerificationResponse(res, body);
      return;
    }
    const kind: AckKind | undefined =
      typeof body.command === 'string' ? 'command' : body.type === 'block_actions' ? 'action' : undefined;
    if (kind) {
      const answer: CommandAcknowledgement = kind === 'command' ? this.acknowledge(body) : {};
      if (answer.body === undefined) res.writeHead(200).end();
      else sendWhole(res, 200, 'application/json', answer.body);
      this.opts.onAck?.(kind, (performance.now() - started) / 1000);
      if (answer.complete) return;
      // Already answered: the listener's own ack() has nothing left to send. A click's work starts
      // at once: deferred, an Approve could meet a Redis failover that began after its ack.
      const work = () => this.dispatch(req, res, body, () => Promise.resolve());
      if (kind === 'action') work();
      else this.defer(work);
      return;
    }
    const ack = new HTTPResponseAck({
      logger: this.opts.logger,
      processBeforeResponse: false,
      unhandledRequestTimeoutMillis: this.opts.unhandledRequestTimeoutMillis,
      httpRequest: Object.assign(req, { rawBody }),
      httpRequestBody: body,
      httpResponse: res,
    });
    this.dispatch(req, res, body, ack.bind(), ack);
  }

  private defer(work: () => void): void {
    const now = performance.now();
    this.lastArrival = now;
    if (this.deferred.length === 0) this.oldestDeferred = now;
    this.deferred.push(work);
    this.drainTimer ??= setTimeout(() => this.drain(), QUIET_MS);
  }

  private drain(): void {
    this.drainTimer = undefined;
    const now = performance.now();
    if (now - this.lastArrival < QUIET_MS && now - this.oldestDeferred < MAX_DEFER_MS) {
      this.drainTimer = setTimeout(() => this.drain(), QUIET_MS);
      return;
    }
    for (const work of this.deferred.splice(0)) work();
  }

  private dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    body: Record<string, unknown>,
    ack: ReceiverEvent['ack'],
    pending?: HTTPResponseAck,
  ): void {
    const event: ReceiverEvent = {
      body,
      ack,
      retryNum: HTTPModuleFunctions.extractRetryNumFromHTTPRequest(req),
      retryReason: HTTPModuleFunctions.extractRetryReasonFromHTTPRequest(req),
      customProperties: {},
    };
    this.app?.processEvent(event).catch(async (error: unknown) => {
      if (!pending) {
        this.opts.logger.error(`An error occurred after the acknowledgement: ${String(error)}`);
        return;
      }
      // Not yet acknowledged: answered as Bolt's own HTTPReceiver would (e.g. 404 for no listener).
      const answered = await HTTPModuleFunctions.defaultProcessEventErrorHandler({
        error: error as Error,
        logger: this.opts.logger,
        request: req,
        response: res,
        storedResponse: pending.storedResponse as unknown,
      });
      if (answered) pending.ack();
    });
  }
}
