import { UsageError } from '../src/errors.js';
import type { HelpSection } from '../src/slack/cards.js';
import { parseArgs } from '../src/text/args.js';
import { tokenize, type Token } from '../src/text/tokenize.js';
import { checkReason, isHelp, noExtra, SERVICE_NAME, serviceToken, wordValue } from './shared.js';

export const USAGE =
  '/retract <service>@<tag> [--reason "<text>"] [--replacement <tag>] [--delete-assets] [--rollback]  ·  /retract undo <service>@<tag>  ·  /retract api …';
export const API_USAGE =
  '/retract api <service> <METHOD> <path-pattern> --sunset <date> [--successor <url>] [--policy <url>] [--brownout "<schedule>"] [--delay <max>]  ·  /retract api <service> usage | list | undo <METHOD> <path-pattern>';

export const help: HelpSection = {
  command: '/retract',
  usage: [
    '/retract <service>@<tag> [--reason "<text>"] [--replacement <tag>] [--delete-assets] [--rollback]',
    '/retract undo <service>@<tag>',
    '/retract api <service> <METHOD> <path-pattern> --sunset <date> [--successor <url>] [--policy <url>] [--brownout "<schedule>"] [--delay <max>]',
    '/retract api <service> usage | list | undo <METHOD> <path-pattern>',
    '/retract   (no arguments: pick a service and one of its releases in a dialog)',
  ],
  examples: [
    '/retract checkout-api@v1.4.2 --reason "corrupts carts on resume"',
    '/retract checkout-api@v1.4.2 --replacement v1.4.1 --rollback',
    '/retract undo checkout-api@v1.4.2',
    '/retract api checkout-api GET /v1/checkout/* --sunset 2027-03-01 --successor https://api.example.com/v2/checkout --brownout "2027-02-01T14:00Z/1h 25%"',
    '/retract api checkout-api usage',
  ],
  notes: [
    'Retracting marks the GitHub release pre-release, moves "latest" to the replacement and puts a RETRACTED banner on its notes. Nothing is deleted unless you ask (--delete-assets, which always needs approval). `undo` restores the release as it was.',
  ],
};

const TAG = /^[A-Za-z0-9][A-Za-z0-9._+\-/]{0,127}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*']);

export type RetractCommand =
  | { kind: 'help' }
  | { kind: 'modal' }
  | {
      kind: 'retract';
      service: string;
      tag: string;
      reason?: string;
      replacement?: string;
      deleteAssets: boolean;
      rollback: boolean;
    }
  | { kind: 'undo'; service: string; tag: string; reason?: string }
  | {
      kind: 'api-retire';
      service: string;
      method: string;
      pattern: string;
      sunset: string;
      successor?: string;
      policy?: string;
      brownout?: string;
      delay?: string;
      reason?: string;
    }
  | { kind: 'api-usage'; service: string }
  | { kind: 'api-list'; service: string }
  | { kind: 'api-undo'; service: string; method: string; pattern: string; reason?: string };

function serviceAtTag(token: Token | undefined, usage: string): { service: string; tag: string } {
  const value = wordValue(token);
  if (!value)
    throw new UsageError('Which release? Write it as <service>@<tag>, e.g. checkout-api@v1.4.2.', {
      hint: usage,
    });
  const at = value.indexOf('@');
  if (at <= 0 || at === value.length - 1) {
    throw new UsageError(
      `"${value.slice(0, 80)}" is not <service>@<tag>; write it like checkout-api@v1.4.2.`,
      { hint: usage },
    );
  }
  const service = value.slice(0, at);
  const tag = value.slice(at + 1);
  if (!SERVICE_NAME.test(service))
    throw new UsageError(`"${service.slice(0, 80)}" is not a service name.`, { hint: usage });
  if (!TAG.test(tag)) throw new UsageError(`"${tag.slice(0, 80)}" is not a release tag.`, { hint: usage });
  return { service: service.toLowerCase(), tag };
}

function httpUrl(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'https:' || url.protocol === 'http:') return url.toString();
  } catch {
    // fall through to the usage error
  }
  throw new UsageError(`--${flag} takes an http(s) URL; "${value.slice(0, 80)}" is not one.`, {
    hint: API_USAGE,
  });
}

function methodAndPattern(tokens: Token[], at: number): { method: string; pattern: string } {
  const method = wordValue(tokens[at])?.toUpperCase();
  if (!method || !METHODS.has(method)) {
    throw new UsageError(
      `Expected an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or *)${method ? `, got "${method.slice(0, 20)}"` : ''}.`,
      {
        hint: API_USAGE,
      },
    );
  }
  const pattern = wordValue(tokens[at + 1]);
  if (!pattern || !pattern.startsWith('/') || /\s/.test(pattern)) {
    throw new UsageError(
      `Expected a path pattern starting with "/" such as /v1/checkout/* or /v1/orders/:id${pattern ? `, got "${pattern.slice(0, 80)}"` : ''}.`,
      {
        hint: API_USAGE,
      },
    );
  }
  return { method, pattern };
}

function parseApi(tokens: Token[]): RetractCommand {
  const { positionals, flags } = parseArgs(
    tokens,
    {
      sunset: 'string',
      successor: 'string',
      policy: 'string',
      brownout: 'string',
      delay: 'string',
      reason: 'string',
    },
    API_USAGE,
  );
  const service = serviceToken(positionals[0], API_USAGE);
  const verb = wordValue(positionals[1])?.toLowerCase();
  const reason = checkReason(flags.get('reason') as string | undefined);
  const onlyReason = () => {
    const extra = [...flags.keys()].filter((k) => k !== 'reason');
    if (extra.length)
      throw new UsageError(`--${extra[0]} does not apply to \`${verb}\`.`, { hint: API_USAGE });
  };
  if (verb === 'usage' || verb === 'list') {
    noExtra(positionals, 2, API_USAGE);
    if (flags.size) throw new UsageError(`\`${verb}\` takes no options.`, { hint: API_USAGE });
    return { kind: verb === 'usage' ? 'api-usage' : 'api-list', service };
  }
  if (verb === 'undo') {
    onlyReason();
    const { method, pattern } = methodAndPattern(positionals, 2);
    noExtra(positionals, 4, API_USAGE);
    return { kind: 'api-undo', service, method, pattern, ...(reason ? { reason } : {}) };
  }
  const { method, pattern } = methodAndPattern(positionals, 1);
  noExtra(positionals, 3, API_USAGE);
  const sunset = flags.get('sunset') as string | undefined;
  if (!sunset)
    throw new UsageError(
      '--sunset is required: the date after which the endpoint answers 410 Gone (e.g. 2027-03-01).',
      { hint: API_USAGE },
    );
  const successor = httpUrl(flags.get('successor') as string | undefined, 'successor');
  const policy = httpUrl(flags.get('policy') as string | undefined, 'policy');
  const brownout = flags.get('brownout') as string | undefined;
  const delay = flags.get('delay') as string | undefined;
  return {
    kind: 'api-retire',
    service,
    method,
    pattern,
    sunset,
    ...(successor ? { successor } : {}),
    ...(policy ? { policy } : {}),
    ...(brownout ? { brownout } : {}),
    ...(delay ? { delay } : {}),
    ...(reason ? { reason } : {}),
  };
}

/** Pure: command text → typed command, or a UsageError that says what was wrong. */
export function parse(text: string): RetractCommand {
  const tokens = tokenize(text);
  if (tokens.length === 0) return { kind: 'modal' };
  if (isHelp(tokens)) return { kind: 'help' };
  const first = wordValue(tokens[0])?.toLowerCase();
  if (first === 'api') return parseApi(tokens.slice(1));
  if (first === 'undo') {
    const { positionals, flags } = parseArgs(tokens.slice(1), { reason: 'string' }, USAGE);
    const { service, tag } = serviceAtTag(positionals[0], USAGE);
    noExtra(positionals, 1, USAGE);
    const reason = checkReason(flags.get('reason') as string | undefined);
    return { kind: 'undo', service, tag, ...(reason ? { reason } : {}) };
  }
  const { positionals, flags } = parseArgs(
    tokens,
    { reason: 'string', replacement: 'string', 'delete-assets': 'boolean', rollback: 'boolean' },
    USAGE,
  );
  const { service, tag } = serviceAtTag(positionals[0], USAGE);
  noExtra(positionals, 1, USAGE);
  const replacement = flags.get('replacement') as string | undefined;
  if (replacement !== undefined && !TAG.test(replacement)) {
    throw new UsageError(`--replacement takes a release tag; "${replacement.slice(0, 80)}" is not one.`, {
      hint: USAGE,
    });
  }
  if (replacement === tag)
    throw new UsageError('--replacement cannot be the release being retracted.', { hint: USAGE });
  const reason = checkReason(flags.get('reason') as string | undefined);
  return {
    kind: 'retract',
    service,
    tag,
    ...(reason ? { reason } : {}),
    ...(replacement ? { replacement } : {}),
    deleteAssets: flags.get('delete-assets') === true,
    rollback: flags.get('rollback') === true,
  };
}
