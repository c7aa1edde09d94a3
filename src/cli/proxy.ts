import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import type { ClientIdOption } from '../api-retirement/client-id.js';
import type { ListenAddress } from '../api-retirement/proxy/server.js';
import { forwardedSource, trustList } from '../api-retirement/proxy/forwarded.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { parseArgs, stringFlag } from './args.js';
import { cliRedisSetup, readEnv, REDIS_ENV, type CliIo } from './context.js';
import { describeTopology, topologyPassword } from '../redis/topology.js';

export interface ProxySettings {
  service: string;
  upstream: URL;
  listen: ListenAddress;
  admin: ListenAddress;
  clientId: ClientIdOption;
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Pure: the flags of `backout proxy`, each problem a UsageError that names the flag. */
export function parseProxyArgs(argv: readonly string[]): ProxySettings {
  const args = parseArgs(argv, {
    valued: [
      'service',
      'upstream',
      'listen',
      'admin-listen',
      'client-id',
      'trusted-proxies',
      'upstream-timeout',
      'connect-timeout',
    ],
  });
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const service = stringFlag(args, 'service');
  if (!service)
    throw new UsageError('--service is required: the service name in backout.yml, e.g. --service checkout');
  const upstreamText = stringFlag(args, 'upstream');
  if (!upstreamText) throw new UsageError('--upstream is required, e.g. --upstream http://127.0.0.1:8080');
  let upstream: URL;
  try {
    upstream = new URL(upstreamText);
  } catch {
    throw new UsageError(`--upstream must be an absolute http(s) URL, got "${upstreamText}"`);
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:')
    throw new UsageError(`--upstream must be an http:// or https:// URL, got "${upstreamText}"`);
  const trusted = (stringFlag(args, 'trusted-proxies') ?? '').split(',').filter(Boolean);
  try {
    trustList(trusted);
  } catch (err) {
    throw new UsageError(`--trusted-proxies: ${(err as Error).message}`);
  }
  return {
    service,
    upstream,
    listen: address(stringFlag(args, 'listen') ?? ':8081', '--listen'),
    admin: address(stringFlag(args, 'admin-listen') ?? ':9464', '--admin-listen'),
    clientId: clientId(stringFlag(args, 'client-id') ?? 'source', trusted),
    upstreamTimeoutMs: duration(stringFlag(args, 'upstream-timeout') ?? '60s', '--upstream-timeout'),
    connectTimeoutMs: duration(stringFlag(args, 'connect-timeout') ?? '5s', '--connect-timeout'),
  };
}

function address(text: string, flag: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535)
    throw new UsageError(`${flag} must be [host]:port such as :8081, got "${text}"`);
  const host = match[1] ?? match[2];
  return host ? { host, port } : { port };
}

function clientId(text: string, trusted: readonly string[]): ClientIdOption {
  if (text === 'source') return trusted.length > 0 ? forwardedSource(trusted) : 'source';
  const [kind, name] = [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':') + 1)];
  if (text.includes(':') && name && kind === 'header') return { header: name };
  if (text.includes(':') && name && kind === 'api-key') return { apiKeyHeader: name };
  throw new UsageError(`--client-id must be source, header:<name> or api-key:<header>, got "${text}"`);
}

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`${flag} must be a duration such as 30s, got "${text}"`);
  return ms;
}

/** Runs until SIGTERM/SIGINT; Redis comes from the same environment as the bot's (any topology). */
export async function proxy(argv: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const settings = parseProxyArgs(argv);
  const env = readEnv(io.env, [...REDIS_ENV, 'LOG_LEVEL']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout proxy: ${p}`);
    return 2;
  }
  const redisFound = cliRedisSetup(io.env, env.env);
  if (!redisFound.ok) {
    for (const p of redisFound.problems) io.err(`backout proxy: ${p}`);
    return 2;
  }
  const { topology, prefix } = redisFound.setup;
  const secrets = [topologyPassword(topology)].filter((s): s is string => Boolean(s));
  const log = createLogger({ level: env.env.LOG_LEVEL, secrets }).child({
    component: 'proxy',
    service: settings.service,
  });
  const { createDeprecationMiddleware } = await import('../api-retirement/middleware/index.js');
  const { startRetirementProxy } = await import('../api-retirement/proxy/server.js');
  const errors = rateLimitedErrors(log);
  // Standalone: the middleware owns its connection from the URL. Sentinel and Cluster: the same
  // client the bot builds (failover following, replica acknowledgement), closed here on stop.
  const shared =
    topology.kind === 'standalone'
      ? undefined
      : (await import('../queue/redis.js')).createRedis(topology, 'command', {
          log,
          repeats: new (await import('../redis/repeat-log.js')).RepeatLog(log),
        });
  const middleware = createDeprecationMiddleware({
    redis: topology.kind === 'standalone' ? topology.url : shared!,
    service: settings.service,
    prefix,
    clientId: settings.clientId,
    onError: (err) => errors(err, 'registry'),
  });
  const running = await startRetirementProxy({
    middleware,
    service: settings.service,
    upstream: settings.upstream,
    listen: settings.listen,
    admin: settings.admin,
    upstreamTimeoutMs: settings.upstreamTimeoutMs,
    connectTimeoutMs: settings.connectTimeoutMs,
    onError: errors,
  });
  log.info(
    {
      port: running.port,
      adminPort: running.adminPort,
      upstream: settings.upstream.origin,
      redis: describeTopology(topology),
    },
    'backout proxy listening',
  );
  await new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  log.info('backout proxy stopping: finishing requests in flight and flushing usage counts');
  await running.close();
  await middleware.close();
  shared?.disconnect();
  return 0;
}

/** At most one log line per cause every 10 s, with how many were folded into it. */
function rateLimitedErrors(log: Logger) {
  const last = new Map<string, { at: number; folded: number }>();
  return (err: unknown, context: string) => {
    const cause = (err as NodeJS.ErrnoException)?.code ?? (err instanceof Error ? err.message : String(err));
    const key = `${context}:${cause}`;
    const now = Date.now();
    const seen = last.get(key);
    if (seen && now - seen.at < 10_000) {
      seen.folded++;
      return;
    }
    log.warn({ context, cause, repeated: seen?.folded ?? 0 }, `backout proxy: ${context}: ${cause}`);
    last.set(key, { at: now, folded: 0 });
  };
}
