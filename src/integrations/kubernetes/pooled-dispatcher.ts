import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

/** The part of KubeConfig that builds a request's connection pool (a private method in client-node 2). */
interface DispatcherFactory {
  createDispatcher(cluster: unknown, agentOptions: Record<string, unknown>): Closable | undefined;
}
interface Closable {
  close(): Promise<void>;
}

/** What decides a connection's identity and trust: where it goes and with which TLS material. */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;
const CLUSTER_FIELDS = ['server', 'proxyUrl', 'skipTLSVerify', 'tlsServerName'] as const;

function materialKey(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const hash = createHash('sha256');
  const add = (name: string, value: unknown) => {
    hash.update(`${name}\0`);
    if (Buffer.isBuffer(value)) hash.update(value);
    else hash.update(JSON.stringify(value ?? null));
    hash.update('\0');
  };
  const c = (cluster ?? {}) as Record<string, unknown>;
  for (const f of CLUSTER_FIELDS) add(`cluster.${f}`, c[f]);
  for (const f of TLS_FIELDS) add(f, agentOptions[f]);
  return hash.digest('hex');
}

/**
 * client-node builds a new undici Agent, a connection pool of its own, for every request to a
 * cluster with TLS settings (any https cluster, or insecure-skip-tls-verify): no connection is
 * ever reused, so each call pays a TCP and TLS handshake, and every abandoned pool holds its
 * socket and memory until the socket times out. This keeps one pool per distinct TLS material
 * instead. When the material changes (an exec plugin's rotated client certificate, a re-read
 * CA file), the new pool replaces the old one, which closes once its requests have finished.
 * Returns false when this client-node has no such method to wrap (each request then gets its
 * own pool, as the library does).
 */
export function poolConnections(kc: KubeConfig): boolean {
  const factory = kc as unknown as Partial<DispatcherFactory>;
  const create = factory.createDispatcher?.bind(kc);
  if (!create) return false;
  let current: { key: string; dispatcher: Closable | undefined } | undefined;
  factory.createDispatcher = (cluster, agentOptions) => {
    const key = materialKey(cluster, agentOptions);
    if (current?.key === key) return current.dispatcher;
    const replaced = current?.dispatcher;
    current = { key, dispatcher: create(cluster, agentOptions) };
    replaced?.close().catch(() => undefined);
    return current.dispatcher;
  };
  return true;
}
