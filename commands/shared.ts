import { z } from 'zod';
import type { Config, EnvironmentConfig, ServiceConfig } from '../src/config/model.js';
import { pickEnvironment } from '../src/config/model.js';
import { asBackoutError, UsageError } from '../src/errors.js';
import { renderError } from '../src/slack/cards.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { Responder } from '../src/slack/respond.js';
import type { SlackPlace } from '../src/requests/types.js';
import { QUICK, type Lane } from '../src/queue/lanes.js';
import { closest } from '../src/text/suggest.js';
import type { Token } from '../src/text/tokenize.js';

/** Who ran a command, from where. */
export interface Invocation {
  user: string;
  channel: string;
  threadTs?: string;
  responseUrl?: string;
  triggerId?: string;
}

export const MAX_REASON_LENGTH = 500;

export function isHelp(tokens: Token[]): boolean {
  const first = tokens[0];
  return tokens.length === 1 && first?.kind === 'word' && /^(help|-h|--help|\?)$/i.test(first.value);
}

/** A service name as typed, checked against the config with a suggestion when it is close. */
export function resolveService(config: Config, name: string): ServiceConfig {
  const service = config.services.get(name.toLowerCase());
  if (service) return service;
  const names = [...config.services.keys()];
  const guess = closest(name, names);
  throw new UsageError(`There is no service called "${name}".${guess ? ` Did you mean \`${guess}\`?` : ''}`, {
    hint: `Services: ${names.map((n) => `\`${n}\``).join(', ')}.`,
  });
}

export function resolveEnvironment(service: ServiceConfig, name: string | undefined): EnvironmentConfig {
  const env = pickEnvironment(service, name?.toLowerCase());
  if (env) return env;
  const names = [...service.environments.keys()];
  if (name) {
    const guess = closest(name, names);
    throw new UsageError(
      `${service.name} has no environment called "${name}".${guess ? ` Did you mean \`${guess}\`?` : ''}`,
      { hint: `Environments of ${service.name}: ${names.map((n) => `\`${n}\``).join(', ')}.` },
    );
  }
  throw new UsageError(
    `${service.name} has several environments and none is the default; say which with --env.`,
    {
      hint: `Environments of ${service.name}: ${names.map((n) => `\`${n}\``).join(', ')}.`,
    },
  );
}

export function checkReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  const trimmed = reason.trim();
  if (trimmed.length > MAX_REASON_LENGTH) {
    throw new UsageError(
      `The reason is ${trimmed.length} characters long; keep it under ${MAX_REASON_LENGTH}.`,
    );
  }
  return trimmed || undefined;
}

/**
 * Where a request's card and thread go: the thread the command came from when run in one;
 * the channel it came from when that is a channel backout knows (a service's or the
 * incident channel); otherwise the incident channel (or the environment's channel).
 */
export function placeFor(config: Config, env: { channel?: string } | undefined, inv: Invocation): SlackPlace {
  const responseUrl = inv.responseUrl ? { responseUrl: inv.responseUrl } : {};
  if (inv.threadTs) return { channel: inv.channel, threadTs: inv.threadTs, ...responseUrl };
  if (config.knownChannels.has(inv.channel)) return { channel: inv.channel, ...responseUrl };
  const channel = config.incidentChannel ?? env?.channel ?? inv.channel;
  return { channel, ...responseUrl };
}

export function wordValue(token: Token | undefined): string | undefined {
  if (!token) return undefined;
  return token.kind === 'word' || token.kind === 'link' ? token.value : undefined;
}

/** Rejects positionals beyond those a command takes, naming the first one. */
export function noExtra(tokens: Token[], from: number, usage: string): void {
  const extra = tokens[from];
  if (!extra) return;
  const shown = extra.kind === 'word' ? extra.value : extra.kind;
  throw new UsageError(
    `I did not understand "${shown}" there.${extra.kind === 'word' && !extra.value.startsWith('-') ? ' A reason goes in --reason "…".' : ''}`,
    {
      hint: usage,
    },
  );
}

export const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/i;

export function serviceToken(token: Token | undefined, usage: string): string {
  const value = wordValue(token);
  if (!value) throw new UsageError('Which service? Name it first.', { hint: usage });
  if (!SERVICE_NAME.test(value)) {
    throw new UsageError(`"${value.slice(0, 80)}" is not a service name (letters, digits and dashes).`, {
      hint: usage,
    });
  }
  return value.toLowerCase();
}

const modalPlace = z.object({
  channel: z.string(),
  responseUrl: z.string().optional(),
  threadTs: z.string().optional(),
});

/** What a dialog carries in its private_metadata: where the command was run, to answer there. */
export function encodeModalPlace(inv: Invocation): string {
  return JSON.stringify({
    channel: inv.channel,
    ...(inv.responseUrl ? { responseUrl: inv.responseUrl } : {}),
    ...(inv.threadTs ? { threadTs: inv.threadTs } : {}),
  });
}

/** The invocation behind a dialog submission, from its private_metadata (validated). */
export function modalInvocation(user: string, metadata: string): Invocation {
  const meta = modalPlace.parse(JSON.parse(metadata));
  return {
    user,
    channel: meta.channel,
    ...(meta.responseUrl ? { responseUrl: meta.responseUrl } : {}),
    ...(meta.threadTs ? { threadTs: meta.threadTs } : {}),
  };
}

/**
 * Runs what a dialog asked for and answers the person through the command's response_url:
 * the outcome, or what went wrong.
 */
export async function answerDialog(
  inv: Invocation,
  responder: Responder,
  work: () => Promise<{ message: SlackMessage }>,
): Promise<void> {
  let text: string;
  try {
    text = (await work()).message.text;
  } catch (err) {
    text = renderError(asBackoutError(err)).text;
  }
  if (inv.responseUrl) await responder.respond(inv.responseUrl, { text });
}

/** The planning lane of a service's environment: one per Kubernetes context. */
export function kubernetesLane(config: Config, service: string, env?: string): Lane {
  const svc = config.services.get(service);
  const picked = svc ? pickEnvironment(svc, env) : undefined;
  return picked ? { kind: 'plan', key: `Kubernetes context ${picked.kubernetes.context}` } : QUICK;
}

/** The planning lane of a service's GitHub repository. */
export function githubLane(config: Config, service: string): Lane {
  const repo = config.services.get(service)?.github?.repo;
  return repo ? { kind: 'plan', key: `GitHub repo ${repo}` } : QUICK;
}
