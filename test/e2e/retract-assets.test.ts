import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import { approve, cardMatching, command, finished, release, REPO, seedReleases } from './retract-kit.js';

/** A second service whose policy needs no approval: deleting assets must still wait for one. */
const STOREFRONT = `  storefront:
    github: { repo: acme/storefront }
    policy: { approval: not-required }
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: storefront }
`;

describe('--delete-assets deletes only after approval, and undo says the assets are gone for good', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({ config: (urls) => defaultConfigYaml(urls, STOREFRONT) });
    seedReleases(world);
    world.prod.addDeployment({
      namespace: 'shop',
      name: 'storefront',
      replicas: 1,
      containers: [
        [{ name: 'web', image: 'shop/storefront:2.0.0' }],
        [{ name: 'web', image: 'shop/storefront:2.1.0' }],
      ],
    });
    world.github.addRelease('acme/storefront', { tag: 'v2.0.0', assets: [{ name: 'web.zip' }] });
    world.github.addRelease('acme/storefront', {
      tag: 'v2.1.0',
      assets: [{ name: 'web.zip' }, { name: 'web.sbom' }],
    });
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('runs at once where policy needs no approval, but waits for one when assets are to be deleted', async () => {
    const plain = await command(
      world,
      bot.client,
      '/retract',
      'storefront@v2.1.0 --reason "broken checkout button"',
    );
    expect(await plain.reply()).toContain('no approval needed here');
    const card = await cardMatching(world, /Retract storefront v2\.1\.0/);
    await finished(world, card.ts);
    expect(world.github.release('acme/storefront', 'v2.1.0').prerelease).toBe(true);
    expect(world.github.latest('acme/storefront')?.tag_name).toBe('v2.0.0');

    const writes = world.github.writes().length;
    const deleting = await command(world, bot.client, '/retract', 'storefront@v2.0.0 --delete-assets');
    expect(await deleting.reply()).toContain('needs approval');
    const second = await cardMatching(world, /Retract storefront v2\.0\.0/);
    expect(JSON.stringify(second.blocks)).toContain('deleting 1 release asset cannot be undone');
    expect(world.github.writes().length).toBe(writes);
    expect(world.github.release('acme/storefront', 'v2.0.0').assets).toHaveLength(1);
  });

  it('deletes every approved asset exactly once after approval, and the rest of the retraction goes ahead', async () => {
    const before = release(world, 'v1.4.2');
    const { reply } = await command(
      world,
      bot.client,
      '/retract',
      'checkout-api@v1.4.2 --delete-assets --reason "leaks tokens"',
    );
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(
      world,
      /Retract checkout-api v1\.4\.2; v1\.4\.1 becomes latest; delete 2 assets/,
    );
    const plan = JSON.stringify(card.blocks);
    expect(plan).toContain('*Assets to delete* (cannot be undone):');
    expect(plan).toContain('checkout-v1.4.2-linux-amd64.tar.gz');
    expect(plan).toContain('deleting 2 release assets cannot be undone');
    const writes = world.github.writes().length;
    expect(release(world, 'v1.4.2').assets).toHaveLength(2);

    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts);
    expect(done.text).toContain('done (retracted; 2 assets deleted)');
    expect(release(world, 'v1.4.2').assets).toEqual([]);
    const deletes = world.github
      .writes()
      .slice(writes)
      .filter((w) => w.method === 'DELETE');
    expect(deletes.map((w) => `${w.path} ${w.status}`).sort()).toEqual(
      before.assets.map((a) => `/repos/${REPO}/releases/assets/${a.id} 204`).sort(),
    );
    expect(release(world, 'v1.4.2').prerelease).toBe(true);
    expect(world.github.latest(REPO)?.tag_name).toBe('v1.4.1');
    expect(world.slack.transcript(PEOPLE.checkout, card.ts)).toContain('Deleted 2 assets');
  });

  it('undo lists the deleted assets as not restorable', async () => {
    const { reply } = await command(world, bot.client, '/retract', 'undo checkout-api@v1.4.2');
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Restore checkout-api v1\.4\.2/);
    expect(JSON.stringify(card.blocks)).toContain('*Not restorable* (deleted by the retraction');
    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts);
    expect(done.text).toContain('done (restored; 2 deleted assets could not be restored)');
    const note = await waitFor(
      () => world.slack.thread(PEOPLE.checkout, card.ts).find((m) => m.text.includes('Not restorable')),
      { what: 'the outcome note' },
    );
    expect(note.text).toContain('checkout-v1.4.2.sbom.json');
    expect(release(world, 'v1.4.2').prerelease).toBe(false);
    expect(world.github.schemaViolations).toEqual([]);
  });
});
