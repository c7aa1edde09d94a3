import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Cluster, ExecPlugin, User } from './kubeconfig.js';

/**
 * backout could not obtain a context's credentials: an exec plugin failed or timed out, or a
 * credential file could not be read. `transient`: worth trying again later (a plugin timeout).
 */
export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/** Reads a credential file the kubeconfig names, saying which one when it cannot. */
async function credentialFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new CredentialError(
      `the ${what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** What a call carries to prove who backout is: headers, and a client certificate for the TLS handshake. */
export interface Credentials {
  headers: Record<string, string | string[]>;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** A user's credentials, refreshed when they expire. */
export interface CredentialSource {
  get(): Promise<Credentials>;
  /** After a 401: forget what can be fetched afresh (a token file, an exec credential); false if nothing can. */
  invalidate(): boolean;
}

/** client-go re-reads a token file once a minute: the kubelet rotates projected tokens in place. */
const TOKEN_FILE_TTL_MS = 60_000;
/** An exec plugin that has not answered in this time is killed and the call fails. */
export const EXEC_PLUGIN_TIMEOUT_MS = 30_000;

const execCredential = z.object({
  kind: z.literal('ExecCredential'),
  status: z
    .object({
      token: z.string().optional(),
      clientCertificateData: z.string().optional(),
      clientKeyData: z.string().optional(),
      expirationTimestamp: z.string().optional(),
    })
    .refine((s) => s.token || (s.clientCertificateData && s.clientKeyData), {
      message: 'status has neither a token nor a client certificate and key',
    }),
});

/** The static part of a user's credentials: basic auth, impersonation, a client certificate from the kubeconfig. */
async function staticCredentials(user: User): Promise<Credentials> {
  const headers: Credentials['headers'] = {};
  if (user.username || user.password)
    headers.Authorization = `Basic ${Buffer.from(`${user.username ?? ''}:${user.password ?? ''}`).toString('base64')}`;
  if (user.token) headers.Authorization = `Bearer ${user.token.trim()}`;
  if (user.impersonate) headers['Impersonate-User'] = user.impersonate;
  if (user.impersonateGroups?.length) headers['Impersonate-Group'] = user.impersonateGroups;
  const cert = user.certData
    ? Buffer.from(user.certData, 'base64')
    : user.certFile && (await credentialFile(user.certFile, 'client certificate'));
  const key = user.keyData
    ? Buffer.from(user.keyData, 'base64')
    : user.keyFile && (await credentialFile(user.keyFile, 'client key'));
  return { headers, ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** Caches one value until the time its fetch gave; concurrent callers share one refresh. */
class Cached<T> {
  private value: { v: T; until: number } | undefined;
  private pending: Promise<T> | undefined;
  constructor(private readonly fetch: () => Promise<{ value: T; until: number }>) {}
  get(): Promise<T> {
    if (this.value && Date.now() < this.value.until) return Promise.resolve(this.value.v);
    return (this.pending ??= this.fetch()
      .then(({ value, until }) => {
        this.value = { v: value, until };
        return value;
      })
      .finally(() => (this.pending = undefined)));
  }
  invalidate(): void {
    this.value = undefined;
  }
}

/**
 * Runs an exec credential plugin as kubectl does: the command with its args, the kubeconfig's env
 * on top of backout's, KUBERNETES_EXEC_INFO describing the (never interactive) request, and the
 * ExecCredential it prints on stdout.
 */
export function runExecPlugin(
  plugin: ExecPlugin,
  cluster: Cluster,
  timeoutMs = EXEC_PLUGIN_TIMEOUT_MS,
): Promise<z.infer<typeof execCredential>['status']> {
  const env = { ...process.env };
  for (const { name, value } of plugin.env) env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: plugin.apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, cluster: { server: cluster.server } },
  });
  return new Promise((resolve, reject) => {
    const child = spawn(plugin.command, plugin.args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: AbortSignal.timeout(timeoutMs),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', (err) =>
      reject(
        err.name === 'AbortError'
          ? new CredentialError(
              `the exec credential plugin ${plugin.command} did not answer within ${timeoutMs / 1000} s`,
              true,
            )
          : new CredentialError(`the exec credential plugin ${plugin.command} could not run: ${err.message}`),
      ),
    );
    child.on('close', (code) => {
      if (code !== 0) {
        reject(
          new CredentialError(
            `the exec credential plugin ${plugin.command} exited ${code}: ${stderr.trim()}`,
          ),
        );
        return;
      }
      let parsed;
      try {
        parsed = execCredential.safeParse(JSON.parse(stdout));
      } catch {
        reject(
          new CredentialError(`the exec credential plugin ${plugin.command} printed no JSON ExecCredential`),
        );
        return;
      }
      if (!parsed.success) {
        reject(
          new CredentialError(
            `the exec credential plugin ${plugin.command} printed no usable ExecCredential: ${parsed.error.issues[0]!.message}`,
          ),
        );
        return;
      }
      resolve(parsed.data.status);
    });
  });
}

/**
 * A user's credentials as kubectl builds them: a token (or a token file, re-read every minute),
 * basic auth, a client certificate, or what an exec plugin prints (kept until it expires, and
 * fetched again after a 401).
 */
export function credentialSource(user: User, cluster: Cluster): CredentialSource {
  const base = new Cached(async () => ({ value: await staticCredentials(user), until: Infinity }));
  const tokenFile = user.tokenFile;
  const fileToken =
    tokenFile && !user.token
      ? new Cached(async () => ({
          value: (await credentialFile(tokenFile, 'token file')).toString('utf8').trim(),
          until: Date.now() + TOKEN_FILE_TTL_MS,
        }))
      : undefined;
  const exec = user.exec;
  const plugin = exec
    ? new Cached(async () => {
        const status = await runExecPlugin(exec, cluster);
        const expires = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Infinity;
        return { value: status, until: Number.isNaN(expires) ? Infinity : expires };
      })
    : undefined;
  return {
    async get() {
      const creds = await base.get();
      const headers = { ...creds.headers };
      const out: Credentials = { ...creds, headers };
      if (fileToken) headers.Authorization = `Bearer ${await fileToken.get()}`;
      if (plugin) {
        const status = await plugin.get();
        if (status.token) headers.Authorization = `Bearer ${status.token}`;
        if (status.clientCertificateData && status.clientKeyData) {
          out.cert = status.clientCertificateData;
          out.key = status.clientKeyData;
        }
      }
      return out;
    },
    invalidate() {
      fileToken?.invalidate();
      plugin?.invalidate();
      return Boolean(fileToken || plugin);
    },
  };
}
