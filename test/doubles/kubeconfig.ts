// Writes a kubeconfig for one or more doubles: each context gets its own cluster and user. An
// https:// double (started with `tls`) is trusted through its CA and gets a bearer token; an
// http:// one gets `insecure-skip-tls-verify: true` (as kubeconfigs for plain-http servers often
// say) and no credentials unless a token is given, since backout, like kubectl, sends none over
// plain http.
import { writeFileSync } from 'node:fs';

import { stringify } from 'yaml';

export interface KubeconfigContext {
  name: string;
  /** The double's `url`. */
  server: string;
  namespace?: string;
  /** Bearer token; `token-<name>` for https servers when omitted, none for http ones. */
  token?: string;
  /** The CA (PEM) that signed an https server's certificate (the double's `caPem`). */
  ca?: string;
}

function tokenOf(c: KubeconfigContext): string | undefined {
  if (c.token !== undefined) return c.token;
  return c.server.startsWith('https:') ? `token-${c.name}` : undefined;
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
      cluster: c.ca
        ? { server: c.server, 'certificate-authority-data': Buffer.from(c.ca).toString('base64') }
        : { server: c.server, 'insecure-skip-tls-verify': true },
    })),
    users: contexts.map((c) => {
      const token = tokenOf(c);
      return { name: c.name, user: token === undefined ? {} : { token } };
    }),
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
