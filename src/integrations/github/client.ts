import { createRequire } from 'node:module';
import type * as PluginRetry from '@octokit/plugin-retry';
import type * as PluginThrottling from '@octokit/plugin-throttling';
import type * as OctokitRest from '@octokit/rest';
import type { Octokit, RestEndpointMethodTypes } from '@octokit/rest';
import type { Logger } from '../../observability/logger.js';
import { githubError, statusOf } from './errors.js';
import type { Release, ReleaseAsset, ReleasePatch, Releases, RepoRef } from './types.js';

/** The plugins only add behaviour (retries, throttling); callers need Octokit's own surface. */
export type GitHubClient = Octokit;

/**
 * Octokit with its retry and throttling plugins, loaded on first use (a few MB resident that a
 * process never touching GitHub does without). `require` of these ES modules is synchronous.
 */
function gitHubOctokit() {
  const load = createRequire(import.meta.url);
  const { Octokit: Base } = load('@octokit/rest') as typeof OctokitRest;
  const { retry } = load('@octokit/plugin-retry') as typeof PluginRetry;
  const { throttling } = load('@octokit/plugin-throttling') as typeof PluginThrottling;
  return Base.plugin(retry, throttling);
}

/**
 * How long backout waits for GitHub inside one job attempt. 5xx answers are retried by
 * plugin-retry after 1, 4 and 9 s; rate limits by plugin-throttling after GitHub's
 * `retry-after` (or until `x-ratelimit-reset`) when that is at most `maxRateLimitWaitSec`.
 * Beyond that the call fails as retryable and BullMQ's job attempts (exponential backoff)
 * are the outer loop. plugin-throttling also spaces writes one second apart, as GitHub asks.
 */
export interface GitHubTiming {
  retries: number;
  retryAfterBaseValueMs: number;
  rateLimitRetries: number;
  maxRateLimitWaitSec: number;
  requestTimeoutMs: number;
}

export const GITHUB_TIMING: Readonly<GitHubTiming> = {
  retries: 3,
  retryAfterBaseValueMs: 1_000,
  rateLimitRetries: 3,
  maxRateLimitWaitSec: 60,
  requestTimeoutMs: 20_000,
};

export const GITHUB_API_VERSION = '2022-11-28';

/** Builds the one Octokit backout uses (composition root only). */
export function createGitHubClient(opts: {
  token: string | undefined;
  baseUrl: string | undefined;
  log: Logger;
  userAgent?: string;
  /** Overrides of GITHUB_TIMING (tests of this client use shorter waits). */
  timing?: Partial<GitHubTiming>;
}): GitHubClient {
  const log = opts.log.child({ integration: 'github' });
  const options = octokitOptions(opts, { ...GITHUB_TIMING, ...opts.timing }, log);
  let client: GitHubClient | undefined;
  const build = (): GitHubClient => (client ??= new (gitHubOctokit())(options));
  // Built at the first call, so the library is loaded only then.
  return new Proxy({} as GitHubClient, {
    get: (_, key) => Reflect.get(build(), key) as unknown,
    has: (_, key) => key in build(),
  });
}

function octokitOptions(
  opts: { token: string | undefined; baseUrl: string | undefined; userAgent?: string },
  timing: GitHubTiming,
  log: Logger,
) {
  const timedFetch: typeof fetch = (input, init) =>
    fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timing.requestTimeoutMs) });
  const wantRetry = (kind: string) => (retryAfter: number, options: object, _o: unknown, count: number) => {
    const route =
      'method' in options && 'url' in options ? `${String(options.method)} ${String(options.url)}` : '';
    const retrying = count < timing.rateLimitRetries && retryAfter <= timing.maxRateLimitWaitSec;
    log.warn({ route, retryAfter, attempt: count + 1, retrying }, `GitHub ${kind} rate limit`);
    return retrying;
  };
  return {
    ...(opts.token ? { auth: opts.token } : {}),
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl.replace(/\/+$/, '') } : {}),
    userAgent: opts.userAgent ?? 'backout',
    headers: { 'x-github-api-version': GITHUB_API_VERSION },
    request: { fetch: timedFetch },
    // octokit's request log reports every non-2xx (404 look-ups included) as an error; keep it quiet.
    log: {
      debug: () => undefined,
      info: (message: string) => log.debug(message),
      warn: (message: string) => log.warn(message),
      error: (message: string) => log.debug(message),
    },
    retry: { retries: timing.retries, retryAfterBaseValue: timing.retryAfterBaseValueMs },
    throttle: {
      id: 'backout',
      onRateLimit: wantRetry('primary'),
      onSecondaryRateLimit: wantRetry('secondary'),
    },
  };
}

type ApiRelease = RestEndpointMethodTypes['repos']['getRelease']['response']['data'];
type ApiAsset = RestEndpointMethodTypes['repos']['getReleaseAsset']['response']['data'];

function toAsset(a: ApiAsset): ReleaseAsset {
  return {
    id: a.id,
    name: a.name,
    size: a.size,
    digest: a.digest ?? null,
    contentType: a.content_type,
    downloadUrl: a.browser_download_url,
  };
}

function toRelease(r: ApiRelease): Release {
  return {
    id: r.id,
    tag: r.tag_name,
    name: r.name,
    body: r.body ?? null,
    draft: r.draft,
    prerelease: r.prerelease,
    immutable: r.immutable === true,
    createdAt: r.created_at,
    publishedAt: r.published_at,
    updatedAt: r.updated_at ?? null,
    htmlUrl: r.html_url,
    assets: r.assets.map(toAsset),
  };
}

/** `Releases` over octokit: every failure becomes a BackoutError naming the repo and what was being done. */
export class GitHubReleases implements Releases {
  constructor(private readonly octokit: GitHubClient) {}

  private async call<T>(what: string, repo: RepoRef, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw githubError(err, what, repo.fullName);
    }
  }

  private async orUndefined<T>(what: string, repo: RepoRef, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw githubError(err, what, repo.fullName);
    }
  }

  byTag(repo: RepoRef, tag: string): Promise<Release | undefined> {
    return this.orUndefined(`reading release ${tag} of ${repo.fullName}`, repo, async () =>
      toRelease(
        (await this.octokit.rest.repos.getReleaseByTag({ owner: repo.owner, repo: repo.repo, tag })).data,
      ),
    );
  }

  byId(repo: RepoRef, id: number): Promise<Release | undefined> {
    return this.orUndefined(`reading release ${id} of ${repo.fullName}`, repo, async () =>
      toRelease(
        (await this.octokit.rest.repos.getRelease({ owner: repo.owner, repo: repo.repo, release_id: id }))
          .data,
      ),
    );
  }

  recent(repo: RepoRef, max = 100): Promise<Release[]> {
    return this.call(`listing the releases of ${repo.fullName}`, repo, async () => {
      const res = await this.octokit.rest.repos.listReleases({
        owner: repo.owner,
        repo: repo.repo,
        per_page: Math.min(100, Math.max(1, max)),
      });
      return res.data.map(toRelease);
    });
  }

  latest(repo: RepoRef): Promise<Release | undefined> {
    return this.orUndefined(`reading the latest release of ${repo.fullName}`, repo, async () =>
      toRelease(
        (await this.octokit.rest.repos.getLatestRelease({ owner: repo.owner, repo: repo.repo })).data,
      ),
    );
  }

  assets(repo: RepoRef, releaseId: number): Promise<ReleaseAsset[]> {
    return this.call(`listing the assets of release ${releaseId} of ${repo.fullName}`, repo, async () => {
      const all = await this.octokit.paginate(this.octokit.rest.repos.listReleaseAssets, {
        owner: repo.owner,
        repo: repo.repo,
        release_id: releaseId,
        per_page: 100,
      });
      return all.map(toAsset);
    });
  }

  update(repo: RepoRef, releaseId: number, patch: ReleasePatch): Promise<Release> {
    return this.call(`editing release ${releaseId} of ${repo.fullName}`, repo, async () => {
      const res = await this.octokit.rest.repos.updateRelease({
        owner: repo.owner,
        repo: repo.repo,
        release_id: releaseId,
        ...(patch.name !== undefined && patch.name !== null ? { name: patch.name } : {}),
        // GitHub cannot store a null body through the API; an empty one reads the same.
        ...(patch.body !== undefined ? { body: patch.body ?? '' } : {}),
        ...(patch.prerelease !== undefined ? { prerelease: patch.prerelease } : {}),
        ...(patch.makeLatest !== undefined ? { make_latest: patch.makeLatest } : {}),
      });
      return toRelease(res.data);
    });
  }

  async deleteAsset(repo: RepoRef, assetId: number): Promise<'deleted' | 'already-gone'> {
    const gone = await this.orUndefined(`deleting asset ${assetId} of ${repo.fullName}`, repo, async () => {
      await this.octokit.rest.repos.deleteReleaseAsset({
        owner: repo.owner,
        repo: repo.repo,
        asset_id: assetId,
      });
      return 'deleted' as const;
    });
    return gone ?? 'already-gone';
  }
}
