import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { registryKeys } from '../api-retirement/keys.js';
import { parseArgs, stringFlag } from './args.js';
import { readEnv, type CliIo } from './context.js';

/**
 * The commands `backout/middleware` sends, and nothing else: connecting (ioredis's ready
 * check is INFO), reading the registry (GET, HGETALL in MULTI/EXEC), listening for changes
 * (SUBSCRIBE on its own connection), and recording usage through one Lua script (EVALSHA,
 * SCRIPT LOAD; inside it HLEN/HEXISTS/HINCRBY/HGET/HSET/EXPIRE on the usage keys only).
 */
const MIDDLEWARE_COMMANDS = [
  'ping',
  'info',
  'hello',
  'client|setname',
  'select',
  'get',
  'hgetall',
  'multi',
  'exec',
  'discard',
  'subscribe',
  'unsubscribe',
  'evalsha',
  'script|load',
  'script|exists',
  'hlen',
  'hexists',
  'hincrby',
  'hget',
  'hset',
  'expire',
];

/** A Redis glob matching `text` literally (the prefix may hold a `{hash tag}`; `*?[]\` are escaped). */
function literal(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export interface MiddlewareAclOptions {
  prefix: string;
  user: string;
  password: string;
}

/**
 * The ACL for services that embed the middleware: read the registry of their prefix, hear its
 * change channel, count usage. No other key (requests, target locks, queues, the audit
 * stream) and no other channel can be read or written.
 */
export function middlewareAcl(o: MiddlewareAclOptions): string[] {
  const keys = registryKeys(o.prefix);
  const registryPattern = `${literal(keys.registry(''))}*`;
  const versionPattern = `${literal(keys.version(''))}*`;
  const usagePattern = `${literal(`${o.prefix}:api:usage:`)}*`;
  return [
    'ACL',
    'SETUSER',
    o.user,
    'reset',
    'on',
    `>${o.password}`,
    '-@all',
    ...MIDDLEWARE_COMMANDS.map((c) => `+${c}`),
    `%R~${registryPattern}`,
    `%R~${versionPattern}`,
    `%RW~${usagePattern}`,
    `&${literal(keys.changed)}`,
  ];
}

/** One line as `redis-cli` reads it (arguments with spaces or quotes are quoted). */
export function commandLine(args: string[]): string {
  return args.map((a) => (/[\s"'\\]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/**
 * `backout redis-acl middleware [--user <name>] [--password <p>]`: prints the `ACL SETUSER`
 * line for the middleware's Redis user (for `BACKOUT_PREFIX`) on stdout, ready for
 * `| redis-cli`; without --password one is generated. Hints go to stderr.
 */
export function redisAcl(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: ['user', 'password'] });
  const [which, ...extra] = args.positionals;
  if (which !== 'middleware' || extra.length > 0) {
    throw new UsageError('say which user: `backout redis-acl middleware` (the only one there is)');
  }
  const env = readEnv(io.env, ['BACKOUT_PREFIX']);
  if (!env.ok) {
    io.err(`backout redis-acl: ${env.problems.join('; ')}`);
    return Promise.resolve(1);
  }
  const user = stringFlag(args, 'user') ?? 'backout-middleware';
  if (!/^[A-Za-z0-9._-]+$/.test(user))
    throw new UsageError('--user may hold letters, digits, ".", "_" and "-"');
  const given = stringFlag(args, 'password');
  if (given !== undefined && /\s/.test(given)) throw new UsageError('--password must not contain spaces');
  const password = given ?? randomBytes(24).toString('base64url');
  const prefix = env.env.BACKOUT_PREFIX;
  io.out(commandLine(middlewareAcl({ prefix, user, password })));
  io.err(
    `# Services then connect with REDIS_URL=redis://${user}:${given ? '<password>' : password}@<host>:6379 and prefix "${prefix}".`,
  );
  return Promise.resolve(0);
}
