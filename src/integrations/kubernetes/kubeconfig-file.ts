import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** What the start-up checks read of a kubeconfig; client-node's KubeConfig has the same shape. */
export interface KubeconfigView {
  getContexts(): { name: string; cluster: string; user: string }[];
  getCluster(name: string): { server: string } | null;
  getUser(name: string): {
    token?: string;
    username?: string;
    password?: string;
    certData?: string;
    certFile?: string;
    exec?: unknown;
    authProvider?: unknown;
  } | null;
}

type Named = { name?: unknown } & Record<string, unknown>;

const list = (v: unknown): Named[] =>
  Array.isArray(v) ? v.filter((x): x is Named => typeof x === 'object' && x !== null) : [];
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * Reads kubeconfig files as kubectl merges them (the first file to name a cluster, user or
 * context wins), as plain YAML: enough for the start-up checks, without the client library.
 */
export function readKubeconfigFiles(paths: readonly string[]): KubeconfigView {
  const clusters = new Map<string, { server: string }>();
  const users = new Map<string, NonNullable<ReturnType<KubeconfigView['getUser']>>>();
  const contexts = new Map<string, { name: string; cluster: string; user: string }>();
  for (const path of paths) {
    const doc = obj(parse(readFileSync(path, 'utf8')));
    for (const c of list(doc.clusters)) {
      const name = str(c.name);
      if (name && !clusters.has(name)) clusters.set(name, { server: str(obj(c.cluster).server) ?? '' });
    }
    for (const u of list(doc.users)) {
      const name = str(u.name);
      if (!name || users.has(name)) continue;
      const user = obj(u.user);
      users.set(name, {
        token: str(user.token) ?? str(user['token-file']),
        username: str(user.username),
        password: str(user.password),
        certData: str(user['client-certificate-data']),
        certFile: str(user['client-certificate']),
        exec: user.exec,
        authProvider: user['auth-provider'],
      });
    }
    for (const c of list(doc.contexts)) {
      const name = str(c.name);
      const ctx = obj(c.context);
      if (name && !contexts.has(name))
        contexts.set(name, { name, cluster: str(ctx.cluster) ?? '', user: str(ctx.user) ?? '' });
    }
  }
  return {
    getContexts: () => [...contexts.values()],
    getCluster: (name) => clusters.get(name) ?? null,
    getUser: (name) => users.get(name) ?? null,
  };
}
