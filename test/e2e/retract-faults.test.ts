import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type RunningApp, type World } from '../kit/world.js';
import { approve, cardMatching, command, finished, release, REPO, seedReleases } from './retract-kit.js';

describe('GitHub answering 502s and secondary rate limits for a while: the job waits and succeeds', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    seedReleases(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('retries through 502s on reads and writes and waits out a secondary rate limit, writing the banner once', async () => {
    const { reply } = await command(
      world,
      bot.client,
      '/retract',
      'checkout-api@v1.4.2 --reason "bad build"',
    );
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    const writes = world.github.writes().length;
    const requests = world.github.requests.length;

    // GitHub's front end has a bad few seconds, then asks backout to slow down.
    world.github.failWith({ status: 503, count: 1, pathIncludes: '/releases/latest' });
    world.github.failWith({ status: 502, forMs: 3_000, method: 'PATCH' });
    world.github.secondaryRateLimit({ count: 1, retryAfterSec: 1, method: 'PATCH' });
    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts, 40_000, () => bot.logs.join(''));
    expect(done.text).toContain('done (retracted)');

    const after = release(world, 'v1.4.2');
    expect(after.prerelease).toBe(true);
    expect(after.body?.match(/\*\*RETRACTED\*\*/g)).toHaveLength(1);
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.1');
    const patches = world.github.writes().slice(writes);
    const statuses = patches.map((w) => w.status);
    expect(statuses.filter((s) => s === 502).length).toBeGreaterThanOrEqual(1);
    expect(statuses).toContain(403);
    expect(
      patches
        .filter((w) => w.status === 200)
        .map((w) =>
          Object.keys(w.body as object)
            .sort()
            .join(','),
        ),
    ).toEqual(['body,prerelease', 'make_latest']);
    expect(world.github.requests.slice(requests).some((r) => r.status === 503)).toBe(true);
    expect(world.github.schemaViolations).toEqual([]);
  });
});
