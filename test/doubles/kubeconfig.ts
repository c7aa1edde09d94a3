// Writes a kubeconfig for one or more doubles: each context gets its own cluster (plain http, hence
// `insecure-skip-tls-verify: true`, without which client-node refuses an http:// server) and its own
// token user.
import { writeFileSync } from 'node:fs';

import { stringify } from 'yaml';

export interface KubeconfigContext {
  name: string;
  /** The double's `url`. */
  server: string;
  namespace?: string;
  /** Bearer token; `token-<name>` when omitted. */
  token?: string;
}

export function kubeconfigYaml(contexts: KubeconfigContext[], currentContext?: string): string {
  const [first] = contexts;
  if (!first) throw new Error('a kubeconfig needs at least one context');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: contexts.map((c) => ({
      name: c.name,
      cluster: { server: c.server, 'insecure-skip-tls-verify': true },
    })),
    users: contexts.map((c) => ({ name: c.name, user: { token: c.token ?? `token-${c.name}` } })),
    contexts: contexts.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: c.name, ...(c.namespace ? { namespace: c.namespace } : {}) },
    })),
    'current-context': currentContext ?? first.name,
  });
}

/** Writes the kubeconfig synchronously (mode 0600); `currentContext` defaults to the first context. */
export function writeKubeconfig(path: string, contexts: KubeconfigContext[], currentContext?: string): void {
  writeFileSync(path, kubeconfigYaml(contexts, currentContext), { mode: 0o600 });
}
