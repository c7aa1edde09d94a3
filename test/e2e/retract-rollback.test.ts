import { waitFor } from '../kit/wait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { approve, cardMatching, command, finished, release, seedReleases } from './retract-kit.js';

function image(world: World, cluster: 'prod' | 'staging'): string | undefined {
  return world[cluster].get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image;
}

describe('--rollback rolls back every environment running the tag, as children reported in the thread', () => {
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

  it('plans one rollback per environment, runs both under the one approval, and reports each outcome', async () => {
    const { reply } = await command(
      world,
      bot.client,
      '/retract',
      'checkout-api@v1.4.2 --rollback --reason "bad carts"',
    );
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    expect(card.text).toContain('roll back production, staging');
    const plan = JSON.stringify(card.blocks);
    expect(plan).toContain(
      'production: revision 3 (`shop/checkout:1.4.2`) → revision 2 (`shop/checkout:1.4.1`)',
    );
    expect(plan).toContain(
      'staging: revision 3 (`shop/checkout:1.4.2`) → revision 2 (`shop/checkout:1.4.1`)',
    );

    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts, 45_000, () => bot.logs.join(''));
    expect(done.text).toContain('done (retracted; 2 rollbacks done)');
    expect(image(world, 'prod')).toBe('shop/checkout:1.4.1');
    expect(image(world, 'staging')).toBe('shop/checkout:1.4.1');
    expect(release(world, 'v1.4.2').prerelease).toBe(true);

    // Each child's card edit is delivered in its own lane at Slack's pace: late, never lost.
    const children = await waitFor(
      () => {
        const found = world.slack
          .messages(PEOPLE.checkout)
          .filter((m) => !m.thread_ts && /^Rollback checkout-api · (production|staging)/.test(m.text));
        return found.length === 2 && found.every((m) => /— done/.test(m.text)) && found;
      },
      { what: 'both child rollback cards to say done', timeoutMs: 20_000 },
    );
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(child.text).toMatch(/— done/);
      expect(JSON.stringify(child.blocks)).toContain('approved by <@U0SRE1>');
      expect(JSON.stringify(child.blocks)).toMatch(
        /v1\.4\.2 of checkout-api was retracted \(rt-[a-z0-9]{8}\): bad carts/,
      );
    }
    const transcript = world.slack.transcript(PEOPLE.checkout, card.ts);
    expect(transcript).toMatch(
      /Started `rb-[a-z0-9]{8}`: Roll back checkout-api in production from revision 3 to revision 2\. It runs on its own card in <#C0CHECKOUT>/,
    );
    expect(transcript).toMatch(
      /:white_check_mark: production: rolled back \(`rb-[a-z0-9]{8}`\) — \*healthy\*/,
    );
    expect(transcript).toMatch(
      /:white_check_mark: staging: rolled back \(`rb-[a-z0-9]{8}`\) — \*rolled out \(no health checks configured\)\*/,
    );

    // One timeline, in the retraction's thread, covering both rollbacks; none in theirs.
    const isTimeline = (text: string) => text.startsWith(':clipboard: *Timeline*');
    const timeline = await waitFor(
      () => world.slack.thread(PEOPLE.checkout, card.ts).find((m) => isTimeline(m.text))?.text,
      { what: 'the retraction’s timeline' },
    );
    expect(timeline).toMatch(/Timeline\* of rt-[a-z0-9]{8} and the 2 requests it filed/);
    expect(timeline.match(/rb-[a-z0-9]{8}: Step verify done in/g)).toHaveLength(2);
    expect(timeline).toMatch(/rt-[a-z0-9]{8}: Approved by <@U0SRE1>/);
    for (const child of children)
      expect(world.slack.thread(PEOPLE.checkout, child.ts).some((m) => isTimeline(m.text))).toBe(false);
  });
});

describe('a rollback that cannot start is reported, and the retraction still completes', () => {
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

  it('says which environment was busy, rolls back the other, and says so on the card', async () => {
    const pending = await command(world, bot.client, '/rollback', 'checkout-api --env production');
    expect(await pending.reply()).toContain('needs approval');
    const { reply } = await command(world, bot.client, '/retract', 'checkout-api@v1.4.2 --rollback');
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    await approve(world, bot.client, card.ts);
    const done = await finished(world, card.ts, 45_000, () => bot.logs.join(''));
    expect(done.text).toMatch(
      /done \(retracted; 1 of 2 rollbacks could not start: production: checkout-api\/production is busy/,
    );
    expect(image(world, 'prod')).toBe('shop/checkout:1.4.2');
    expect(image(world, 'staging')).toBe('shop/checkout:1.4.1');
    const transcript = world.slack.transcript(PEOPLE.checkout, card.ts);
    expect(transcript).toContain(
      ':warning: The rollback of checkout-api in production could not start: checkout-api/production is busy',
    );
    expect(transcript).toMatch(/staging: rolled back/);
  });
});
