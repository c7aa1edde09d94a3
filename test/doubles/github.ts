/**
 * GitHubDouble: a real HTTP server answering the GitHub REST release endpoints backout uses, the way
 * api.github.com answers them (status codes, rate-limit and request-id headers, `link` pagination, error
 * bodies). Every JSON body of an implemented operation is checked against that operation's response schema
 * in GitHub's published OpenAPI description (`@octokit/openapi`); a mismatch is answered with a 500 and kept
 * in `schemaViolations`, so a suite can assert the double stayed faithful.
 *
 * Behaviour chosen where GitHub's documentation is silent:
 * - Latest release. A repository starts in "computed" mode: the latest release is the newest non-draft,
 *   non-prerelease release by `created_at` (ties: higher semantic version, then higher id). `make_latest:
 *   "true"` pins a release, `"legacy"` returns to computed mode. When the latest release stops being
 *   eligible (made a prerelease or a draft, deleted, or `make_latest: "false"`), the pin moves to the newest
 *   other eligible release by the same order, or to none (then `GET /releases/latest` is 404).
 *   `make_latest: "true"` on a draft or prerelease is ignored, without an error ("Drafts and prereleases
 *   cannot be set as latest", and the parameter defaults to "true" even for drafts). Publishing a draft
 *   (`draft: false`) defaults `make_latest` to "true". Removing the prerelease flag alone does not pin.
 * - Immutable releases. A release is immutable when seeded so, or when it is published while the
 *   repository has immutable releases enabled (only future publications are locked). On an immutable
 *   release: asset deletion, asset edits and uploads are refused with 422; changing `tag_name` or
 *   `target_commitish` is refused with 422 Validation Failed; changing `draft` is always refused with 422
 *   `state cannot be changed when release is immutable` (the one observed report is about re-drafting);
 *   changing `prerelease` or the latest flag is refused the same way only after `immutableLocksFlags(true)`
 *   (GitHub's docs say they stay editable; one report says they are locked). Only an actual change is
 *   refused: sending the current value is accepted. `name` and `body` are always editable. Deleting an
 *   immutable release is allowed and burns its tag name.
 * - `updated_at` has GitHub's one-second precision and is moved forward by at least one second on every
 *   edit, so two edits in the same second still differ.
 * - Faults (`failWith`, rate limits) are decided before authentication, as at GitHub's edge. A fault
 *   without `count` or `forMs` lasts until `clearFaults()`; with both, it ends at whichever comes first.
 *   500 answers `{"message":"Server Error"}`; 502 and 503 answer a small HTML page, as GitHub's front end does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { RestEndpointMethodTypes } from '@octokit/rest';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { CommitChecks } from './github-checks.js';

export type GitHubRelease = RestEndpointMethodTypes['repos']['getRelease']['response']['data'];
export type GitHubReleaseAsset = RestEndpointMethodTypes['repos']['getReleaseAsset']['response']['data'];
export type GitHubRepository = RestEndpointMethodTypes['repos']['get']['response']['data'];
type SimpleUser = GitHubRelease['author'];

export interface GitHubRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body, the raw bytes of an upload, or undefined. */
  body: unknown;
  /** Status the double answered with (0 while the request is in flight). */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
  requestId: string;
}

export interface SchemaViolation {
  method: string;
  path: string;
  operationId: string;
  status: number;
  errors: ErrorObject[];
}

export interface FaultScope {
  /** How many matching requests fail; without it (and without forMs) the fault lasts until clearFaults(). */
  count?: number;
  /** How long the fault lasts from now. */
  forMs?: number;
  /** Only requests whose path contains this string. */
  pathIncludes?: string;
  /** Only requests with this method. */
  method?: string;
}

export interface SeedRepo {
  private?: boolean;
  defaultBranch?: string;
  /** Whether immutable releases are enabled (then releases published from now on are immutable). */
  immutableReleases?: boolean;
  enforcedByOwner?: boolean;
}

export interface SeedRelease {
  tag: string;
  name?: string | null;
  body?: string | null;
  draft?: boolean;
  prerelease?: boolean;
  /** Defaults to whether the repository has immutable releases enabled (never for drafts). */
  immutable?: boolean;
  targetCommitish?: string;
  createdAt?: Date | string;
  /** true pins this release as latest; false moves the latest flag away from it; absent leaves it alone. */
  latest?: boolean;
  assets?: { name: string; content?: string | Buffer; contentType?: string; label?: string }[];
}

interface AssetState {
  id: number;
  name: string;
  label: string | null;
  content: Buffer;
  contentType: string;
  createdAt: Date;
  updatedAt: Date;
}

interface ReleaseState {
  id: number;
  tag: string;
  target: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  immutable: boolean;
  createdAt: Date;
  publishedAt: Date | null;
  updatedAt: Date;
  assets: AssetState[];
}

interface RepoState {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  hidden: boolean;
  immutableEnabled: boolean;
  enforcedByOwner: boolean;
  releases: ReleaseState[];
  /** Pinned latest release id, null for "no latest release", or computed from creation dates. */
  latest: number | null | 'computed';
  burnedTags: Set<string>;
  createdAt: Date;
}

interface Fault {
  kind: 'status' | 'secondary' | 'primary';
  status: number;
  remaining: number;
  until: number;
  pathIncludes?: string;
  method?: string;
  retryAfterSec: number;
  resetInSec: number;
}

interface Reply {
  status: number;
  json?: unknown;
  raw?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** The operation whose OpenAPI responses the JSON body must match. */
  operation?: OperationRef;
}

interface OperationRef {
  pathKey: string;
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
}

interface Context {
  repo: RepoState;
  match: RegExpExecArray;
  query: URLSearchParams;
  body: unknown;
  raw: Buffer;
  headers: IncomingHttpHeaders;
  docs: string;
}

interface Route {
  method: string;
  pattern: RegExp;
  operation: OperationRef;
  /** The request body is raw bytes (uploads), not JSON. */
  rawBody?: boolean;
  run: (ctx: Context) => Reply;
}

const API_VERSION = '2022-11-28';
const RATE_LIMIT = 5000;
const SECONDARY_DOCS =
  'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits';
const PRIMARY_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';
const IMMUTABLE_STATE_MESSAGE = 'state cannot be changed when release is immutable';

// ---------------------------------------------------------------------------------------------------------
// GitHub's OpenAPI description as a response contract
// ---------------------------------------------------------------------------------------------------------

interface OpenApiMedia {
  schema?: unknown;
}
interface OpenApiResponse {
  $ref?: string;
  content?: Record<string, OpenApiMedia>;
}
interface OpenApiOperation {
  operationId: string;
  externalDocs?: { url: string };
  responses: Record<string, OpenApiResponse>;
  requestBody?: { content?: Record<string, OpenApiMedia> };
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation | undefined> | undefined>;
  components: { schemas: Record<string, unknown>; responses: Record<string, OpenApiResponse> };
}

const COMPONENT_BASE = 'https://openapi.github.test/components/schemas/';
const COMPONENT_REF = '#/components/schemas/';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Loads api.github.com's description once per process and compiles validators on demand. Schemas are
 * converted from OpenAPI 3.0 to JSON Schema: `nullable: true` adds null to the allowed types (or wraps a
 * typeless schema in `anyOf [schema, null]`), `$ref` siblings are dropped as OpenAPI 3.0 prescribes, and
 * annotation-only keywords (example, discriminator, x-*) are removed.
 */
class OpenApiContract {
  private static instance: OpenApiContract | undefined;

  static get(): OpenApiContract {
    OpenApiContract.instance ??= new OpenApiContract();
    return OpenApiContract.instance;
  }

  private readonly doc: OpenApiDocument;
  private readonly ajv: Ajv;
  private readonly registered = new Set<string>();
  private readonly validators = new Map<string, ValidateFunction | null>();

  private constructor() {
    const require = createRequire(import.meta.url);
    const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
    this.doc = JSON.parse(readFileSync(file, 'utf8')) as OpenApiDocument;
    if (!this.doc.openapi.startsWith('3.0.')) {
      throw new Error(
        `expected an OpenAPI 3.0 description, found ${this.doc.openapi}; revisit nullable handling`,
      );
    }
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
    ajvFormats.default(this.ajv);
  }

  operation(ref: OperationRef): OpenApiOperation {
    const op = this.doc.paths[ref.pathKey]?.[ref.method];
    if (!op) throw new Error(`no ${ref.method.toUpperCase()} ${ref.pathKey} in GitHub's OpenAPI description`);
    return op;
  }

  /** Validates a response body; returns the errors, or undefined when it conforms or has no schema. */
  checkResponse(ref: OperationRef, status: number, body: unknown): ErrorObject[] | undefined {
    const validate = this.responseValidator(ref, status, body);
    if (!validate || validate(body)) return undefined;
    return validate.errors ?? [];
  }

  /** Validates a JSON request body against the operation's request schema. */
  checkRequest(ref: OperationRef, body: unknown): ErrorObject[] | undefined {
    const key = `request ${ref.method} ${ref.pathKey}`;
    let validate = this.validators.get(key);
    if (validate === undefined) {
      const schema = this.operation(ref).requestBody?.content?.['application/json']?.schema;
      validate = schema === undefined ? null : this.compile(schema);
      this.validators.set(key, validate);
    }
    if (!validate || validate(body)) return undefined;
    return validate.errors ?? [];
  }

  private responseValidator(ref: OperationRef, status: number, body: unknown): ValidateFunction | null {
    const documented = this.operation(ref).responses[String(status)];
    let key: string;
    let schema: unknown;
    if (documented) {
      key = `response ${ref.method} ${ref.pathKey} ${status}`;
      const response = documented.$ref ? this.resolveResponse(documented.$ref) : documented;
      schema = response.content?.['application/json']?.schema;
    } else if (status >= 400) {
      // Undocumented error statuses still carry GitHub's error shapes.
      const name = isRecord(body) && 'errors' in body ? 'validation-error' : 'basic-error';
      key = `component ${name}`;
      schema = { $ref: COMPONENT_REF + name };
    } else {
      return null;
    }
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = schema === undefined ? null : this.compile(schema);
      this.validators.set(key, validate);
    }
    return validate;
  }

  private resolveResponse(ref: string): OpenApiResponse {
    const name = ref.replace('#/components/responses/', '');
    const response = this.doc.components.responses[name];
    if (!response) throw new Error(`unresolved response ${ref}`);
    return response;
  }

  private compile(schema: unknown): ValidateFunction {
    const pending: string[] = [];
    const root = this.convert(schema, pending);
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (this.registered.has(name)) continue;
      this.registered.add(name);
      const component = this.doc.components.schemas[name];
      if (component === undefined) throw new Error(`unresolved schema ${COMPONENT_REF}${name}`);
      const converted = this.convert(component, pending);
      this.ajv.addSchema({ ...(isRecord(converted) ? converted : {}), $id: COMPONENT_BASE + name });
    }
    return this.ajv.compile(isRecord(root) ? root : {});
  }

  private convert(node: unknown, pending: string[]): unknown {
    if (!isRecord(node)) return node;
    if (typeof node.$ref === 'string') {
      if (!node.$ref.startsWith(COMPONENT_REF)) throw new Error(`unsupported $ref ${node.$ref}`);
      const name = node.$ref.slice(COMPONENT_REF.length);
      if (!this.registered.has(name)) pending.push(name);
      return { $ref: COMPONENT_BASE + name };
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      switch (key) {
        case 'properties':
        case 'patternProperties':
          out[key] = Object.fromEntries(
            Object.entries(isRecord(value) ? value : {}).map(([k, v]) => [k, this.convert(v, pending)]),
          );
          break;
        case 'items':
        case 'additionalProperties':
        case 'not':
          out[key] = Array.isArray(value)
            ? value.map((v) => this.convert(v, pending))
            : this.convert(value, pending);
          break;
        case 'allOf':
        case 'anyOf':
        case 'oneOf':
          out[key] = Array.isArray(value) ? value.map((v) => this.convert(v, pending)) : value;
          break;
        case 'nullable':
        case 'example':
        case 'examples':
        case 'discriminator':
        case 'xml':
        case 'externalDocs':
          break;
        default:
          if (!key.startsWith('x-')) out[key] = value;
      }
    }
    if (node.nullable !== true) return out;
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
      return out;
    }
    return { anyOf: [out, { type: 'null' }] };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function wholeSecond(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function requestId(): string {
  const hex = (bytes: number) =>
    randomBytes(bytes)
      .toString('hex')
      .toUpperCase()
      .replace(/^0+(?=.)/, '');
  return `${hex(2)}:${hex(3)}:${hex(4)}:${hex(4)}:${Math.floor(Date.now() / 1000)
    .toString(16)
    .toUpperCase()}`;
}

function nodeId(prefix: string, id: number): string {
  return `${prefix}_kwDO${Buffer.from(`${prefix}:${id}`).toString('base64url')}`;
}

function guessContentType(name: string): string {
  if (/\.(tar\.gz|tgz)$/.test(name)) return 'application/gzip';
  if (name.endsWith('.zip')) return 'application/zip';
  if (name.endsWith('.json')) return 'application/json';
  if (/\.(txt|sha256|asc)$/.test(name)) return 'text/plain';
  return 'application/octet-stream';
}

function safeDecode(text: string | undefined): string {
  try {
    return decodeURIComponent(text ?? '');
  } catch {
    return text ?? '';
  }
}

function versionParts(tag: string): number[] {
  return (tag.match(/\d+/g) ?? []).map(Number);
}

function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** GitHub's order for release lists: newest created first. */
function newestFirst(a: ReleaseState, b: ReleaseState): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || compareVersions(b.tag, a.tag) || b.id - a.id;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function describeRequestError(error: ErrorObject, body: unknown): string {
  const field = error.instancePath.replace(/^\//, '');
  const where = field ? `properties/${field}` : 'body';
  let value: unknown = body;
  for (const part of field ? field.split('/') : []) value = isRecord(value) ? value[part] : undefined;
  const shown = JSON.stringify(value);
  if (error.keyword === 'type')
    return `For '${where}', ${shown} is not ${article(String(error.params.type))}.`;
  if (error.keyword === 'enum') {
    const allowed = (error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
    return `For '${where}', ${shown} is not a member of [${allowed}].`;
  }
  return `For '${where}', ${shown} ${error.message ?? 'is invalid'}.`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

const FAULT_PAGES: Record<number, string> = {
  502: '<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title></head><body><p>We had issues producing the response to your request.</p></body></html>\n',
  503: '<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title></head><body><p>No server is currently available to service your request.</p></body></html>\n',
};

// ---------------------------------------------------------------------------------------------------------
// The double
// ---------------------------------------------------------------------------------------------------------

export class GitHubDouble {
  /** Every request received, in arrival order. */
  readonly requests: GitHubRequest[] = [];
  /** Response bodies that did not match GitHub's OpenAPI description (each was answered with a 500). */
  readonly schemaViolations: SchemaViolation[] = [];

  /** CI results (check runs, commit statuses, required checks) of commits: seed through it. */
  readonly checks = new CommitChecks();
  private readonly contract = OpenApiContract.get();
  private readonly server: Server;
  private readonly repos = new Map<string, RepoState>();
  private readonly routes: Route[];
  private faults: Fault[] = [];
  private locksFlags = false;
  private nextRepoId = 812_000_001;
  private nextReleaseId = 182_000_001;
  private nextAssetId = 241_000_001;
  private rateRemaining = RATE_LIMIT;
  private readonly rateReset = Math.floor(Date.now() / 1000) + 3600;
  private baseUrl = '';

  private constructor(private readonly token: string | undefined) {
    this.server = createServer((req, res) => {
      this.handle(req)
        .then((reply) => {
          res.writeHead(reply.status, reply.headers);
          res.end(reply.raw);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err instanceof Error ? (err.stack ?? err.message) : String(err));
        });
    });
    this.routes = this.buildRoutes();
  }

  /** Starts the double on 127.0.0.1 with an ephemeral port. With `token`, only that token is accepted. */
  static async start(opts: { token?: string } = {}): Promise<GitHubDouble> {
    const double = new GitHubDouble(opts.token);
    await new Promise<void>((resolve, reject) => {
      double.server.once('error', reject);
      double.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = double.server.address() as AddressInfo;
    double.baseUrl = `http://127.0.0.1:${port}`;
    return double;
  }

  /** The API root: the value for GITHUB_API_URL and Octokit's `baseUrl`. */
  get url(): string {
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  // --- seeding and inspection -----------------------------------------------------------------------------

  addRepo(fullName: string, opts: SeedRepo = {}): GitHubRepository {
    const [owner, name, extra] = fullName.split('/');
    if (!owner || !name || extra !== undefined) throw new Error(`expected owner/repo, got ${fullName}`);
    if (this.repos.has(fullName.toLowerCase())) throw new Error(`${fullName} already exists`);
    const repo: RepoState = {
      id: this.nextRepoId++,
      owner,
      name,
      private: opts.private ?? false,
      defaultBranch: opts.defaultBranch ?? 'main',
      hidden: false,
      immutableEnabled: opts.immutableReleases ?? false,
      enforcedByOwner: opts.enforcedByOwner ?? false,
      releases: [],
      latest: 'computed',
      burnedTags: new Set(),
      createdAt: wholeSecond(Date.now() - 365 * 86_400_000),
    };
    this.repos.set(fullName.toLowerCase(), repo);
    return this.repoJson(repo);
  }

  /** Makes the repository invisible to the token: every endpoint under it answers 404. */
  hideRepo(fullName: string, hidden = true): void {
    this.repoState(fullName).hidden = hidden;
  }

  /** Seeds a release (creating the repository if needed) and returns it as the API would. */
  addRelease(fullName: string, seed: SeedRelease): GitHubRelease {
    const repo = this.repos.get(fullName.toLowerCase()) ? this.repoState(fullName) : this.seedRepo(fullName);
    if (repo.releases.some((r) => r.tag === seed.tag)) throw new Error(`${fullName} already has ${seed.tag}`);
    const draft = seed.draft ?? false;
    if (draft && seed.immutable)
      throw new Error('a draft cannot be immutable: immutability applies at publication');
    const newest = repo.releases.reduce((max, r) => Math.max(max, r.createdAt.getTime()), 0);
    const createdAt =
      seed.createdAt !== undefined
        ? wholeSecond(new Date(seed.createdAt).getTime())
        : wholeSecond(Math.max(Date.now(), newest + 1000));
    const rel: ReleaseState = {
      id: this.nextReleaseId++,
      tag: seed.tag,
      target: seed.targetCommitish ?? repo.defaultBranch,
      name: seed.name === undefined ? seed.tag : seed.name,
      body: seed.body === undefined ? `Release ${seed.tag}` : seed.body,
      draft,
      prerelease: seed.prerelease ?? false,
      immutable: seed.immutable ?? (repo.immutableEnabled && !draft),
      createdAt,
      publishedAt: draft ? null : createdAt,
      updatedAt: createdAt,
      assets: [],
    };
    for (const asset of seed.assets ?? []) {
      rel.assets.push({
        id: this.nextAssetId++,
        name: asset.name,
        label: asset.label ?? null,
        content: Buffer.from(asset.content ?? `${asset.name} of ${seed.tag}\n`),
        contentType: asset.contentType ?? guessContentType(asset.name),
        createdAt,
        updatedAt: createdAt,
      });
    }
    repo.releases.push(rel);
    if (seed.latest === true) {
      if (!this.eligible(rel)) throw new Error('drafts and prereleases cannot be set as latest');
      repo.latest = rel.id;
    } else if (seed.latest === false) {
      this.unmarkLatest(repo, rel);
    }
    return this.releaseJson(repo, rel);
  }

  /** The release with this tag (drafts included), as the API would return it. Throws if there is none. */
  release(fullName: string, tag: string): GitHubRelease {
    const repo = this.repoState(fullName);
    const rel = repo.releases.find((r) => r.tag === tag);
    if (!rel) throw new Error(`${fullName} has no release ${tag}`);
    return this.releaseJson(repo, rel);
  }

  /** All releases, newest first, drafts included. */
  releases(fullName: string): GitHubRelease[] {
    const repo = this.repoState(fullName);
    return [...repo.releases].sort(newestFirst).map((r) => this.releaseJson(repo, r));
  }

  /** What `GET /releases/latest` would return, or undefined when it would answer 404. */
  latest(fullName: string): GitHubRelease | undefined {
    const repo = this.repoState(fullName);
    const rel = this.latestOf(repo);
    return rel ? this.releaseJson(repo, rel) : undefined;
  }

  /** Enables or disables immutable releases for the repository; existing releases keep their state. */
  setImmutableReleases(fullName: string, enabled: boolean, opts: { enforcedByOwner?: boolean } = {}): void {
    const repo = this.repoState(fullName);
    repo.immutableEnabled = enabled;
    repo.enforcedByOwner = enabled && (opts.enforcedByOwner ?? repo.enforcedByOwner);
  }

  /** When on, immutable releases also refuse prerelease and latest-flag changes with 422. */
  immutableLocksFlags(on: boolean): void {
    this.locksFlags = on;
  }

  /** Non-GET requests (whatever their outcome), for exactly-once assertions. */
  writes(): GitHubRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  }

  // --- faults ---------------------------------------------------------------------------------------------

  /** Answers matching requests with a server error. */
  failWith(opts: { status: 500 | 502 | 503 } & FaultScope): void {
    this.addFault('status', opts.status, opts, 0, 0);
  }

  /** Answers matching requests with GitHub's secondary rate limit 403 (or 429) and a `retry-after` header. */
  secondaryRateLimit(opts: FaultScope & { retryAfterSec?: number; status?: 403 | 429 } = {}): void {
    this.addFault('secondary', opts.status ?? 403, opts, opts.retryAfterSec ?? 60, 0);
  }

  /** Answers matching requests with GitHub's primary rate limit 403 (or 429): remaining 0 until the reset. */
  primaryRateLimit(opts: FaultScope & { resetInSec?: number; status?: 403 | 429 } = {}): void {
    this.addFault('primary', opts.status ?? 403, opts, 0, opts.resetInSec ?? 60);
  }

  clearFaults(): void {
    this.faults = [];
  }

  private addFault(
    kind: Fault['kind'],
    status: number,
    scope: FaultScope,
    retryAfterSec: number,
    resetInSec: number,
  ): void {
    const lasting = scope.count === undefined && scope.forMs === undefined;
    this.faults.push({
      kind,
      status,
      remaining: scope.count ?? Infinity,
      until: lasting || scope.forMs === undefined ? Infinity : Date.now() + scope.forMs,
      pathIncludes: scope.pathIncludes,
      method: scope.method?.toUpperCase(),
      retryAfterSec,
      resetInSec,
    });
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const now = Date.now();
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.until > now);
    const fault = this.faults.find(
      (f) =>
        (f.method === undefined || f.method === method) &&
        (f.pathIncludes === undefined || path.includes(f.pathIncludes)),
    );
    if (fault) fault.remaining--;
    return fault;
  }

  // --- request handling -----------------------------------------------------------------------------------

  private async handle(
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; raw?: Buffer }> {
    const at = Date.now();
    const id = requestId();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://github.test');
    const record: GitHubRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      status: 0,
      at,
      requestId: id,
    };
    this.requests.push(record);
    const raw = await readBody(req);
    let reply = this.dispatch(req, method, url, raw, record);

    if (reply.operation && reply.json !== undefined) {
      const errors = this.contract.checkResponse(reply.operation, reply.status, reply.json);
      if (errors) {
        const operationId = this.contract.operation(reply.operation).operationId;
        this.schemaViolations.push({ method, path: url.pathname, operationId, status: reply.status, errors });
        reply = {
          status: 500,
          json: {
            message: `GitHubDouble: the ${reply.status} body of ${operationId} does not match GitHub's OpenAPI description`,
            errors,
          },
        };
      }
    }

    const headers: Record<string, string> = {
      server: 'github.com',
      date: new Date().toUTCString(),
      'x-github-request-id': id,
      'x-github-api-version-selected': API_VERSION,
      'x-github-media-type': 'github.v3; format=json',
      'x-ratelimit-limit': String(RATE_LIMIT),
      'x-ratelimit-remaining': String(this.rateRemaining),
      'x-ratelimit-reset': String(this.rateReset),
      'x-ratelimit-used': String(RATE_LIMIT - this.rateRemaining),
      'x-ratelimit-resource': 'core',
      'x-content-type-options': 'nosniff',
      'access-control-allow-origin': '*',
      'access-control-expose-headers':
        'ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset',
      ...reply.headers,
    };
    let payload: Buffer | undefined;
    if (reply.json !== undefined) {
      payload = Buffer.from(JSON.stringify(reply.json));
      headers['content-type'] = 'application/json; charset=utf-8';
    } else if (reply.raw !== undefined) {
      payload = Buffer.from(reply.raw);
      headers['content-type'] = reply.contentType ?? 'application/octet-stream';
    }
    let status = reply.status;
    if (method === 'GET' && status === 200 && payload) {
      const etag = `W/"${createHash('sha256').update(payload).digest('hex')}"`;
      headers.etag = etag;
      headers['cache-control'] = 'private, max-age=60, s-maxage=60';
      if (req.headers['if-none-match'] === etag) {
        status = 304;
        payload = undefined;
        delete headers['content-type'];
      }
    }
    if (payload) headers['content-length'] = String(payload.length);
    record.status = status;
    return { status, headers, raw: payload };
  }

  private dispatch(
    req: IncomingMessage,
    method: string,
    url: URL,
    raw: Buffer,
    record: GitHubRequest,
  ): Reply {
    const prefix = /^\/(?:repos\/([^/]+)\/([^/]+)|repositories\/(\d+))(\/.*)?$/.exec(url.pathname);
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of prefix ? this.routes : []) {
      if (candidate.method !== method) continue;
      match = candidate.pattern.exec(prefix?.[4] ?? '');
      if (match) {
        route = candidate;
        break;
      }
    }
    // Faults and authentication failures of an implemented operation are checked against its responses too.
    const operation = route?.operation;
    const docs = operation
      ? (this.contract.operation(operation).externalDocs?.url ?? 'https://docs.github.com/rest')
      : 'https://docs.github.com/rest';

    // Asset downloads (where GET .../releases/assets/{id} with Accept: application/octet-stream redirects).
    const download = /^\/_downloads\/(\d+)$/.exec(url.pathname);
    if (download && method === 'GET') return this.download(Number(download[1]));

    const fault = this.takeFault(method, url.pathname);
    if (fault) return { ...this.faultReply(fault, record.requestId), operation };

    const denied = this.authenticate(req.headers.authorization);
    if (denied) return { ...denied, operation };
    this.rateRemaining = Math.max(0, this.rateRemaining - 1);

    if (!prefix || !route || !match || !operation) return this.notFound(docs);
    const repo = prefix[3]
      ? [...this.repos.values()].find((r) => r.id === Number(prefix[3]))
      : this.repos.get(`${safeDecode(prefix[1])}/${safeDecode(prefix[2])}`.toLowerCase());
    if (!repo || repo.hidden) return { ...this.notFound(docs), operation };

    let body: unknown = undefined;
    if (route.rawBody) {
      record.body = raw;
    } else if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return { ...this.error(400, 'Problems parsing JSON', docs), operation };
      }
      record.body = body;
      const invalid = this.contract.checkRequest(operation, body);
      if (invalid?.[0]) {
        return {
          ...this.error(422, `Invalid request.\n\n${describeRequestError(invalid[0], body)}`, docs),
          operation,
        };
      }
    }
    const reply = route.run({ repo, match, query: url.searchParams, body, raw, headers: req.headers, docs });
    return { ...reply, operation: reply.operation ?? operation };
  }

  private authenticate(header: string | undefined): Reply | undefined {
    if (this.token === undefined) return undefined;
    if (!header) return this.error(401, 'Requires authentication', 'https://docs.github.com/rest');
    const match = /^(?:token|bearer)\s+(\S+)$/i.exec(header.trim());
    if (match?.[1] === this.token) return undefined;
    return this.error(401, 'Bad credentials', 'https://docs.github.com/rest');
  }

  private faultReply(fault: Fault, id: string): Reply {
    if (fault.kind === 'secondary') {
      return {
        status: fault.status,
        headers: { 'retry-after': String(fault.retryAfterSec) },
        json: {
          message: `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${id}.`,
          documentation_url: SECONDARY_DOCS,
          status: String(fault.status),
        },
      };
    }
    if (fault.kind === 'primary') {
      const now = new Date();
      const stamp = now
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC');
      const reset = Math.floor(now.getTime() / 1000) + fault.resetInSec;
      return {
        status: fault.status,
        headers: {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-used': String(RATE_LIMIT),
          'x-ratelimit-reset': String(reset),
        },
        json: {
          message: `API rate limit exceeded for user ID ${this.author.id}. If you reach out to GitHub Support for help, please include the request ID ${id} and timestamp ${stamp}.`,
          documentation_url: PRIMARY_DOCS,
          status: String(fault.status),
        },
      };
    }
    const page = FAULT_PAGES[fault.status];
    if (page) return { status: fault.status, raw: page, contentType: 'text/html; charset=utf-8' };
    return { status: fault.status, json: { message: 'Server Error' } };
  }

  private error(status: number, message: string, docs: string): Reply {
    return { status, json: { message, documentation_url: docs, status: String(status) } };
  }

  private fullName(repo: RepoState): string {
    return `${repo.owner}/${repo.name}`;
  }

  /** GitHub's answer for a ref that names no commit. */
  private noCommit(c: Context): Reply {
    return this.error(422, `No commit found for SHA: ${safeDecode(c.match[1])}`, c.docs);
  }

  private notFound(docs: string): Reply {
    return this.error(404, 'Not Found', docs);
  }

  private validationFailed(docs: string, errors: Record<string, string>[]): Reply {
    return {
      status: 422,
      json: { message: 'Validation Failed', errors, documentation_url: docs, status: '422' },
    };
  }

  // --- routes ---------------------------------------------------------------------------------------------

  private buildRoutes(): Route[] {
    const releases = '/repos/{owner}/{repo}/releases';
    return [
      {
        method: 'GET',
        pattern: /^$/,
        operation: { pathKey: '/repos/{owner}/{repo}', method: 'get' },
        run: (c) => ({ status: 200, json: this.repoJson(c.repo) }),
      },
      {
        method: 'GET',
        pattern: /^\/releases$/,
        operation: { pathKey: releases, method: 'get' },
        run: (c) => this.listReleases(c),
      },
      {
        method: 'GET',
        pattern: /^\/releases\/latest$/,
        operation: { pathKey: `${releases}/latest`, method: 'get' },
        run: (c) => this.getLatest(c),
      },
      {
        method: 'GET',
        pattern: /^\/releases\/tags\/(.+)$/,
        operation: { pathKey: `${releases}/tags/{tag}`, method: 'get' },
        run: (c) => this.getByTag(c),
      },
      {
        method: 'GET',
        pattern: /^\/releases\/assets\/(\d+)$/,
        operation: { pathKey: `${releases}/assets/{asset_id}`, method: 'get' },
        run: (c) => this.getAsset(c),
      },
      {
        method: 'PATCH',
        pattern: /^\/releases\/assets\/(\d+)$/,
        operation: { pathKey: `${releases}/assets/{asset_id}`, method: 'patch' },
        run: (c) => this.updateAsset(c),
      },
      {
        method: 'DELETE',
        pattern: /^\/releases\/assets\/(\d+)$/,
        operation: { pathKey: `${releases}/assets/{asset_id}`, method: 'delete' },
        run: (c) => this.deleteAsset(c),
      },
      {
        method: 'GET',
        pattern: /^\/releases\/(\d+)$/,
        operation: { pathKey: `${releases}/{release_id}`, method: 'get' },
        run: (c) => this.getRelease(c),
      },
      {
        method: 'PATCH',
        pattern: /^\/releases\/(\d+)$/,
        operation: { pathKey: `${releases}/{release_id}`, method: 'patch' },
        run: (c) => this.updateRelease(c),
      },
      {
        method: 'DELETE',
        pattern: /^\/releases\/(\d+)$/,
        operation: { pathKey: `${releases}/{release_id}`, method: 'delete' },
        run: (c) => this.deleteRelease(c),
      },
      {
        method: 'GET',
        pattern: /^\/releases\/(\d+)\/assets$/,
        operation: { pathKey: `${releases}/{release_id}/assets`, method: 'get' },
        run: (c) => this.listAssets(c),
      },
      {
        method: 'POST',
        pattern: /^\/releases\/(\d+)\/assets$/,
        operation: { pathKey: `${releases}/{release_id}/assets`, method: 'post' },
        rawBody: true,
        run: (c) => this.uploadAsset(c),
      },
      {
        method: 'GET',
        pattern: /^\/commits\/(.+)\/check-runs$/,
        operation: { pathKey: '/repos/{owner}/{repo}/commits/{ref}/check-runs', method: 'get' },
        run: (c) => {
          const commit = this.checks.find(this.fullName(c.repo), safeDecode(c.match[1]));
          if (!commit) return this.noCommit(c);
          return {
            status: 200,
            json: this.checks.checkRunsJson(this.baseUrl, this.fullName(c.repo), commit, c.query),
          };
        },
      },
      {
        method: 'GET',
        pattern: /^\/commits\/(.+)\/status$/,
        operation: { pathKey: '/repos/{owner}/{repo}/commits/{ref}/status', method: 'get' },
        run: (c) => {
          const commit = this.checks.find(this.fullName(c.repo), safeDecode(c.match[1]));
          if (!commit) return this.noCommit(c);
          const json = this.checks.combinedStatusJson(
            this.baseUrl,
            this.fullName(c.repo),
            commit,
            this.repoJson(c.repo),
          );
          return { status: 200, json };
        },
      },
      {
        method: 'GET',
        pattern: /^\/branches\/([^/]+)\/protection\/required_status_checks$/,
        operation: {
          pathKey: '/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks',
          method: 'get',
        },
        run: (c) => {
          const branch = safeDecode(c.match[1]);
          const contexts = this.checks.requiredFor(this.fullName(c.repo), branch);
          if (!contexts) return this.error(404, 'Branch not protected', c.docs);
          return {
            status: 200,
            json: this.checks.requiredJson(this.baseUrl, this.fullName(c.repo), branch, contexts),
          };
        },
      },
      {
        method: 'GET',
        pattern: /^\/immutable-releases$/,
        operation: { pathKey: '/repos/{owner}/{repo}/immutable-releases', method: 'get' },
        run: (c) => this.checkImmutable(c),
      },
      {
        method: 'PUT',
        pattern: /^\/immutable-releases$/,
        operation: { pathKey: '/repos/{owner}/{repo}/immutable-releases', method: 'put' },
        run: (c) => this.setImmutable(c, true),
      },
      {
        method: 'DELETE',
        pattern: /^\/immutable-releases$/,
        operation: { pathKey: '/repos/{owner}/{repo}/immutable-releases', method: 'delete' },
        run: (c) => this.setImmutable(c, false),
      },
    ];
  }

  private listReleases(c: Context): Reply {
    const all = [...c.repo.releases].sort(newestFirst);
    return this.paginate(c, all, `/repositories/${c.repo.id}/releases`, (r) => this.releaseJson(c.repo, r));
  }

  private getLatest(c: Context): Reply {
    const rel = this.latestOf(c.repo);
    return rel ? { status: 200, json: this.releaseJson(c.repo, rel) } : this.notFound(c.docs);
  }

  private getByTag(c: Context): Reply {
    const tag = safeDecode(c.match[1]);
    const rel = c.repo.releases.find((r) => r.tag === tag && !r.draft);
    return rel ? { status: 200, json: this.releaseJson(c.repo, rel) } : this.notFound(c.docs);
  }

  private getRelease(c: Context): Reply {
    const rel = this.findRelease(c);
    return rel ? { status: 200, json: this.releaseJson(c.repo, rel) } : this.notFound(c.docs);
  }

  private updateRelease(c: Context): Reply {
    const rel = this.findRelease(c);
    if (!rel) return this.notFound(c.docs);
    const repo = c.repo;
    const patch = (isRecord(c.body) ? c.body : {}) as {
      tag_name?: string;
      target_commitish?: string;
      name?: string;
      body?: string;
      draft?: boolean;
      prerelease?: boolean;
      make_latest?: 'true' | 'false' | 'legacy';
    };

    if (patch.tag_name !== undefined && patch.tag_name !== rel.tag) {
      if (rel.immutable) {
        return this.validationFailed(c.docs, [
          {
            resource: 'Release',
            code: 'custom',
            field: 'tag_name',
            message: 'tag_name cannot be changed when release is immutable',
          },
        ]);
      }
      if (repo.releases.some((r) => r.tag === patch.tag_name)) {
        return this.validationFailed(c.docs, [
          { resource: 'Release', code: 'already_exists', field: 'tag_name' },
        ]);
      }
      if (repo.burnedTags.has(patch.tag_name)) {
        return this.validationFailed(c.docs, [
          {
            resource: 'Release',
            code: 'custom',
            field: 'tag_name',
            message: 'tag_name was used by an immutable release',
          },
        ]);
      }
    }
    if (rel.immutable) {
      if (patch.target_commitish !== undefined && patch.target_commitish !== rel.target) {
        return this.validationFailed(c.docs, [
          {
            resource: 'Release',
            code: 'custom',
            field: 'target_commitish',
            message: 'target_commitish cannot be changed when release is immutable',
          },
        ]);
      }
      const redraft = patch.draft !== undefined && patch.draft !== rel.draft;
      const flagChange =
        (patch.prerelease !== undefined && patch.prerelease !== rel.prerelease) ||
        (patch.make_latest !== undefined &&
          this.changesLatest(repo, rel, patch.make_latest, patch.prerelease));
      if (redraft || (this.locksFlags && flagChange)) return this.error(422, IMMUTABLE_STATE_MESSAGE, c.docs);
    }

    const now = Date.now();
    if (patch.tag_name !== undefined) rel.tag = patch.tag_name;
    if (patch.target_commitish !== undefined) rel.target = patch.target_commitish;
    if (patch.name !== undefined) rel.name = patch.name;
    if (patch.body !== undefined) rel.body = patch.body;
    if (patch.prerelease !== undefined) rel.prerelease = patch.prerelease;
    let makeLatest = patch.make_latest;
    if (patch.draft !== undefined && patch.draft !== rel.draft) {
      rel.draft = patch.draft;
      if (patch.draft) {
        rel.publishedAt = null;
      } else {
        rel.publishedAt = wholeSecond(now);
        rel.immutable = repo.immutableEnabled;
        makeLatest ??= 'true';
      }
    }
    rel.updatedAt = wholeSecond(Math.max(now, rel.updatedAt.getTime() + 1000));

    if (makeLatest === 'true' && this.eligible(rel)) repo.latest = rel.id;
    else if (makeLatest === 'false') this.unmarkLatest(repo, rel);
    else if (makeLatest === 'legacy') repo.latest = 'computed';
    this.reconcileLatest(repo);
    return { status: 200, json: this.releaseJson(repo, rel) };
  }

  private deleteRelease(c: Context): Reply {
    const rel = this.findRelease(c);
    if (!rel) return this.notFound(c.docs);
    this.unmarkLatest(c.repo, rel);
    c.repo.releases = c.repo.releases.filter((r) => r !== rel);
    if (rel.immutable) c.repo.burnedTags.add(rel.tag);
    this.reconcileLatest(c.repo);
    return { status: 204 };
  }

  private listAssets(c: Context): Reply {
    const rel = this.findRelease(c);
    if (!rel) return this.notFound(c.docs);
    return this.paginate(c, rel.assets, `/repositories/${c.repo.id}/releases/${rel.id}/assets`, (a) =>
      this.assetJson(c.repo, rel, a),
    );
  }

  private getAsset(c: Context): Reply {
    const found = this.findAsset(c);
    if (!found) return this.notFound(c.docs);
    const accept = String(c.headers.accept ?? '');
    if (accept.includes('application/octet-stream')) {
      return { status: 302, headers: { location: `${this.url}/_downloads/${found.asset.id}` } };
    }
    return { status: 200, json: this.assetJson(c.repo, found.release, found.asset) };
  }

  private updateAsset(c: Context): Reply {
    const found = this.findAsset(c);
    if (!found) return this.notFound(c.docs);
    const { release, asset } = found;
    if (release.immutable) return this.error(422, 'Cannot modify assets of an immutable release.', c.docs);
    const patch = (isRecord(c.body) ? c.body : {}) as { name?: string; label?: string };
    if (
      patch.name !== undefined &&
      patch.name !== asset.name &&
      release.assets.some((a) => a.name === patch.name)
    ) {
      return this.validationFailed(c.docs, [
        { resource: 'ReleaseAsset', code: 'already_exists', field: 'name' },
      ]);
    }
    if (patch.name !== undefined) asset.name = patch.name;
    if (patch.label !== undefined) asset.label = patch.label;
    asset.updatedAt = wholeSecond(Math.max(Date.now(), asset.updatedAt.getTime() + 1000));
    return { status: 200, json: this.assetJson(c.repo, release, asset) };
  }

  private deleteAsset(c: Context): Reply {
    const found = this.findAsset(c);
    if (!found) return this.notFound(c.docs);
    if (found.release.immutable)
      return this.error(422, 'Cannot delete assets of an immutable release.', c.docs);
    found.release.assets = found.release.assets.filter((a) => a !== found.asset);
    return { status: 204 };
  }

  private uploadAsset(c: Context): Reply {
    const rel = this.findRelease(c);
    if (!rel) return this.notFound(c.docs);
    if (rel.immutable) return this.error(422, 'Cannot upload assets to an immutable release.', c.docs);
    const name = c.query.get('name');
    if (!name)
      return this.validationFailed(c.docs, [
        { resource: 'ReleaseAsset', code: 'missing_field', field: 'name' },
      ]);
    if (rel.assets.some((a) => a.name === name)) {
      return this.validationFailed(c.docs, [
        { resource: 'ReleaseAsset', code: 'already_exists', field: 'name' },
      ]);
    }
    const now = wholeSecond(Date.now());
    const asset: AssetState = {
      id: this.nextAssetId++,
      name,
      label: c.query.get('label'),
      content: c.raw,
      contentType: String(c.headers['content-type'] ?? guessContentType(name)),
      createdAt: now,
      updatedAt: now,
    };
    rel.assets.push(asset);
    return { status: 201, json: this.assetJson(c.repo, rel, asset) };
  }

  private checkImmutable(c: Context): Reply {
    if (!c.repo.immutableEnabled) return this.notFound(c.docs);
    return { status: 200, json: { enabled: true, enforced_by_owner: c.repo.enforcedByOwner } };
  }

  private setImmutable(c: Context, enabled: boolean): Reply {
    if (!enabled && c.repo.enforcedByOwner) {
      return this.error(409, 'Immutable releases are enforced by the repository owner.', c.docs);
    }
    c.repo.immutableEnabled = enabled;
    return { status: 204 };
  }

  private download(assetId: number): Reply {
    for (const repo of this.repos.values()) {
      for (const rel of repo.releases) {
        const asset = rel.assets.find((a) => a.id === assetId);
        if (asset) return { status: 200, raw: asset.content, contentType: 'application/octet-stream' };
      }
    }
    return { status: 404, raw: 'Not Found', contentType: 'text/plain' };
  }

  private paginate<T>(c: Context, items: T[], linkPath: string, toJson: (item: T) => unknown): Reply {
    const requested = Number(c.query.get('per_page') ?? '30');
    const perPage = Number.isInteger(requested) && requested > 0 ? Math.min(requested, 100) : 30;
    const requestedPage = Number(c.query.get('page') ?? '1');
    const page = Number.isInteger(requestedPage) && requestedPage > 0 ? requestedPage : 1;
    const lastPage = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const headers: Record<string, string> = {};
    if (lastPage > 1) {
      const link = (p: number, rel: string) => {
        const params = new URLSearchParams(c.query);
        params.set('page', String(p));
        return `<${this.url}${linkPath}?${params.toString()}>; rel="${rel}"`;
      };
      const links: string[] = [];
      if (page > 1) links.push(link(Math.min(page - 1, lastPage), 'prev'));
      if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
      if (page > 1) links.push(link(1, 'first'));
      headers.link = links.join(', ');
    }
    return { status: 200, json: slice.map(toJson), headers };
  }

  private findRelease(c: Context): ReleaseState | undefined {
    const id = Number(c.match[1]);
    return c.repo.releases.find((r) => r.id === id);
  }

  private findAsset(c: Context): { release: ReleaseState; asset: AssetState } | undefined {
    const id = Number(c.match[1]);
    for (const release of c.repo.releases) {
      const asset = release.assets.find((a) => a.id === id);
      if (asset) return { release, asset };
    }
    return undefined;
  }

  // --- latest-release bookkeeping -------------------------------------------------------------------------

  private eligible(rel: ReleaseState): boolean {
    return !rel.draft && !rel.prerelease;
  }

  private newestEligible(repo: RepoState, excludeId?: number): ReleaseState | undefined {
    return repo.releases.filter((r) => this.eligible(r) && r.id !== excludeId).sort(newestFirst)[0];
  }

  private latestOf(repo: RepoState): ReleaseState | undefined {
    if (repo.latest === 'computed') return this.newestEligible(repo);
    if (repo.latest === null) return undefined;
    const pinned = repo.latest;
    return repo.releases.find((r) => r.id === pinned);
  }

  /** Moves the latest flag away from `rel` to the newest other eligible release (or to none). */
  private unmarkLatest(repo: RepoState, rel: ReleaseState): void {
    if (this.latestOf(repo)?.id === rel.id) repo.latest = this.newestEligible(repo, rel.id)?.id ?? null;
  }

  /** A pinned latest release that became a draft or prerelease (or vanished) hands the flag on. */
  private reconcileLatest(repo: RepoState): void {
    if (typeof repo.latest !== 'number') return;
    const pinned = repo.latest;
    const rel = repo.releases.find((r) => r.id === pinned);
    if (!rel || !this.eligible(rel)) repo.latest = this.newestEligible(repo, pinned)?.id ?? null;
  }

  private changesLatest(
    repo: RepoState,
    rel: ReleaseState,
    makeLatest: 'true' | 'false' | 'legacy',
    prerelease: boolean | undefined,
  ): boolean {
    const current = this.latestOf(repo);
    if (makeLatest === 'true') return current?.id !== rel.id && !rel.draft && !(prerelease ?? rel.prerelease);
    if (makeLatest === 'false') return current?.id === rel.id;
    return repo.latest !== 'computed' && this.newestEligible(repo)?.id !== current?.id;
  }

  // --- representations ------------------------------------------------------------------------------------

  private repoState(fullName: string): RepoState {
    const repo = this.repos.get(fullName.toLowerCase());
    if (!repo) throw new Error(`unknown repository ${fullName}; seed it with addRepo()`);
    return repo;
  }

  private seedRepo(fullName: string): RepoState {
    this.addRepo(fullName);
    return this.repoState(fullName);
  }

  /** Who publishes and uploads: the Actions bot, as for most automated releases. */
  private get author(): SimpleUser {
    return this.user('github-actions[bot]', 41_898_282, 'Bot');
  }

  private user(login: string, id: number, type: 'User' | 'Bot' | 'Organization'): SimpleUser {
    const api = `${this.baseUrl}/users/${encodeURIComponent(login)}`;
    return {
      login,
      id,
      node_id: nodeId(type === 'Bot' ? 'BOT' : type === 'Organization' ? 'O' : 'U', id),
      avatar_url: `https://avatars.githubusercontent.com/${type === 'Bot' ? 'in/15368' : `u/${id}`}?v=4`,
      gravatar_id: '',
      url: api,
      html_url:
        type === 'Bot'
          ? `https://github.com/apps/${login.replace(/\[bot\]$/, '')}`
          : `https://github.com/${login}`,
      followers_url: `${api}/followers`,
      following_url: `${api}/following{/other_user}`,
      gists_url: `${api}/gists{/gist_id}`,
      starred_url: `${api}/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/subscriptions`,
      organizations_url: `${api}/orgs`,
      repos_url: `${api}/repos`,
      events_url: `${api}/events{/privacy}`,
      received_events_url: `${api}/received_events`,
      type,
      user_view_type: 'public',
      site_admin: false,
    };
  }

  private repoJson(repo: RepoState): GitHubRepository {
    const full = `${repo.owner}/${repo.name}`;
    const api = `${this.baseUrl}/repos/${full}`;
    const html = `https://github.com/${full}`;
    const created = iso(repo.createdAt);
    const releasesTouched = repo.releases.reduce(
      (max, r) => Math.max(max, r.updatedAt.getTime()),
      repo.createdAt.getTime(),
    );
    return {
      id: repo.id,
      node_id: nodeId('R', repo.id),
      name: repo.name,
      full_name: full,
      private: repo.private,
      owner: this.user(repo.owner, repo.id - 700_000_000, 'Organization'),
      html_url: html,
      description: null,
      fork: false,
      url: api,
      forks_url: `${api}/forks`,
      keys_url: `${api}/keys{/key_id}`,
      collaborators_url: `${api}/collaborators{/collaborator}`,
      teams_url: `${api}/teams`,
      hooks_url: `${api}/hooks`,
      issue_events_url: `${api}/issues/events{/number}`,
      events_url: `${api}/events`,
      assignees_url: `${api}/assignees{/user}`,
      branches_url: `${api}/branches{/branch}`,
      tags_url: `${api}/tags`,
      blobs_url: `${api}/git/blobs{/sha}`,
      git_tags_url: `${api}/git/tags{/sha}`,
      git_refs_url: `${api}/git/refs{/sha}`,
      trees_url: `${api}/git/trees{/sha}`,
      statuses_url: `${api}/statuses/{sha}`,
      languages_url: `${api}/languages`,
      stargazers_url: `${api}/stargazers`,
      contributors_url: `${api}/contributors`,
      subscribers_url: `${api}/subscribers`,
      subscription_url: `${api}/subscription`,
      commits_url: `${api}/commits{/sha}`,
      git_commits_url: `${api}/git/commits{/sha}`,
      comments_url: `${api}/comments{/number}`,
      issue_comment_url: `${api}/issues/comments{/number}`,
      contents_url: `${api}/contents/{+path}`,
      compare_url: `${api}/compare/{base}...{head}`,
      merges_url: `${api}/merges`,
      archive_url: `${api}/{archive_format}{/ref}`,
      downloads_url: `${api}/downloads`,
      issues_url: `${api}/issues{/number}`,
      pulls_url: `${api}/pulls{/number}`,
      milestones_url: `${api}/milestones{/number}`,
      notifications_url: `${api}/notifications{?since,all,participating}`,
      labels_url: `${api}/labels{/name}`,
      releases_url: `${api}/releases{/id}`,
      deployments_url: `${api}/deployments`,
      created_at: created,
      updated_at: iso(new Date(releasesTouched)),
      pushed_at: iso(new Date(releasesTouched)),
      git_url: `git://github.com/${full}.git`,
      ssh_url: `git@github.com:${full}.git`,
      clone_url: `${html}.git`,
      svn_url: html,
      homepage: null,
      size: 1024,
      stargazers_count: 0,
      watchers_count: 0,
      language: 'TypeScript',
      has_issues: true,
      has_projects: true,
      has_downloads: true,
      has_wiki: false,
      has_pages: false,
      has_discussions: false,
      forks_count: 0,
      mirror_url: null,
      archived: false,
      disabled: false,
      open_issues_count: 0,
      license: null,
      allow_forking: true,
      is_template: false,
      web_commit_signoff_required: false,
      topics: [],
      visibility: repo.private ? 'private' : 'public',
      forks: 0,
      open_issues: 0,
      watchers: 0,
      default_branch: repo.defaultBranch,
      permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
      network_count: 0,
      subscribers_count: 0,
    };
  }

  private releaseJson(repo: RepoState, rel: ReleaseState): GitHubRelease {
    const full = `${repo.owner}/${repo.name}`;
    const api = `${this.baseUrl}/repos/${full}`;
    const untagged = createHash('sha1').update(String(rel.id)).digest('hex').slice(0, 20);
    return {
      url: `${api}/releases/${rel.id}`,
      assets_url: `${api}/releases/${rel.id}/assets`,
      upload_url: `${api}/releases/${rel.id}/assets{?name,label}`,
      html_url: rel.draft
        ? `https://github.com/${full}/releases/tag/untagged-${untagged}`
        : `https://github.com/${full}/releases/tag/${encodeURIComponent(rel.tag)}`,
      id: rel.id,
      author: this.author,
      node_id: nodeId('RE', rel.id),
      tag_name: rel.tag,
      target_commitish: rel.target,
      name: rel.name,
      draft: rel.draft,
      immutable: rel.immutable,
      prerelease: rel.prerelease,
      created_at: iso(rel.createdAt),
      updated_at: iso(rel.updatedAt),
      published_at: rel.publishedAt ? iso(rel.publishedAt) : null,
      assets: rel.assets.map((a) => this.assetJson(repo, rel, a)),
      tarball_url: `${api}/tarball/${encodeURIComponent(rel.tag)}`,
      zipball_url: `${api}/zipball/${encodeURIComponent(rel.tag)}`,
      body: rel.body,
    };
  }

  private assetJson(repo: RepoState, rel: ReleaseState, asset: AssetState): GitHubReleaseAsset {
    const full = `${repo.owner}/${repo.name}`;
    return {
      url: `${this.baseUrl}/repos/${full}/releases/assets/${asset.id}`,
      id: asset.id,
      node_id: nodeId('RA', asset.id),
      name: asset.name,
      label: asset.label,
      uploader: this.author,
      content_type: asset.contentType,
      state: 'uploaded',
      size: asset.content.length,
      digest: `sha256:${createHash('sha256').update(asset.content).digest('hex')}`,
      download_count: 0,
      created_at: iso(asset.createdAt),
      updated_at: iso(asset.updatedAt),
      browser_download_url: `https://github.com/${full}/releases/download/${encodeURIComponent(rel.tag)}/${encodeURIComponent(asset.name)}`,
    };
  }
}
