import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { parse } from 'yaml';
import { z } from 'zod';

/** A kubeconfig cluster: where the API server is and how its certificate is checked. */
export interface Cluster {
  name: string;
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
}

/** A kubeconfig exec credential plugin (client.authentication.k8s.io). */
export interface ExecPlugin {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
}

/** A kubeconfig user: the credentials sent with each call. */
export interface User {
  name: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  exec?: ExecPlugin;
  authProvider?: { name: string; config?: Record<string, unknown> };
  impersonate?: string;
  impersonateGroups?: string[];
}

export interface Context {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
}

/** An optional field; YAML's empty value (null) is absence, as kubectl reads it. */
const opt = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);
const str = opt(z.string());
/** A named list (clusters, users, contexts); an entry without a name is refused, as kubectl does. */
const entries = <T extends z.ZodRawShape>(shape: T) =>
  z.array(z.object({ name: z.string().min(1), ...shape })).nullish();

// kubectl's clientcmd v1 field names; unknown fields are ignored, as kubectl does.
const kubeconfigFile = z.object({
  clusters: entries({
    cluster: z.object({
      server: opt(z.string()),
      'certificate-authority': str,
      'certificate-authority-data': str,
      'insecure-skip-tls-verify': opt(z.boolean()),
      'tls-server-name': str,
      'proxy-url': str,
    }),
  }),
  users: entries({
    user: z
      .object({
        token: str,
        tokenFile: str,
        'token-file': str,
        username: str,
        password: str,
        'client-certificate': str,
        'client-certificate-data': str,
        'client-key': str,
        'client-key-data': str,
        as: str,
        'as-groups': opt(z.array(z.string())),
        exec: opt(
          z.object({
            command: z.string().min(1, 'exec.command is empty'),
            args: z.array(z.string()).nullish(),
            env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
            apiVersion: z.string().default('client.authentication.k8s.io/v1beta1'),
          }),
        ),
        'auth-provider': opt(z.object({ name: z.string(), config: opt(z.record(z.string(), z.unknown())) })),
      })
      .nullish(),
  }),
  contexts: entries({
    context: z.object({ cluster: str, user: str, namespace: str }),
  }),
  'current-context': str,
});

/** A path in a kubeconfig is relative to the file that names it (kubectl's ResolvePaths). */
function resolved(dir: string, path: string | undefined): string | undefined {
  if (!path) return undefined;
  return isAbsolute(path) ? path : join(dir, path);
}

/** An exec command is resolved like a path only when it names one (has a separator), as kubectl does. */
function resolvedCommand(dir: string, command: string): string {
  return command.includes('/') && !isAbsolute(command) ? join(dir, command) : command;
}

/** A kubeconfig as kubectl merges it: the first file to name a cluster, user or context wins. */
export class Kubeconfig {
  readonly clusters = new Map<string, Cluster>();
  readonly users = new Map<string, User>();
  readonly contexts = new Map<string, Context>();
  currentContext: string | undefined;

  getContexts(): Context[] {
    return [...this.contexts.values()];
  }
  getContext(name: string): Context | null {
    return this.contexts.get(name) ?? null;
  }
  getCluster(name: string): Cluster | null {
    return this.clusters.get(name) ?? null;
  }
  getUser(name: string): User | null {
    return this.users.get(name) ?? null;
  }

  /** Adds one file's entries; names already present keep their first definition. */
  addFile(path: string): void {
    const parsed = kubeconfigFile.safeParse(parse(readFileSync(path, 'utf8')) ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${path}: ${issue.path.join('.')}: ${issue.message}`);
    }
    const doc = parsed.data;
    const dir = dirname(path);
    for (const { name, cluster: c } of doc.clusters ?? []) {
      if (this.clusters.has(name)) continue;
      this.clusters.set(name, {
        name,
        server: (c.server ?? '').replace(/\/$/, ''),
        caData: c['certificate-authority-data'],
        caFile: resolved(dir, c['certificate-authority']),
        skipTLSVerify: c['insecure-skip-tls-verify'] === true,
        tlsServerName: c['tls-server-name'],
        proxyUrl: c['proxy-url'],
      });
    }
    for (const { name, user: u } of doc.users ?? []) {
      if (this.users.has(name)) continue;
      this.users.set(name, {
        name,
        token: u?.token,
        tokenFile: resolved(dir, u?.tokenFile ?? u?.['token-file']),
        username: u?.username,
        password: u?.password,
        certData: u?.['client-certificate-data'],
        certFile: resolved(dir, u?.['client-certificate']),
        keyData: u?.['client-key-data'],
        keyFile: resolved(dir, u?.['client-key']),
        exec: u?.exec && {
          command: resolvedCommand(dir, u.exec.command),
          args: u.exec.args ?? [],
          env: u.exec.env ?? [],
          apiVersion: u.exec.apiVersion,
        },
        authProvider: u?.['auth-provider'],
        impersonate: u?.as,
        impersonateGroups: u?.['as-groups'],
      });
    }
    for (const { name, context: c } of doc.contexts ?? []) {
      if (this.contexts.has(name)) continue;
      this.contexts.set(name, { name, cluster: c.cluster ?? '', user: c.user ?? '', namespace: c.namespace });
    }
    this.currentContext ??= doc['current-context'] || undefined;
  }
}

/** The files a KUBECONFIG value names (one path, or several joined as the platform joins paths). */
export function kubeconfigPaths(kubeconfig: string | undefined): string[] {
  return (kubeconfig ?? '').split(delimiter).filter(Boolean);
}

/** Reads kubeconfig files as kubectl merges them. */
export function readKubeconfigFiles(paths: readonly string[]): Kubeconfig {
  const kc = new Kubeconfig();
  for (const path of paths) kc.addFile(path);
  return kc;
}

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The in-cluster config (client-go's InClusterConfig): the API server from the
 * KUBERNETES_SERVICE_HOST/PORT variables, the mounted CA, and the mounted token, which the kubelet
 * rotates (so it is re-read, not kept).
 */
export function inClusterKubeconfig(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): Kubeconfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const kc = new Kubeconfig();
  kc.clusters.set('inCluster', {
    name: 'inCluster',
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    caFile: join(dir, 'ca.crt'),
    skipTLSVerify: false,
  });
  kc.users.set('inClusterUser', { name: 'inClusterUser', tokenFile: join(dir, 'token') });
  const namespaceFile = join(dir, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  kc.contexts.set('inClusterContext', {
    name: 'inClusterContext',
    cluster: 'inCluster',
    user: 'inClusterUser',
    ...(namespace ? { namespace } : {}),
  });
  kc.currentContext = 'inClusterContext';
  return kc;
}

/**
 * The kubeconfig backout uses, found as kubectl finds it: the files KUBECONFIG names, else
 * ~/.kube/config, else the pod's service account (in a cluster), else an unauthenticated
 * http://localhost:8080.
 */
export function loadKubeconfig(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): Kubeconfig {
  const paths = kubeconfigPaths(kubeconfig);
  if (paths.length > 0) return readKubeconfigFiles(paths);
  const home = join(env.HOME || homedir(), '.kube', 'config');
  if (existsSync(home)) return readKubeconfigFiles([home]);
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccountDir, 'token')))
    return inClusterKubeconfig(env, serviceAccountDir);
  const kc = new Kubeconfig();
  kc.clusters.set('cluster', { name: 'cluster', server: 'http://localhost:8080', skipTLSVerify: false });
  kc.users.set('user', { name: 'user' });
  kc.contexts.set('default', { name: 'default', cluster: 'cluster', user: 'user' });
  kc.currentContext = 'default';
  return kc;
}
