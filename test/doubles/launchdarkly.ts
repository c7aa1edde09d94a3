/**
 * LaunchDarklyDouble: a real HTTP server answering the parts of LaunchDarkly's REST API v2 a kill
 * switch uses, checking requests as LaunchDarkly documents them:
 * - `GET /api/v2/flags/{projectKey}/{flagKey}[?env=<key>]`: the flag, its `environments` filtered to
 *   `env` when given;
 * - `PATCH /api/v2/flags/{projectKey}/{flagKey}` with `Content-Type: application/json;
 *   domain-model=launchdarkly.semanticpatch` and `{environmentKey, instructions: [{kind}], comment?}`;
 *   `turnFlagOn` / `turnFlagOff` are the instructions served (others answer 400 as LaunchDarkly does
 *   for an instruction it cannot apply here);
 * - the access token in `Authorization` as is (no `Bearer`), else 401.
 * Errors use LaunchDarkly's `{code, message}` shape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const SEMANTIC_PATCH_TYPE = 'application/json; domain-model=launchdarkly.semanticpatch';

interface FlagEnv {
  on: boolean;
  version: number;
  lastModified: number;
}

interface StoredFlag {
  project: string;
  key: string;
  version: number;
  environments: Record<string, FlagEnv>;
}

export interface LdRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
  status: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const FLAG_PATH = /^\/api\/v2\/flags\/([^/]+)\/([^/]+)$/;

export class LaunchDarklyDouble {
  readonly requests: LdRequest[] = [];
  private readonly flags = new Map<string, StoredFlag>();
  private url = '';

  private constructor(
    private readonly server: Server,
    private readonly token: string,
  ) {}

  static async start(opts: { token: string }): Promise<LaunchDarklyDouble> {
    const holder: { double?: LaunchDarklyDouble } = {};
    const server = createServer((req, res) => void holder.double!.handle(req, res));
    const double = new LaunchDarklyDouble(server, opts.token);
    holder.double = double;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    double.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return double;
  }

  get baseUrl(): string {
    return this.url;
  }

  /** Creates a flag with its state per environment key. */
  addFlag(project: string, key: string, environments: Record<string, boolean>): void {
    const now = Date.now();
    this.flags.set(`${project}/${key}`, {
      project,
      key,
      version: 1,
      environments: Object.fromEntries(
        Object.entries(environments).map(([env, on]) => [env, { on, version: 1, lastModified: now }]),
      ),
    });
  }

  /** Whether the flag is on in an environment (as LaunchDarkly's UI would show it). */
  isOn(project: string, key: string, env: string): boolean | undefined {
    return this.flags.get(`${project}/${key}`)?.environments[env]?.on;
  }

  /** Someone flips the flag in LaunchDarkly's UI, behind backout's back. */
  set(project: string, key: string, env: string, on: boolean): void {
    const flag = this.flags.get(`${project}/${key}`);
    const e = flag?.environments[env];
    if (!flag || !e) throw new Error(`no flag ${project}/${key} in ${env}`);
    e.on = on;
    e.version++;
    flag.version++;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private view(flag: StoredFlag, env?: string): object {
    const envs = Object.entries(flag.environments).filter(([k]) => env === undefined || k === env);
    return {
      key: flag.key,
      name: flag.key,
      kind: 'boolean',
      _version: flag.version,
      variations: [{ value: true }, { value: false }],
      environments: Object.fromEntries(
        envs.map(([k, e]) => [
          k,
          {
            on: e.on,
            archived: false,
            salt: 'salt',
            sel: 'sel',
            lastModified: e.lastModified,
            version: e.version,
            _environmentName: k,
          },
        ]),
      ),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ld.invalid');
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      body = text;
    }
    const record: LdRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
      body,
      status: 0,
    };
    this.requests.push(record);
    const reply = (status: number, payload: object) => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== this.token)
      return reply(401, { code: 'unauthorized', message: 'Invalid access token' });
    const m = FLAG_PATH.exec(url.pathname);
    const flag = m ? this.flags.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`) : undefined;
    if (!m || !flag) return reply(404, { code: 'not_found', message: 'Unknown resource' });
    if (req.method === 'GET') return reply(200, this.view(flag, url.searchParams.get('env') ?? undefined));
    if (req.method !== 'PATCH')
      return reply(405, { code: 'method_not_allowed', message: 'Method not allowed' });
    if (req.headers['content-type'] !== SEMANTIC_PATCH_TYPE)
      return reply(400, {
        code: 'invalid_request',
        message: `expected ${SEMANTIC_PATCH_TYPE} for a semantic patch`,
      });
    const patch = body as { environmentKey?: unknown; instructions?: unknown; comment?: unknown } | undefined;
    if (typeof patch !== 'object' || patch === null || typeof patch.environmentKey !== 'string')
      return reply(400, {
        code: 'invalid_request',
        message: 'environmentKey is required for these instructions',
      });
    if (patch.comment !== undefined && typeof patch.comment !== 'string')
      return reply(400, { code: 'invalid_request', message: 'comment must be a string' });
    const env = flag.environments[patch.environmentKey];
    if (!env) return reply(404, { code: 'not_found', message: 'Unknown environment' });
    if (!Array.isArray(patch.instructions) || patch.instructions.length === 0)
      return reply(400, { code: 'invalid_request', message: 'instructions must be a non-empty array' });
    for (const ins of patch.instructions as { kind?: unknown }[]) {
      if (ins?.kind !== 'turnFlagOn' && ins?.kind !== 'turnFlagOff')
        return reply(400, {
          code: 'invalid_request',
          message: `unsupported instruction kind ${String(ins?.kind)}`,
        });
    }
    for (const ins of patch.instructions as { kind: string }[]) env.on = ins.kind === 'turnFlagOn';
    env.version++;
    env.lastModified = Date.now();
    flag.version++;
    return reply(200, this.view(flag));
  }
}
