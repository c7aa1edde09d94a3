/**
 * Which Redis backout talks to, read from the environment names SPEC §5 fixes:
 * `REDIS_URL` (standalone), `REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER` (Sentinel) or
 * `REDIS_CLUSTER_NODES` (Cluster), with `REDIS_USERNAME` / `REDIS_PASSWORD` / `REDIS_TLS`
 * for the latter two (a `REDIS_URL` carries its own credentials and `rediss://`).
 */
export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | ({ kind: 'sentinel'; sentinels: HostPort[]; master: string } & Credentials)
  | ({ kind: 'cluster'; nodes: HostPort[] } & Credentials);

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The raw variables, as strings (empty = unset). */
export interface RedisEnvInput {
  REDIS_URL?: string | undefined;
  REDIS_SENTINELS?: string | undefined;
  REDIS_SENTINEL_MASTER?: string | undefined;
  REDIS_CLUSTER_NODES?: string | undefined;
  REDIS_USERNAME?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
  REDIS_TLS?: boolean | undefined;
}

/** `host:port,host:port` → addresses; problems name the variable and the bad entry. */
export function parseHostList(name: string, text: string): { nodes: HostPort[]; problems: string[] } {
  const nodes: HostPort[] = [];
  const problems: string[] = [];
  for (const raw of text.split(',').map((s) => s.trim())) {
    if (raw === '') continue;
    // [v6::addr]:port or host:port
    const m = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(raw);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) {
      problems.push(`${name} has "${raw}": each entry must be host:port (e.g. redis-0.redis:26379)`);
      continue;
    }
    nodes.push({ host: (m[1] ?? m[2])!, port });
  }
  if (nodes.length === 0 && problems.length === 0)
    problems.push(`${name} lists no node: give host:port,host:port`);
  return { nodes, problems };
}

/**
 * Picks the topology, or lists every reason the combination cannot work
 * (two topologies named at once, a master name without sentinels, credentials that
 * would be silently ignored).
 */
export function redisTopology(
  input: RedisEnvInput,
): { ok: true; topology: RedisTopology } | { ok: false; problems: string[] } {
  const set = (v: string | undefined) => v !== undefined && v.trim() !== '';
  const named = [
    set(input.REDIS_URL) && 'REDIS_URL',
    set(input.REDIS_SENTINELS) && 'REDIS_SENTINELS',
    set(input.REDIS_CLUSTER_NODES) && 'REDIS_CLUSTER_NODES',
  ].filter((n): n is string => typeof n === 'string');
  const problems: string[] = [];
  if (named.length > 1) {
    problems.push(
      `${named.join(' and ')} are both set: name one Redis — REDIS_URL (a single Redis), REDIS_SENTINELS with REDIS_SENTINEL_MASTER (Sentinel) or REDIS_CLUSTER_NODES (Cluster)`,
    );
  }
  if (set(input.REDIS_SENTINEL_MASTER) && !set(input.REDIS_SENTINELS)) {
    problems.push(
      'REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS: list the sentinels as host:port,host:port',
    );
  }
  if (set(input.REDIS_SENTINELS) && !set(input.REDIS_SENTINEL_MASTER)) {
    problems.push(
      'REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER: name the master as the sentinels know it (sentinel monitor <name> …, often "mymaster")',
    );
  }
  const credentialsNamed = [
    set(input.REDIS_USERNAME) && 'REDIS_USERNAME',
    set(input.REDIS_PASSWORD) && 'REDIS_PASSWORD',
    input.REDIS_TLS !== undefined && 'REDIS_TLS',
  ].filter((n): n is string => typeof n === 'string');
  if (!set(input.REDIS_SENTINELS) && !set(input.REDIS_CLUSTER_NODES) && credentialsNamed.length) {
    problems.push(
      `${credentialsNamed.join(', ')} apply to Sentinel and Cluster only: a REDIS_URL carries its own (redis://user:password@host:port, rediss:// for TLS)`,
    );
  }
  const credentials: Credentials = {
    ...(set(input.REDIS_USERNAME) ? { username: input.REDIS_USERNAME!.trim() } : {}),
    ...(set(input.REDIS_PASSWORD) ? { password: input.REDIS_PASSWORD } : {}),
    tls: input.REDIS_TLS === true,
  };
  let topology: RedisTopology = { kind: 'standalone', url: input.REDIS_URL?.trim() || DEFAULT_REDIS_URL };
  if (set(input.REDIS_SENTINELS)) {
    const parsed = parseHostList('REDIS_SENTINELS', input.REDIS_SENTINELS!);
    problems.push(...parsed.problems);
    topology = {
      kind: 'sentinel',
      sentinels: parsed.nodes,
      master: input.REDIS_SENTINEL_MASTER?.trim() ?? '',
      ...credentials,
    };
  } else if (set(input.REDIS_CLUSTER_NODES)) {
    const parsed = parseHostList('REDIS_CLUSTER_NODES', input.REDIS_CLUSTER_NODES!);
    problems.push(...parsed.problems);
    topology = { kind: 'cluster', nodes: parsed.nodes, ...credentials };
  }
  return problems.length ? { ok: false, problems } : { ok: true, topology };
}

/** Where backout's Redis is, for logs and messages (never a password). */
export function describeTopology(t: RedisTopology): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (t.kind) {
    case 'standalone':
      return redactRedisUrl(t.url);
    case 'sentinel':
      return `Sentinel master "${t.master}" via ${list(t.sentinels)}${t.tls ? ' (TLS)' : ''}`;
    case 'cluster':
      return `Cluster via ${list(t.nodes)}${t.tls ? ' (TLS)' : ''}`;
  }
}

/** The password, for log redaction. */
export function topologyPassword(t: RedisTopology): string | undefined {
  if (t.kind !== 'standalone') return t.password;
  try {
    const password = decodeURIComponent(new URL(t.url).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}

function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
