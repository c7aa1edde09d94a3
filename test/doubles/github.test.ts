import { retry } from '@octokit/plugin-retry';
import { throttling, type ThrottlingOptions } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitHubDouble } from './github.js';

const TOKEN = 'ghs_double_token';
const Kit = Octokit.plugin(retry, throttling);

/**
 * plugin-throttling spaces writes at least one second apart (its shared `write` group has minTime 1000).
 * A pass-through group keeps this suite fast; everything else in the plugin stays as in production.
 */
const unthrottledWrites = {
  key: () => ({ schedule: (_options: unknown, task: () => Promise<unknown>) => task() }),
} as unknown as NonNullable<ThrottlingOptions['write']>;

interface LimitEvent {
  kind: 'primary' | 'secondary';
  retryAfter: number;
  retryCount: number;
}

let double: GitHubDouble;
let limitEvents: LimitEvent[];
let seq = 0;

function client(token = TOKEN) {
  return new Kit({
    auth: token,
    baseUrl: double.url,
    userAgent: 'backout-tests',
    // The request-log plugin reports every failed request on console.error; these tests assert them.
    log: { debug: () => {}, info: () => {}, warn: console.warn, error: () => {} },
    // plugin-retry waits (retryCount + 1)² × retryAfterBaseValue ms: 10, 40, 90 ms instead of 1, 4, 9 s.
    retry: { retryAfterBaseValue: 10 },
    throttle: {
      id: `github-double-${++seq}`,
      write: unthrottledWrites,
      onRateLimit: (retryAfter, _options, _octokit, retryCount) => {
        limitEvents.push({ kind: 'primary', retryAfter, retryCount });
        return retryCount < 2;
      },
      onSecondaryRateLimit: (retryAfter, _options, _octokit, retryCount) => {
        limitEvents.push({ kind: 'secondary', retryAfter, retryCount });
        return retryCount < 2;
      },
    },
  });
}

function repoName(): { owner: string; repo: string; full: string } {
  const repo = `service-${++seq}`;
  return { owner: 'acme', repo, full: `acme/${repo}` };
}

beforeAll(async () => {
  double = await GitHubDouble.start({ token: TOKEN });
});

afterAll(async () => {
  await double.stop();
});

beforeEach(() => {
  double.clearFaults();
  double.immutableLocksFlags(false);
  limitEvents = [];
});

describe('GitHubDouble driven by @octokit/rest', () => {
  it('gets a published release by tag, complete and with GitHub headers', async () => {
    const { owner, repo, full } = repoName();
    double.addRelease(full, {
      tag: 'v1.0.0',
      body: 'first',
      assets: [{ name: 'api.tar.gz', content: 'tarball' }],
    });

    const res = await client().rest.repos.getReleaseByTag({ owner, repo, tag: 'v1.0.0' });

    expect(res.status).toBe(200);
    expect(res.headers['x-github-request-id']).toMatch(/^[0-9A-F]+(:[0-9A-F]+){4}$/);
    expect(Number(res.headers['x-ratelimit-remaining'])).toBeGreaterThan(0);
    expect(res.headers['x-ratelimit-limit']).toBe('5000');
    expect(res.data).toMatchObject({
      tag_name: 'v1.0.0',
      body: 'first',
      draft: false,
      prerelease: false,
      immutable: false,
      url: `${double.url}/repos/${full}/releases/${res.data.id}`,
      author: { login: 'github-actions[bot]', type: 'Bot' },
    });
    expect(res.data.published_at).toBe(res.data.created_at);
    const [asset] = res.data.assets;
    expect(asset).toMatchObject({
      name: 'api.tar.gz',
      size: 7,
      state: 'uploaded',
      content_type: 'application/gzip',
    });
    expect(asset?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('hides drafts from get-by-tag but shows them by id and in the list', async () => {
    const { owner, repo, full } = repoName();
    const draft = double.addRelease(full, { tag: 'v2.0.0', draft: true });

    await expect(client().rest.repos.getReleaseByTag({ owner, repo, tag: 'v2.0.0' })).rejects.toMatchObject({
      status: 404,
      response: { data: { message: 'Not Found', status: '404' } },
    });
    const byId = await client().rest.repos.getRelease({ owner, repo, release_id: draft.id });
    expect(byId.data).toMatchObject({ draft: true, published_at: null });
    const list = await client().rest.repos.listReleases({ owner, repo });
    expect(list.data.map((r) => r.tag_name)).toEqual(['v2.0.0']);
  });

  it('paginates the release list with link headers, newest first, at most 100 per page', async () => {
    const { owner, repo, full } = repoName();
    const start = Date.parse('2025-01-01T00:00:00Z');
    for (let i = 0; i < 7; i++) {
      double.addRelease(full, { tag: `v1.${i}.0`, createdAt: new Date(start + i * 3_600_000) });
    }

    const first = await client().rest.repos.listReleases({ owner, repo, per_page: 3 });
    expect(first.data.map((r) => r.tag_name)).toEqual(['v1.6.0', 'v1.5.0', 'v1.4.0']);
    const repoId = (await client().rest.repos.get({ owner, repo })).data.id;
    expect(first.headers.link).toBe(
      `<${double.url}/repositories/${repoId}/releases?per_page=3&page=2>; rel="next", ` +
        `<${double.url}/repositories/${repoId}/releases?per_page=3&page=3>; rel="last"`,
    );

    const octokit = client();
    const all = await octokit.paginate(octokit.rest.repos.listReleases, { owner, repo, per_page: 3 });
    expect(all.map((r) => r.tag_name)).toEqual([
      'v1.6.0',
      'v1.5.0',
      'v1.4.0',
      'v1.3.0',
      'v1.2.0',
      'v1.1.0',
      'v1.0.0',
    ]);

    const capped = await client().rest.repos.listReleases({ owner, repo, per_page: 500 });
    expect(capped.data).toHaveLength(7);
    expect(capped.headers.link).toBeUndefined();
  });

  it('moves the latest release with make_latest and away from a release made a prerelease', async () => {
    const { owner, repo, full } = repoName();
    const old = double.addRelease(full, { tag: 'v1.0.0', createdAt: '2025-01-01T00:00:00Z' });
    const mid = double.addRelease(full, { tag: 'v1.1.0', createdAt: '2025-02-01T00:00:00Z' });
    double.addRelease(full, { tag: 'v1.2.0-rc.1', prerelease: true, createdAt: '2025-03-01T00:00:00Z' });
    const octokit = client();

    // Computed: the newest non-draft, non-prerelease release.
    expect((await octokit.rest.repos.getLatestRelease({ owner, repo })).data.tag_name).toBe('v1.1.0');

    const pinned = await octokit.rest.repos.updateRelease({
      owner,
      repo,
      release_id: old.id,
      make_latest: 'true',
    });
    expect(pinned.data.updated_at).not.toBe(old.updated_at);
    expect((await octokit.rest.repos.getLatestRelease({ owner, repo })).data.tag_name).toBe('v1.0.0');

    // A prerelease cannot be latest: the flag moves to the newest other eligible release.
    await octokit.rest.repos.updateRelease({ owner, repo, release_id: old.id, prerelease: true });
    expect(double.latest(full)?.tag_name).toBe('v1.1.0');

    // make_latest "true" on a prerelease is ignored, without an error.
    const ignored = await octokit.rest.repos.updateRelease({
      owner,
      repo,
      release_id: old.id,
      make_latest: 'true',
    });
    expect(ignored.status).toBe(200);
    expect(double.latest(full)?.tag_name).toBe('v1.1.0');

    // Unmarking the only eligible release leaves no latest release.
    await octokit.rest.repos.updateRelease({ owner, repo, release_id: mid.id, make_latest: 'false' });
    expect(double.latest(full)).toBeUndefined();
    await expect(octokit.rest.repos.getLatestRelease({ owner, repo })).rejects.toMatchObject({ status: 404 });

    // "legacy" returns to creation-date order.
    await octokit.rest.repos.updateRelease({ owner, repo, release_id: mid.id, make_latest: 'legacy' });
    expect(double.latest(full)?.tag_name).toBe('v1.1.0');
    expect(double.writes().filter((w) => w.path.endsWith(`/releases/${mid.id}`))).toHaveLength(2);
  });

  it('answers invalid update bodies and tag conflicts like GitHub', async () => {
    const { owner, repo, full } = repoName();
    const rel = double.addRelease(full, { tag: 'v1.0.0' });
    double.addRelease(full, { tag: 'v1.1.0' });
    const octokit = client();

    await expect(
      octokit.request('PATCH /repos/{owner}/{repo}/releases/{release_id}', {
        owner,
        repo,
        release_id: rel.id,
        make_latest: 'maybe' as unknown as 'true',
      }),
    ).rejects.toMatchObject({
      status: 422,
      response: {
        data: {
          message: `Invalid request.\n\nFor 'properties/make_latest', "maybe" is not a member of ["true", "false", "legacy"].`,
        },
      },
    });
    await expect(
      octokit.rest.repos.updateRelease({ owner, repo, release_id: rel.id, tag_name: 'v1.1.0' }),
    ).rejects.toMatchObject({
      status: 422,
      response: {
        data: {
          message: 'Validation Failed',
          errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }],
        },
      },
    });
    expect(double.release(full, 'v1.0.0').tag_name).toBe('v1.0.0');
  });

  it('refuses to delete assets of an immutable release, and keeps name and body editable', async () => {
    const { owner, repo, full } = repoName();
    const rel = double.addRelease(full, {
      tag: 'v3.0.0',
      immutable: true,
      assets: [{ name: 'api-linux-amd64.tar.gz' }],
    });
    const assetId = rel.assets[0]?.id ?? 0;
    const octokit = client();

    await expect(
      octokit.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: assetId }),
    ).rejects.toMatchObject({
      status: 422,
      response: { data: { message: 'Cannot delete assets of an immutable release.' } },
    });
    expect(double.release(full, 'v3.0.0').assets).toHaveLength(1);

    const edited = await octokit.rest.repos.updateRelease({
      owner,
      repo,
      release_id: rel.id,
      name: 'v3.0.0 (retracted)',
      body: 'Retracted: do not use.',
    });
    expect(edited.data).toMatchObject({ name: 'v3.0.0 (retracted)', immutable: true });

    await expect(
      octokit.rest.repos.updateRelease({ owner, repo, release_id: rel.id, draft: true }),
    ).rejects.toMatchObject({
      status: 422,
      response: { data: { message: 'state cannot be changed when release is immutable' } },
    });

    // By default the prerelease flag stays editable, as GitHub's docs say; the toggle locks it.
    double.immutableLocksFlags(true);
    await expect(
      octokit.rest.repos.updateRelease({ owner, repo, release_id: rel.id, prerelease: true }),
    ).rejects.toMatchObject({ status: 422 });
    double.immutableLocksFlags(false);
    const flagged = await octokit.rest.repos.updateRelease({
      owner,
      repo,
      release_id: rel.id,
      prerelease: true,
    });
    expect(flagged.data.prerelease).toBe(true);
  });

  it('reports immutable releases per repository and locks releases published while enabled', async () => {
    const { owner, repo, full } = repoName();
    double.addRepo(full);
    const octokit = client();
    await expect(octokit.rest.repos.checkImmutableReleases({ owner, repo })).rejects.toMatchObject({
      status: 404,
    });

    double.setImmutableReleases(full, true);
    const check = await octokit.rest.repos.checkImmutableReleases({ owner, repo });
    expect(check.data).toEqual({ enabled: true, enforced_by_owner: false });

    const draft = double.addRelease(full, { tag: 'v4.0.0', draft: true });
    expect(draft.immutable).toBe(false);
    const published = await octokit.rest.repos.updateRelease({
      owner,
      repo,
      release_id: draft.id,
      draft: false,
    });
    expect(published.data).toMatchObject({ draft: false, immutable: true });
    expect(double.latest(full)?.tag_name).toBe('v4.0.0');
  });

  it('uploads assets through upload_url and refuses duplicates and immutable releases', async () => {
    const { owner, repo, full } = repoName();
    const draft = double.addRelease(full, { tag: 'v5.0.0', draft: true });
    const frozen = double.addRelease(full, { tag: 'v4.0.0', immutable: true });
    const octokit = client();
    const upload = (release_id: number, name: string) =>
      octokit.rest.repos.uploadReleaseAsset({
        owner,
        repo,
        release_id,
        name,
        data: 'binary-bytes',
        // The endpoint defaults to https://uploads.github.com; upload_url carries the right origin.
        baseUrl: new URL(draft.upload_url).origin,
        headers: { 'content-type': 'application/octet-stream' },
      });

    const created = await upload(draft.id, 'api.bin');
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      name: 'api.bin',
      size: 12,
      content_type: 'application/octet-stream',
    });
    await expect(upload(draft.id, 'api.bin')).rejects.toMatchObject({
      status: 422,
      response: { data: { errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }] } },
    });
    await expect(upload(frozen.id, 'api.bin')).rejects.toMatchObject({
      status: 422,
      response: { data: { message: 'Cannot upload assets to an immutable release.' } },
    });

    const bytes = await octokit.rest.repos.getReleaseAsset({
      owner,
      repo,
      asset_id: created.data.id,
      headers: { accept: 'application/octet-stream' },
    });
    expect(Buffer.from(bytes.data as unknown as ArrayBuffer).toString()).toBe('binary-bytes');
  });

  it('retries 502s to success with plugin-retry', async () => {
    const { owner, repo, full } = repoName();
    double.addRelease(full, { tag: 'v1.0.0' });
    double.failWith({ status: 502, count: 2, pathIncludes: '/releases/tags/' });
    const before = double.requests.length;

    const res = await client().rest.repos.getReleaseByTag({ owner, repo, tag: 'v1.0.0' });

    expect(res.status).toBe(200);
    expect(double.requests.slice(before).map((r) => r.status)).toEqual([502, 502, 200]);
  });

  it('waits out a secondary rate limit with plugin-throttling, honouring retry-after', async () => {
    const { owner, repo, full } = repoName();
    const rel = double.addRelease(full, { tag: 'v1.0.0' });
    double.secondaryRateLimit({ count: 1, retryAfterSec: 1, method: 'PATCH' });
    const started = Date.now();

    const res = await client().rest.repos.updateRelease({
      owner,
      repo,
      release_id: rel.id,
      body: 'retracted',
    });

    expect(res.data.body).toBe('retracted');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(limitEvents).toEqual([{ kind: 'secondary', retryAfter: 1, retryCount: 0 }]);
    const patches = double.writes().filter((w) => w.path.endsWith(`/releases/${rel.id}`));
    expect(patches.map((w) => w.status)).toEqual([403, 200]);
  });

  it('words the secondary rate limit exactly as GitHub does', async () => {
    const { full } = repoName();
    double.addRepo(full);
    double.secondaryRateLimit({ count: 1, retryAfterSec: 30 });

    const res = await fetch(`${double.url}/repos/${full}`, { headers: { authorization: `token ${TOKEN}` } });

    expect(res.status).toBe(403);
    expect(res.headers.get('retry-after')).toBe('30');
    const id = res.headers.get('x-github-request-id');
    expect(await res.json()).toEqual({
      message: `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${id}.`,
      documentation_url:
        'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
      status: '403',
    });
  });

  it('waits out a primary rate limit until x-ratelimit-reset', async () => {
    const { owner, repo } = repoName();
    double.addRepo(`${owner}/${repo}`);
    double.primaryRateLimit({ count: 1, resetInSec: 0 });

    const res = await client().rest.repos.get({ owner, repo });

    expect(res.status).toBe(200);
    // The reset is the current whole second: octokit waits ceil(reset − now) + 1 s, which is 1 while
    // that second lasts and 0 once the clock has passed into the next one before it reads the header.
    expect(limitEvents).toHaveLength(1);
    expect(limitEvents[0]).toMatchObject({ kind: 'primary', retryCount: 0 });
    expect([0, 1]).toContain(limitEvents[0]?.retryAfter);
  });

  it('rejects a wrong token with 401 and hides repositories the token cannot see', async () => {
    const { owner, repo, full } = repoName();
    double.addRelease(full, { tag: 'v1.0.0' });

    await expect(client('not-the-token').rest.repos.get({ owner, repo })).rejects.toMatchObject({
      status: 401,
      response: { data: { message: 'Bad credentials' } },
    });
    double.hideRepo(full);
    await expect(client().rest.repos.get({ owner, repo })).rejects.toMatchObject({ status: 404 });
    await expect(client().rest.repos.listReleases({ owner, repo })).rejects.toMatchObject({ status: 404 });
  });

  it('answers 500 and records a violation when a body does not match the OpenAPI description', async () => {
    const strict = await GitHubDouble.start();
    try {
      // A name GitHub could never return (a number) must be caught by the contract check.
      strict.addRelease('acme/bad', { tag: 'v1.0.0', name: 42 as unknown as string });
      const res = await fetch(`${strict.url}/repos/acme/bad/releases/tags/v1.0.0`);
      expect(res.status).toBe(500);
      expect(strict.schemaViolations).toHaveLength(1);
      expect(strict.schemaViolations[0]).toMatchObject({
        operationId: 'repos/get-release-by-tag',
        status: 200,
      });
      expect(strict.schemaViolations[0]?.errors[0]).toMatchObject({ instancePath: '/name', keyword: 'type' });
    } finally {
      await strict.stop();
    }
  });

  it('kept every response of this suite within GitHub’s OpenAPI description', () => {
    expect(double.requests.length).toBeGreaterThan(20);
    expect(double.schemaViolations).toEqual([]);
  });
});
