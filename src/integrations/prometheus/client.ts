import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PrometheusConfig } from '../../config/schema.js';
import { queryResponseSchema, type QueryResponse } from './result.js';

/** Where secrets come from: the process environment (a parameter, so tests pass their own). */
export type Environ = Readonly<Record<string, string | undefined>>;

export const DEFAULT_TOKEN_ENV = 'PROMETHEUS_TOKEN';

/** A query that could not be asked or answered; the message says which setting to look at. */
export class PrometheusCallError extends Error {
  override name = 'PrometheusCallError';
}

/**
 * The headers one query sends: bearer token (tokenEnv, tokenFile, else PROMETHEUS_TOKEN when
 * set), or basic auth, plus the configured extra headers. Secrets are read at each query so a
 * rotated file is picked up; they never come from the config file itself.
 */
export async function authHeaders(p: PrometheusConfig, environ: Environ): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(p.headers ?? {})) {
    headers[name] =
      typeof value === 'string'
        ? value
        : 'env' in value
          ? fromEnv(environ, value.env, `header ${name}`)
          : await fromFile(value.file, `header ${name}`);
  }
  if (p.basicAuth) {
    const { username, passwordEnv, passwordFile } = p.basicAuth;
    const password = passwordEnv
      ? fromEnv(environ, passwordEnv, 'the basic-auth password')
      : await fromFile(passwordFile!, 'the basic-auth password');
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  } else if (p.tokenFile) {
    headers.authorization = `Bearer ${await fromFile(p.tokenFile, 'the bearer token')}`;
  } else if (p.tokenEnv) {
    headers.authorization = `Bearer ${fromEnv(environ, p.tokenEnv, 'the bearer token')}`;
  } else if (environ[DEFAULT_TOKEN_ENV]) {
    headers.authorization = `Bearer ${environ[DEFAULT_TOKEN_ENV]}`;
  }
  return headers;
}

function fromEnv(environ: Environ, name: string, what: string): string {
  const value = environ[name];
  if (!value) throw new PrometheusCallError(`${what} is to come from ${name}, which is not set`);
  return value;
}

async function fromFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new PrometheusCallError(
      `${what} is to come from ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/**
 * One instant query (`GET /api/v1/query`), bounded by the deadline: connecting, waiting and
 * reading the body all count, and the socket is destroyed when it passes.
 */
export async function instantQuery(
  p: PrometheusConfig,
  query: string,
  environ: Environ,
): Promise<QueryResponse> {
  const url = new URL('api/v1/query', p.url.endsWith('/') ? p.url : `${p.url}/`);
  url.searchParams.set('query', query);
  const headers = { accept: 'application/json', ...(await authHeaders(p, environ)) };
  const ca = p.caFile
    ? await readFile(p.caFile, 'utf8').catch(() => {
        throw new PrometheusCallError(`the CA bundle ${p.caFile} cannot be read`);
      })
    : undefined;
  const timeoutMs = p.timeout ?? 10_000;
  const { status, body, contentType } = await get(url, headers, ca, timeoutMs);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PrometheusCallError(
      status === 401 || status === 403
        ? `Prometheus refused the credentials (HTTP ${status}); check tokenEnv/tokenFile/basicAuth`
        : `Prometheus answered HTTP ${status} with ${contentType || 'no content type'}, not its JSON API (is the url the server root?)`,
    );
  }
  const parsed = queryResponseSchema.safeParse(json);
  if (!parsed.success)
    throw new PrometheusCallError(`Prometheus answered HTTP ${status} in an unexpected shape`);
  return parsed.data;
}

function get(
  url: URL,
  headers: Record<string, string>,
  ca: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', headers, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: contentTypeOf(res.headers),
        });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(() => {
      req.destroy(new PrometheusCallError(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      reject(err instanceof PrometheusCallError ? err : new PrometheusCallError(err.message));
    }
    req.on('error', fail);
    req.end();
  });
}

function contentTypeOf(h: IncomingHttpHeaders): string {
  return String(h['content-type'] ?? '').split(';')[0] ?? '';
}
