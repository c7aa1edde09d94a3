import { UsageError } from '../src/errors.js';
import type { HelpSection } from '../src/slack/cards.js';
import { parseArgs } from '../src/text/args.js';
import { tokenize } from '../src/text/tokenize.js';
import { checkReason, isHelp, noExtra, serviceToken, wordValue } from './shared.js';

export const USAGE =
  '/canary <service> [--env <env>] status | start <image> | promote [--full] | abort [--reason "<text>"]';

export const help: HelpSection = {
  command: '/canary',
  usage: [
    '/canary <service> [--env <env>] status',
    '/canary <service> [--env <env>] start <image> [--reason "<text>"] [--ticket <url>] [--break-glass "<reason>"]',
    '/canary <service> [--env <env>] promote [--full] [--break-glass "<reason>"]',
    '/canary <service> [--env <env>] abort [--reason "<text>"]',
  ],
  examples: [
    '/canary checkout-api start registry.example.com/shop/checkout:1.5.0',
    '/canary checkout-api status',
    '/canary checkout-api promote --full',
    '/canary checkout-api abort --reason "p99 regression"',
  ],
  notes: [
    'A canary walks its steps (default 5 → 20 → 50 → 100 %), analysing health at each; too many failed checks abort it automatically. Going to 100 % always waits for an Approve.',
  ],
};

// An OCI image reference: registry/path:tag or @sha256:digest.
const IMAGE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export type CanaryCommand =
  | { kind: 'help' }
  | { kind: 'status'; service: string; env?: string }
  | {
      kind: 'start';
      service: string;
      env?: string;
      image: string;
      reason?: string;
      /** The change ticket (a gate may require one). */
      ticket?: string;
      /** Override of failing gates, by someone the environment's gates.breakGlass names. */
      breakGlass?: string;
    }
  | {
      kind: 'promote';
      service: string;
      env?: string;
      full: boolean;
      reason?: string;
      /** Approve 100 % although a gate fails, by someone the environment's gates.breakGlass names. */
      breakGlass?: string;
    }
  | { kind: 'abort'; service: string; env?: string; reason?: string };

/** Pure: command text → typed command, or a UsageError that says what was wrong. */
export function parse(text: string): CanaryCommand {
  const tokens = tokenize(text);
  if (tokens.length === 0 || isHelp(tokens)) return { kind: 'help' };
  const { positionals, flags } = parseArgs(
    tokens,
    { env: 'string', full: 'boolean', reason: 'string', ticket: 'string', 'break-glass': 'string' },
    USAGE,
  );
  const service = serviceToken(positionals[0], USAGE);
  const env = flags.get('env') as string | undefined;
  const action = wordValue(positionals[1])?.toLowerCase();
  const reason = checkReason(flags.get('reason') as string | undefined);
  const base = { service, ...(env ? { env } : {}) };
  if (flags.has('full') && action !== 'promote')
    throw new UsageError('--full goes with `promote`.', { hint: USAGE });
  if (flags.has('ticket') && action !== 'start')
    throw new UsageError('--ticket goes with `start`.', { hint: USAGE });
  if (flags.has('break-glass') && action !== 'start' && action !== 'promote')
    throw new UsageError('--break-glass goes with `start` or `promote`.', { hint: USAGE });
  const ticket = ticketUrl(flags.get('ticket') as string | undefined);
  const breakGlass = checkReason(flags.get('break-glass') as string | undefined);
  if (flags.has('break-glass') && !breakGlass)
    throw new UsageError('--break-glass needs a reason: `--break-glass "<why this cannot wait>"`.', {
      hint: USAGE,
    });
  switch (action) {
    case undefined:
    case 'status':
      noExtra(positionals, 2, USAGE);
      if (reason) throw new UsageError('`status` takes no --reason.', { hint: USAGE });
      return { kind: 'status', ...base };
    case 'start': {
      const image = wordValue(positionals[2]);
      if (!image) throw new UsageError('Which image? `/canary <service> start <image>`.', { hint: USAGE });
      if (!IMAGE.test(image))
        throw new UsageError(
          `"${image.slice(0, 120)}" is not an image reference such as registry.example.com/shop/checkout:1.5.0.`,
          { hint: USAGE },
        );
      noExtra(positionals, 3, USAGE);
      return {
        kind: 'start',
        ...base,
        image,
        ...(reason ? { reason } : {}),
        ...(ticket ? { ticket } : {}),
        ...(breakGlass ? { breakGlass } : {}),
      };
    }
    case 'promote':
      noExtra(positionals, 2, USAGE);
      return {
        kind: 'promote',
        ...base,
        full: flags.get('full') === true,
        ...(reason ? { reason } : {}),
        ...(breakGlass ? { breakGlass } : {}),
      };
    case 'abort':
      noExtra(positionals, 2, USAGE);
      return { kind: 'abort', ...base, ...(reason ? { reason } : {}) };
    default:
      throw new UsageError(
        `"${action.slice(0, 40)}" is not a canary action; use status, start, promote or abort.`,
        { hint: USAGE },
      );
  }
}

function ticketUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'https:' || url.protocol === 'http:') return url.toString();
  } catch {
    // fall through to the usage error
  }
  throw new UsageError(
    `--ticket takes the change ticket's http(s) URL; "${value.slice(0, 80)}" is not one.`,
    {
      hint: USAGE,
    },
  );
}
