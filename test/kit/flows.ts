import type { Queue } from 'bullmq';
import type { KubernetesDouble } from '../doubles/kubernetes.js';
import type { SlackMessage } from '../doubles/slack.js';
import { findButton, type SlackClient } from './slack-signing.js';
import { waitFor } from './wait.js';
import { PEOPLE, type World } from './world.js';

/** Common end-to-end moves: run a command, find the card, click its buttons, read what Slack shows. */

export interface Bot {
  client: SlackClient;
}

/** Runs a slash command; returns the acknowledgement's text and a waiter for the response_url answer. */
export async function run(
  world: World,
  bot: Bot,
  command: string,
  text: string,
  opts: { user?: string; channel?: string } = {},
) {
  const url = world.slack.newResponseUrl();
  const ack = await bot.client.command({
    command,
    text,
    user_id: opts.user ?? PEOPLE.requester,
    channel_id: opts.channel ?? PEOPLE.checkout,
    response_url: url,
  });
  return {
    ack,
    ackText: (ack.json as { text?: string } | undefined)?.text ?? '',
    answer: async () =>
      JSON.stringify(
        (await waitFor(() => world.slack.responses(url)[0], { what: `answer to ${command} ${text}` })).body,
      ),
  };
}

/** The nth top-level message (a request card) in a channel. */
export function cardIn(
  world: World,
  channel: string = PEOPLE.checkout,
  nth = 0,
  timeoutMs = 20_000,
): Promise<SlackMessage> {
  return waitFor(() => world.slack.messages(channel).filter((m) => !m.thread_ts)[nth], {
    what: `card #${nth + 1} in ${channel}`,
    timeoutMs,
  });
}

/**
 * Clicks a button of a card as `user`; returns the response_url the answer goes to. The
 * button is looked for on the card as Slack shows it now, else on the copy passed in (a
 * stale card still open on someone's screen).
 */
export async function click(
  world: World,
  bot: Bot,
  card: SlackMessage,
  actionId: string,
  user: string,
): Promise<string> {
  const current = world.slack.message(card.channel, card.ts);
  let button;
  try {
    button = findButton(current?.blocks, actionId);
  } catch {
    button = findButton(card.blocks, actionId);
  }
  const url = world.slack.newResponseUrl();
  await bot.client.blockAction({
    user,
    channel: card.channel,
    messageTs: card.ts,
    actionId: button.actionId,
    value: button.value,
    responseUrl: url,
  });
  return url;
}

/** The card's current text and blocks, as one string to match against. */
export function cardText(world: World, card: { channel: string; ts: string }): string {
  const m = world.slack.message(card.channel, card.ts);
  return m ? `${m.text}\n${JSON.stringify(m.blocks)}` : '';
}

export function waitCard(
  world: World,
  card: { channel: string; ts: string },
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  return waitFor(() => (pattern.test(cardText(world, card)) ? cardText(world, card) : undefined), {
    what: `card to match ${pattern}`,
    timeoutMs,
  });
}

/** Successful and failed PATCHes the API server received for one Deployment. */
export function deploymentPatches(k8s: KubernetesDouble, namespace = 'shop', name = 'checkout-api') {
  return k8s.requests.filter(
    (r) => r.method === 'PATCH' && r.path.endsWith(`/namespaces/${namespace}/deployments/${name}`),
  );
}

/** Audit event types from the Redis stream, in order. */
export async function auditTypes(world: World): Promise<string[]> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  return entries.map(([, f]) => (JSON.parse(f[1]!) as { type: string }).type);
}

/** Step numbers of the step replies in a card's thread, in thread order. */
export function stepNumbers(world: World, card: { channel: string; ts: string }, total = 7): number[] {
  const pattern = new RegExp(`Step (\\d+)/${total}`);
  return world.slack
    .thread(card.channel, card.ts)
    .slice(1)
    .map((m) => pattern.exec(m.text)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
}

/** True when no two replies in the thread carry the same text. */
export function noDuplicateReplies(world: World, card: { channel: string; ts: string }): boolean {
  const texts = world.slack
    .thread(card.channel, card.ts)
    .slice(1)
    .map((m) => m.text);
  return new Set(texts).size === texts.length;
}

/**
 * Runs one sweep now, through the app's own timers worker, and waits for it to finish; throws
 * with the reason when it failed.
 */
export async function sweepNow(timers: Queue): Promise<void> {
  const job = await timers.add('sweep', {}, { removeOnComplete: false });
  const done = await waitFor(
    async () => {
      const j = await timers.getJob(job.id!);
      return j?.finishedOn !== undefined ? j : undefined;
    },
    { what: 'the sweep' },
  );
  if (done.failedReason) throw new Error(`the sweep failed: ${done.failedReason}`);
}
