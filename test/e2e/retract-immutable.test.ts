import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { approve, cardMatching, command, finished, release, REPO, seedReleases } from './retract-kit.js';

describe('an immutable release keeps its assets (and maybe its flags), and the rest of the retraction goes ahead', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    seedReleases(world, { v142: { immutable: true } });
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('keeps the assets of an immutable release, says why on the card, and still retracts it', async () => {
    const before = release(world, 'v1.4.2');
    const { reply } = await command(world, bot.client, '/retract', 'checkout-api@v1.4.2 --delete-assets');
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    const plan = JSON.stringify(card.blocks);
    expect(plan).toContain(
      'all 2 stay: v1.4.2 is an immutable release and GitHub does not allow deleting its assets',
    );
    expect(plan).not.toContain('cannot be undone');
    const writes = world.github.writes().length;

    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts);
    expect(done.text).toContain(
      'done (retracted; assets kept: v1.4.2 is an immutable release and GitHub does not allow deleting its assets)',
    );
    expect(JSON.stringify(done.blocks)).toContain(':warning: *Done');
    const after = release(world, 'v1.4.2');
    expect(after.assets.map((a) => a.digest)).toEqual(before.assets.map((a) => a.digest));
    expect(after.prerelease).toBe(true);
    expect(after.body).toContain('**RETRACTED**');
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.1');
    expect(
      world.github
        .writes()
        .slice(writes)
        .map((w) => w.method),
    ).toEqual(['PATCH', 'PATCH']);
    expect(world.slack.transcript(PEOPLE.checkout, card.ts)).toContain(
      'v1.4.2 is an immutable release: GitHub does not allow deleting its assets, so all 2 stay. The rest of the retraction went ahead.',
    );
  });

  it('puts the banner on when GitHub refuses the pre-release flag with 422, and the card says exactly that', async () => {
    world.github.immutableLocksFlags(true);
    const immutable = world.github.addRelease(REPO, {
      tag: 'v1.4.3',
      immutable: true,
      body: 'Hotfix',
      latest: true,
    });
    const { reply } = await command(
      world,
      bot.client,
      '/retract',
      'checkout-api@v1.4.3 --reason "hotfix broke refunds"',
    );
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.3/);
    expect(JSON.stringify(card.blocks)).toContain('GitHub may refuse flag changes on an immutable release');
    const writes = world.github.writes().length;

    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts);
    expect(done.text).toContain(
      'done (retracted; could not mark it pre-release (GitHub: state cannot be changed when release is immutable))',
    );
    const after = release(world, 'v1.4.3');
    expect(after.prerelease).toBe(false);
    expect(after.body).toContain('Reason: hotfix broke refunds');
    expect(after.body?.endsWith('Hotfix')).toBe(true);
    expect(after.id).toBe(immutable.id);
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.1');
    expect(
      world.github
        .writes()
        .slice(writes)
        .map(
          (w) =>
            `${w.status} ${Object.keys(w.body as object)
              .sort()
              .join(',')}`,
        ),
    ).toEqual(['422 body,prerelease', '200 body', '200 make_latest']);
    const transcript = world.slack.transcript(PEOPLE.checkout, card.ts);
    expect(transcript).toContain(
      'GitHub refused to mark the immutable release pre-release (422: state cannot be changed when release is immutable). The RETRACTED banner is on its notes.',
    );
    expect(transcript).toContain('still not a pre-release (GitHub refused)');
    expect(world.github.schemaViolations).toEqual([]);
  });
});
