import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { GitHubRequest } from '../doubles/github.js';
import { FAST_RECOVERY, spawnBackout, type BotProcess } from '../kit/process.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { approve, cardMatching, command, finished, release, REPO, seedReleases } from './retract-kit.js';

export type CrashPoint = 'snapshot' | 'banner' | 'latest' | 'assets' | 'rollback';

function image(world: World, cluster: 'prod' | 'staging') {
  const d = world[cluster].get('Deployment', 'shop', 'checkout-api');
  return {
    image: d?.spec?.template.spec?.containers[0]?.image,
    revision: d?.metadata?.annotations?.['deployment.kubernetes.io/revision'],
  };
}

function keys(w: GitHubRequest): string {
  return Object.keys(w.body ?? {})
    .sort()
    .join(',');
}

/**
 * Runs `/retract checkout-api@v1.4.2 --delete-assets --rollback` on backout as its own process,
 * SIGKILLs it inside each step named in `crashes` (right after that step's own GitHub or
 * Kubernetes write landed, before or just after its checkpoint), starts a fresh process each
 * time, and checks that the work completed exactly once.
 */
export async function crashDrill(crashes: CrashPoint[]): Promise<void> {
  const world = await createWorld();
  let bot: BotProcess | undefined;
  try {
    seedReleases(world, {
      v142: {
        assets: [
          { name: 'checkout-linux-amd64.tar.gz', content: 'linux' },
          { name: 'checkout-darwin-arm64.tar.gz', content: 'darwin' },
          { name: 'checkout.sbom.json', content: '{}' },
        ],
      },
    });
    bot = await spawnBackout(world, FAST_RECOVERY);
    const { reply } = await command(
      world,
      bot.client,
      '/retract',
      'checkout-api@v1.4.2 --delete-assets --rollback --reason "crash drill"',
    );
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    const from = world.github.requests.length;
    const seen = () => world.github.requests.slice(from);
    const writes = () => seen().filter((r) => r.method !== 'GET');
    const v142 = release(world, 'v1.4.2');
    const probes: Record<CrashPoint, () => boolean> = {
      // Its reads answered: killed before or just after the snapshot is recorded.
      snapshot: () => seen().some((r) => r.path.endsWith(`/releases/${v142.id}/assets`) && r.status === 200),
      banner: () => writes().some((w) => keys(w) === 'body,prerelease' && w.status === 200),
      latest: () => writes().some((w) => keys(w) === 'make_latest' && w.status === 200),
      assets: () => writes().some((w) => w.method === 'DELETE' && w.status === 204),
      // While the child rollbacks run (production's template is already patched).
      rollback: () => image(world, 'prod').image === 'shop/checkout:1.4.1',
    };

    await approve(world, bot.client, card.ts);
    for (const point of crashes) {
      await waitFor(probes[point], { what: `the ${point} step's write`, intervalMs: 2, timeoutMs: 60_000 });
      await bot.crash();
      bot = await spawnBackout(world, FAST_RECOVERY);
    }

    const done = await finished(world, card.ts, 120_000, () => bot?.output.join('') ?? '');
    expect(done.text).toContain('done (retracted; 3 assets deleted; 2 rollbacks done)');

    // GitHub: one banner, one latest move, one delete per asset — nothing twice.
    const ok = writes().filter((w) => w.status < 300);
    expect(ok.filter((w) => keys(w) === 'body,prerelease')).toHaveLength(1);
    expect(ok.filter((w) => keys(w) === 'make_latest')).toHaveLength(1);
    expect(writes().filter((w) => w.method === 'PATCH')).toHaveLength(2);
    expect(
      writes()
        .filter((w) => w.method === 'DELETE')
        .map((w) => w.path)
        .sort(),
    ).toEqual(v142.assets.map((a) => `/repos/${REPO}/releases/assets/${a.id}`).sort());
    const after = release(world, 'v1.4.2');
    expect(after.body?.match(/<!-- backout:retracted/g)).toHaveLength(1);
    expect(after.prerelease).toBe(true);
    expect(after.assets).toEqual([]);
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.1');

    // Kubernetes: one rollback per environment (one new revision each), one child card each.
    expect(image(world, 'prod')).toEqual({ image: 'shop/checkout:1.4.1', revision: '4' });
    expect(image(world, 'staging')).toEqual({ image: 'shop/checkout:1.4.1', revision: '4' });
    const children = world.slack
      .messages(PEOPLE.checkout)
      .filter((m) => !m.thread_ts && /^Rollback checkout-api · /.test(m.text));
    expect(children).toHaveLength(2);
    const transcript = world.slack.transcript(PEOPLE.checkout, card.ts);
    expect(transcript.match(/^ {2}- :white_check_mark: production: rolled back/gm)).toHaveLength(1);
    expect(transcript.match(/^ {2}- :white_check_mark: staging: rolled back/gm)).toHaveLength(1);

    // The audit log holds the snapshot (a kill between its append and the checkpoint may record it twice).
    const audit = (await readFile(join(world.dir, 'audit', 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; details?: { assets?: unknown[] } });
    const snapshots = audit.filter((r) => r.type === 'release.snapshot');
    expect(snapshots.length).toBeGreaterThanOrEqual(1);
    for (const s of snapshots) expect(s.details?.assets).toHaveLength(3);
  } finally {
    await bot?.crash();
    await world.close();
  }
}
