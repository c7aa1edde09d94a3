import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Cluster } from './kubeconfig.js';
import { FIELD_MANAGER } from './types.js';
import { credentialSource, type CredentialSource, type Credentials } from './credentials.js';

/** An object or collection on the API: core (`group: ''`) or a named group, namespaced or cluster-wide. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Content types of the patch flavours backout sends. */
export const PatchStrategy = {
  JsonPatch: 'application/json-patch+json',
  MergePatch: 'application/merge-patch+json',
  StrategicMergePatch: 'application/strategic-merge-patch+json',
} as const;
export type PatchStrategy = (typeof PatchStrategy)[keyof typeof PatchStrategy];

/** A larger answer is refused rather than read into memory. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The API server answered with an error status; `body` is its Status object (or the raw text). */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly code: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`Kubernetes answered ${code} for ${what}`);
  }
}

export interface VersionInfo {
  major?: string;
  minor?: string;
  gitVersion?: string;
}

/** One context's API server: the calls backout makes, each under a deadline. */
export interface KubeApi {
  /** One object, or a collection (a ref without `name`), in wire form. */
  get<T>(ref: ResourceRef, query?: Record<string, string>): Promise<T>;
  /** A patch of `strategy`, attributed to backout's field manager; answers the object as written. */
  patch<T>(ref: ResourceRef, body: unknown, strategy: PatchStrategy): Promise<T>;
  create<T>(ref: ResourceRef, body: unknown): Promise<T>;
  version(): Promise<VersionInfo>;
}

export function resourcePath(ref: ResourceRef): string {
  const parts = [ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`];
  if (ref.namespace) parts.push('namespaces', encodeURIComponent(ref.namespace));
  parts.push(ref.plural);
  if (ref.name) parts.push(encodeURIComponent(ref.name));
  if (ref.subresource) parts.push(ref.subresource);
  return parts.join('/');
}

/** How one request is sent: its headers, and the kept-alive connection pool it goes through. */
interface Prepared {
  headers: OutgoingHttpHeaders;
  agent: HttpAgent;
  auth?: string;
}

/** Prepares each request of one context; `retryAfter401` says whether fresh credentials might help. */
export interface Authenticator {
  prepare(): Promise<Prepared>;
  retryAfter401(): boolean;
}

/**
 * Native connections: one kept-alive pool per context and client certificate, so calls reuse
 * their TCP and TLS sessions. A rotated certificate (from an exec plugin) gets a new pool; the
 * old one's idle sockets close on their keep-alive timeout.
 */
export class NativeAuthenticator implements Authenticator {
  private readonly credentials: CredentialSource;
  private readonly ca: Buffer | undefined;
  /** The pool for the client certificate last used (the credential cache hands out the same values until they change). */
  private pool: { cert: Credentials['cert']; key: Credentials['key']; agent: HttpAgent } | undefined;

  constructor(
    private readonly cluster: Cluster,
    user: Parameters<typeof credentialSource>[0],
  ) {
    this.credentials = credentialSource(user, cluster);
    this.ca = cluster.caData
      ? Buffer.from(cluster.caData, 'base64')
      : cluster.caFile
        ? readFileSync(cluster.caFile)
        : undefined;
  }

  async prepare(): Promise<Prepared> {
    const creds = await this.credentials.get();
    return { headers: creds.headers, agent: this.agentFor(creds) };
  }

  retryAfter401(): boolean {
    return this.credentials.invalidate();
  }

  private agentFor(creds: Credentials): HttpAgent {
    if (this.pool && this.pool.cert === creds.cert && this.pool.key === creds.key) return this.pool.agent;
    const common = { keepAlive: true, keepAliveMsecs: 30_000, timeout: 30_000, maxSockets: 32 };
    const agent = this.cluster.server.startsWith('http:')
      ? new HttpAgent(common)
      : new HttpsAgent({
          ...common,
          ...(this.ca ? { ca: this.ca } : {}),
          ...(creds.cert ? { cert: creds.cert } : {}),
          ...(creds.key ? { key: creds.key } : {}),
          rejectUnauthorized: !this.cluster.skipTLSVerify,
          ...(this.cluster.tlsServerName ? { servername: this.cluster.tlsServerName } : {}),
        });
    this.pool = { cert: creds.cert, key: creds.key, agent };
    return agent;
  }
}

/** Sends requests to one context's API server with `auth`, each within `timeoutMs`. */
export class HttpKubeApi implements KubeApi {
  private readonly server: URL;

  constructor(
    server: string,
    private readonly auth: Authenticator,
    private readonly timeoutMs: number,
  ) {
    this.server = new URL(server.endsWith('/') ? server : `${server}/`);
  }

  get<T>(ref: ResourceRef, query?: Record<string, string>): Promise<T> {
    return this.call('GET', resourcePath(ref), query, undefined, undefined);
  }

  patch<T>(ref: ResourceRef, body: unknown, strategy: PatchStrategy): Promise<T> {
    return this.call('PATCH', resourcePath(ref), { fieldManager: FIELD_MANAGER }, body, strategy);
  }

  create<T>(ref: ResourceRef, body: unknown): Promise<T> {
    return this.call('POST', resourcePath(ref), undefined, body, 'application/json');
  }

  version(): Promise<VersionInfo> {
    return this.call('GET', '/version', undefined, undefined, undefined);
  }

  private async call<T>(
    method: string,
    path: string,
    query: Record<string, string> | undefined,
    body: unknown,
    contentType: string | undefined,
  ): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.server);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const signal = AbortSignal.timeout(this.timeoutMs);
    const what = `${method} ${url.pathname}`;
    for (let attempt = 0; ; attempt++) {
      const prepared = await abortable(this.auth.prepare(), signal);
      const answer = await send(url, method, prepared, payload, contentType, signal, method === 'GET');
      if (answer.status === 401 && attempt === 0 && this.auth.retryAfter401()) continue;
      if (answer.status < 200 || answer.status >= 300)
        throw new KubeApiError(answer.status, parsed(answer.text), what);
      return parsed(answer.text) as T;
    }
  }
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `work`, or the deadline's abort, whichever comes first (an exec plugin also has its own). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * One HTTP exchange. An idempotent request whose kept-alive connection the server had already
 * closed (a reset on a reused socket) is sent once more on a fresh one.
 */
function send(
  url: URL,
  method: string,
  prepared: Prepared,
  payload: Buffer | undefined,
  contentType: string | undefined,
  signal: AbortSignal,
  idempotent: boolean,
  retried = false,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method,
      agent: prepared.agent,
      signal,
      ...(prepared.auth ? { auth: prepared.auth } : {}),
      headers: {
        ...prepared.headers,
        Accept: 'application/json',
        'User-Agent': 'backout',
        ...(payload ? { 'Content-Type': contentType, 'Content-Length': payload.length } : {}),
      },
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (idempotent && !retried && req.reusedSocket && err.code === 'ECONNRESET')
        resolve(send(url, method, prepared, payload, contentType, signal, idempotent, true));
      else reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.destroy(new Error(`the answer to ${method} ${url.pathname} is over ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.end(payload);
  });
}
