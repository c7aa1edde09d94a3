import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IntegrationError } from '../../src/errors.js';
import { createGitHubClient, GitHubReleases } from '../../src/integrations/github/client.js';
import { githubStatus } from '../../src/integrations/github/errors.js';
import type { RepoRef } from '../../src/integrations/github/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { GitHubDouble } from '../doubles/github.js';

const TOKEN = 'ghp_integration0000000000000000000000000';
let double: GitHubDouble;
let releases: GitHubReleases;
let seq = 0;
const silent = createLogger({ level: 'silent', secrets: [] });

async function failure(p: Promise<unknown>): Promise<IntegrationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof IntegrationError)) throw new Error(`expected an IntegrationError, got ${String(err)}`);
  return err;
}

function repo(): RepoRef {
  const name = `svc-${++seq}`;
  return { owner: 'acme', repo: name, fullName: `acme/${name}` };
}

beforeAll(async () => {
  double = await GitHubDouble.start({ token: TOKEN });
  // plugin-retry waits (n+1)² × 10 ms here instead of × 1 s; everything else is as in production.
  releases = new GitHubReleases(
    createGitHubClient({
      token: TOKEN,
      baseUrl: double.url,
      log: silent,
      timing: { retryAfterBaseValueMs: 10 },
    }),
  );
});
afterAll(async () => {
  await double.stop();
});
beforeEach(() => {
  double.clearFaults();
  double.immutableLocksFlags(false);
});

describe('GitHubReleases over @octokit/rest (retry and throttling plugins) against the GitHub double', () => {
  it('reads releases by tag and id, lists them newest first with drafts, and finds the latest', async () => {
    const r = repo();
    double.addRelease(r.fullName, { tag: 'v1.0.0', createdAt: '2026-01-01T00:00:00Z' });
    const v2 = double.addRelease(r.fullName, {
      tag: 'v2.0.0',
      body: 'notes',
      createdAt: '2026-02-01T00:00:00Z',
      assets: [{ name: 'app.tar.gz', content: 'bytes' }],
    });
    double.addRelease(r.fullName, { tag: 'v3.0.0', draft: true, createdAt: '2026-03-01T00:00:00Z' });

    const byTag = await releases.byTag(r, 'v2.0.0');
    expect(byTag).toMatchObject({ id: v2.id, tag: 'v2.0.0', body: 'notes', draft: false, immutable: false });
    expect(byTag?.assets[0]).toMatchObject({ name: 'app.tar.gz', size: 5 });
    expect(byTag?.assets[0]?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await releases.byTag(r, 'v3.0.0')).toBeUndefined();
    expect(await releases.byId(r, v2.id)).toMatchObject({ tag: 'v2.0.0' });
    expect((await releases.recent(r)).map((x) => x.tag)).toEqual(['v3.0.0', 'v2.0.0', 'v1.0.0']);
    expect((await releases.latest(r))?.tag).toBe('v2.0.0');
    expect((await releases.assets(r, v2.id)).map((a) => a.name)).toEqual(['app.tar.gz']);
  });

  it('edits flags, notes and latest, and deletes an asset once (a second delete is "already gone")', async () => {
    const r = repo();
    const v1 = double.addRelease(r.fullName, { tag: 'v1.0.0', createdAt: '2026-01-01T00:00:00Z' });
    const v2 = double.addRelease(r.fullName, {
      tag: 'v2.0.0',
      createdAt: '2026-02-01T00:00:00Z',
      assets: [{ name: 'a.zip' }],
    });
    const edited = await releases.update(r, v2.id, { prerelease: true, body: 'RETRACTED' });
    expect(edited).toMatchObject({ prerelease: true, body: 'RETRACTED' });
    await releases.update(r, v1.id, { makeLatest: 'true' });
    expect((await releases.latest(r))?.tag).toBe('v1.0.0');
    const assetId = v2.assets[0]!.id;
    expect(await releases.deleteAsset(r, assetId)).toBe('deleted');
    expect(await releases.deleteAsset(r, assetId)).toBe('already-gone');
  });

  it('retries 502s by itself and waits out a secondary rate limit', async () => {
    const r = repo();
    const v1 = double.addRelease(r.fullName, { tag: 'v1.0.0' });
    double.failWith({ status: 502, count: 2, pathIncludes: '/releases/tags/' });
    expect((await releases.byTag(r, 'v1.0.0'))?.id).toBe(v1.id);
    double.secondaryRateLimit({ count: 1, retryAfterSec: 1, method: 'PATCH' });
    const started = Date.now();
    expect((await releases.update(r, v1.id, { body: 'x' })).body).toBe('x');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const patches = double.writes().filter((w) => w.path.endsWith(`/releases/${v1.id}`));
    expect(patches.map((w) => w.status)).toEqual([403, 200]);
  });

  it('turns refusals into IntegrationErrors that say whether retrying helps', async () => {
    const r = repo();
    const v1 = double.addRelease(r.fullName, { tag: 'v1.0.0', immutable: true, assets: [{ name: 'a.zip' }] });
    const refused = await failure(releases.deleteAsset(r, v1.assets[0]!.id));
    expect(refused.retryable).toBe(false);
    expect(refused.message).toContain('422: Cannot delete assets of an immutable release.');
    expect(githubStatus(refused)).toBe(422);

    double.immutableLocksFlags(true);
    const flags = await failure(releases.update(r, v1.id, { prerelease: true }));
    expect(flags.retryable).toBe(false);
    expect(flags.message).toContain('state cannot be changed when release is immutable');

    const hidden = repo();
    double.addRelease(hidden.fullName, { tag: 'v1.0.0' });
    double.hideRepo(hidden.fullName);
    const missing = await failure(releases.recent(hidden));
    expect(missing.retryable).toBe(false);
    expect(missing.message).toContain('does not exist or GITHUB_TOKEN cannot see it');

    const bad = new GitHubReleases(createGitHubClient({ token: 'wrong', baseUrl: double.url, log: silent }));
    const denied = await failure(bad.recent(r));
    expect(denied.retryable).toBe(false);
    expect(denied.hint).toContain('GITHUB_TOKEN');

    double.failWith({ status: 503, pathIncludes: '/releases/latest' });
    const down = await failure(releases.latest(r));
    expect(down.retryable).toBe(true);
    expect(down.message).toContain('503');
  });

  it('kept every response within GitHub’s OpenAPI description', () => {
    expect(double.schemaViolations).toEqual([]);
  });
});
