import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, click, run, waitCard } from '../kit/flows.js';
import { startUnleash, type UnleashServer } from '../kit/unleash.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

/** A service whose kill switches live in Unleash; turning one off in production needs no approval. */
const SEARCH = `
  search-api:
    flags: { provider: unleash, project: default, killSwitches: [new-ranking, instant-results] }
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        policy: { flagOff: not-required }
      staging:
        kubernetes: { context: staging, namespace: shop, deployment: checkout-api }
        flags: { environment: development }
`;

describe('/flag on a real Unleash server: the first mitigation in one action, undone exactly', () => {
  let unleash: UnleashServer;
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    unleash = await startUnleash();
    await unleash.createFeature('new-ranking');
    await unleash.toggle('new-ranking', 'production', true);
    await unleash.toggle('new-ranking', 'development', true);
    world = await createWorld({ config: (urls) => defaultConfigYaml(urls, SEARCH) });
    bot = await world.start({ UNLEASH_API_URL: unleash.url, UNLEASH_API_TOKEN: unleash.token });
  }, 240_000);
  afterAll(async () => {
    await world?.close();
    await unleash?.stop();
  });

  it('turns the flag off in production at once (policy flagOff: not-required), and Undo turns it back on after approval', async () => {
    const { ackText } = await run(
      world,
      bot,
      '/flag',
      'search-api new-ranking off --reason "ranking returns 500s"',
    );
    expect(ackText).toContain('Planning to turn flag `new-ranking` off of search-api in production');
    const card = await cardIn(world);
    const done = await waitCard(world, card, /Done/);
    // The plan as shown: what changes, and the other environment's live state left alone.
    expect(done).toContain('production: `new-ranking` *on* → *off*');
    expect(done).toContain('staging: *on* _(not changed)_');
    expect(done).toContain('ranking returns 500s');
    // Unleash's own Admin API shows the change, and only in production.
    expect(await unleash.enabled('new-ranking', 'production')).toBe(false);
    expect(await unleash.enabled('new-ranking', 'development')).toBe(true);
    await waitFor(() => world.slack.thread(card.channel, card.ts).some((m) => /turned off/.test(m.text)), {
      what: 'outcome note',
    });

    // Undo: turning it back on follows the ordinary policy (approval by someone else).
    const undoAnswer = await click(world, bot, card, 'backout_undo', PEOPLE.requester);
    expect(
      JSON.stringify(
        (await waitFor(() => world.slack.responses(undoAnswer)[0], { what: 'undo answer' })).body,
      ),
    ).toMatch(/Filed `fl-.*needs approval/);
    const undoCard = await cardIn(world, PEOPLE.checkout, 1);
    expect(JSON.stringify(undoCard.blocks)).toContain('`new-ranking` *off* → *on*');
    expect(await unleash.enabled('new-ranking', 'production')).toBe(false);
    await click(world, bot, undoCard, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, undoCard, /Done/);
    expect(await unleash.enabled('new-ranking', 'production')).toBe(true);

    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'request.created')).toHaveLength(2);
    // Two approvals on record: the off by policy (approval not required), the undo by a human.
    expect(types.filter((t) => t === 'request.approved')).toHaveLength(2);
    expect(types.filter((t) => t === 'job.succeeded')).toHaveLength(2);
  });

  it('status shows every kill switch per environment as Unleash has it; unknown flags and a flag already off change nothing', async () => {
    const status = await run(world, bot, '/flag', 'search-api status');
    const text = await status.answer();
    expect(text).toContain('*production*: flag `new-ranking` *on*');
    expect(text).toMatch(/flag `instant-results` unknown \(Unleash has no such flag/);

    const unknown = await run(world, bot, '/flag', 'search-api new-rankng off');
    expect(unknown.ackText).toContain(
      "`new-rankng` is not one of search-api's kill switches. Did you mean `new-ranking`?",
    );

    await unleash.toggle('new-ranking', 'development', false);
    const noop = await run(world, bot, '/flag', 'search-api new-ranking off --env staging');
    expect(await noop.answer()).toContain('is already *off*');
    expect(await unleash.enabled('new-ranking', 'development')).toBe(false);
  });
});
