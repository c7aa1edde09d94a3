import type { Logger as BoltLogger } from '@slack/bolt';
import { App, LogLevel } from './bolt-runtime.js';
import type { Env } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import type { EnvelopeLedger } from './envelope-ledger.js';
import { SlackEventsReceiver, type AckKind } from './receiver.js';
import { SocketModeLink } from './socket-mode.js';

/** Slack Web API calls have bounded timeouts and few retries: BullMQ owns long retries. */
export function slackClientOptions(env: Env) {
  return {
    ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
    timeout: 10_000,
    retryConfig: { retries: 2, factor: 2, minTimeout: 300, maxTimeout: 2_000, randomize: true },
  };
}

function boltLogger(log: Logger): BoltLogger {
  const child = log.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  return {
    debug: (...msg: unknown[]) => child.debug(msg.map(String).join(' ')),
    info: (...msg: unknown[]) => child.info(msg.map(String).join(' ')),
    warn: (...msg: unknown[]) => child.warn(msg.map(String).join(' ')),
    error: (...msg: unknown[]) => child.error(msg.map(String).join(' ')),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

export interface SlackSurface {
  app: App;
  /** Set in HTTP mode: the request listener for POST /slack/events. */
  receiver?: SlackEventsReceiver;
  socketMode: boolean;
  /** Set in Socket Mode: the connection to Slack, whose state readiness reports. */
  link?: SocketModeLink;
}

/**
 * Bolt in HTTP mode (signed requests on POST /slack/events, verified and acknowledged by
 * SlackEventsReceiver; replays older than 5 minutes refused) or in Socket Mode when
 * SLACK_APP_TOKEN is set.
 * `auth.test` is never called (not at start-up, not per request), so readiness depends on
 * Redis only; `backout doctor` checks the token.
 */
export function createSlackSurface(
  env: Env,
  log: Logger,
  ledger: EnvelopeLedger,
  onAck?: (kind: AckKind, seconds: number) => void,
): SlackSurface {
  const logger = boltLogger(log);
  const botToken = env.SLACK_BOT_TOKEN;
  const common = {
    // One workspace, one bot token. Given as `authorize` rather than `token` so Bolt does not
    // call auth.test for every request (it would, with token verification off): the
    // acknowledgement path makes no Web API call at all.
    authorize: () => Promise.resolve({ botToken }),
    clientOptions: slackClientOptions(env),
    logger,
    // backout listens to no message events, so there is nothing of its own to ignore.
    ignoreSelf: false,
    // No listener keeps conversation state; Bolt's default store would look every request up
    // and build an Error ("Conversation not found") for each.
    convoStore: false as const,
  };
  if (env.SLACK_APP_TOKEN) {
    const apiUrl = (env.SLACK_API_URL ?? 'https://slack.com/api/').replace(/\/?$/, '/');
    const link = new SocketModeLink({ appToken: env.SLACK_APP_TOKEN, apiUrl, log, ledger });
    return { app: new App({ ...common, receiver: link }), socketMode: true, link };
  }
  const receiver = new SlackEventsReceiver({
    signingSecret: env.SLACK_SIGNING_SECRET ?? '',
    logger,
    unhandledRequestTimeoutMillis: 3_001,
    ...(onAck ? { onAck } : {}),
  });
  return { app: new App({ ...common, receiver }), receiver, socketMode: false };
}
