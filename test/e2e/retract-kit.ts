import type { GitHubRelease, SeedRelease } from '../doubles/github.js';
import { findButton, type SlackClient } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { PEOPLE, type World } from '../kit/world.js';

export const REPO = 'acme/checkout';
const DAY = 86_400_000;

/** The notes of v1.4.2 as published: what an undo must give back byte for byte. */
export const V142_NOTES = '## What changed\n\n- Faster cart resume\n- New payment retry policy\n';

/**
 * acme/checkout with three published releases, v1.4.2 the latest (computed, as GitHub does), each with
 * two assets; the Kubernetes doubles run shop/checkout:1.4.2 in production and staging.
 */
export function seedReleases(
  world: World,
  extra: { v142?: Partial<SeedRelease>; more?: SeedRelease[] } = {},
) {
  const now = Date.now();
  const assets = (tag: string) => [
    { name: `checkout-${tag}-linux-amd64.tar.gz`, content: `binary of ${tag}` },
    { name: `checkout-${tag}.sbom.json`, content: `{"sbom":"${tag}"}` },
  ];
  const v140 = world.github.addRelease(REPO, {
    tag: 'v1.4.0',
    body: 'Release v1.4.0',
    createdAt: new Date(now - 3 * DAY),
    assets: assets('v1.4.0'),
  });
  const v141 = world.github.addRelease(REPO, {
    tag: 'v1.4.1',
    body: 'Release v1.4.1',
    createdAt: new Date(now - 2 * DAY),
    assets: assets('v1.4.1'),
  });
  const v142 = world.github.addRelease(REPO, {
    tag: 'v1.4.2',
    name: 'v1.4.2 — faster carts',
    body: V142_NOTES,
    createdAt: new Date(now - DAY),
    assets: assets('v1.4.2'),
    ...extra.v142,
  });
  for (const more of extra.more ?? []) world.github.addRelease(REPO, more);
  return { v140, v141, v142 };
}

/** Sends a slash command and returns what the requester was answered (the ack, then the response_url reply). */
export async function command(
  world: World,
  client: SlackClient,
  command: string,
  text: string,
  user: string = PEOPLE.requester,
): Promise<{ ack: string; reply: () => Promise<string> }> {
  const responseUrl = world.slack.newResponseUrl();
  const res = await client.command({
    command,
    text,
    user_id: user,
    channel_id: PEOPLE.checkout,
    response_url: responseUrl,
  });
  const ack =
    typeof res.json === 'object' && res.json !== null && 'text' in res.json
      ? String(res.json.text)
      : res.body;
  return {
    ack,
    reply: async () => {
      const r = await waitFor(() => world.slack.responses(responseUrl)[0], {
        what: `answer to ${command} ${text}`,
      });
      return typeof r.body.text === 'string' ? r.body.text : '';
    },
  };
}

/** The newest top-level card in the service channel whose text matches. */
export async function cardMatching(world: World, pattern: RegExp, after = 0) {
  return waitFor(
    () =>
      world.slack
        .messages(PEOPLE.checkout)
        .filter((m) => !m.thread_ts && Number(m.ts) > after && pattern.test(m.text))
        .pop(),
    { what: `a card matching ${pattern}` },
  );
}

export async function approve(world: World, client: SlackClient, cardTs: string, user: string = PEOPLE.sre1) {
  const card = world.slack.message(PEOPLE.checkout, cardTs);
  const button = findButton(card?.blocks, 'backout_approve');
  const responseUrl = world.slack.newResponseUrl();
  await client.blockAction({
    user,
    channel: PEOPLE.checkout,
    messageTs: cardTs,
    actionId: button.actionId,
    value: button.value,
    responseUrl,
  });
  return responseUrl;
}

export async function clickUndo(
  world: World,
  client: SlackClient,
  cardTs: string,
  user: string = PEOPLE.requester,
) {
  const card = world.slack.message(PEOPLE.checkout, cardTs);
  const button = findButton(card?.blocks, 'backout_undo');
  const responseUrl = world.slack.newResponseUrl();
  await client.blockAction({
    user,
    channel: PEOPLE.checkout,
    messageTs: cardTs,
    actionId: button.actionId,
    value: button.value,
    responseUrl,
  });
  return responseUrl;
}

/** Waits until the card says Done (or Failed), printing the thread when it does not. */
export async function finished(world: World, cardTs: string, timeoutMs = 30_000, logs?: () => string) {
  return waitFor(
    () => {
      const m = world.slack.message(PEOPLE.checkout, cardTs);
      return m && /— (done|failed)/.test(m.text) ? m : undefined;
    },
    { what: 'the card to say done or failed', timeoutMs },
  ).catch((err: unknown) => {
    console.log(world.slack.transcript(PEOPLE.checkout, cardTs));
    if (logs) console.log(logs());
    throw err;
  });
}

export function release(world: World, tag: string): GitHubRelease {
  return world.github.release(REPO, tag);
}

/** Writes the double received, as `METHOD path` plus the body keys, for exactly-once assertions. */
export function writeLog(world: World, since = 0) {
  return world.github.writes().slice(since);
}
