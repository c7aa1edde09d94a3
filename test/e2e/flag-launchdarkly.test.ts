import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, click, run, waitCard } from '../kit/flows.js';
import { LaunchDarklyDouble, SEMANTIC_PATCH_TYPE } from '../doubles/launchdarkly.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const LD_TOKEN = 'api-0000-backout-test-token';

/** LaunchDarkly-backed kill switch; here turning off follows the ordinary policy (approval needed). */
const PRICING = `
  pricing-api:
    flags: { provider: launchdarkly, project: shop, killSwitches: [dynamic-pricing] }
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
      staging:
        kubernetes: { context: staging, namespace: shop, deployment: checkout-api }
        flags: { environment: test }
`;

describe('/flag on LaunchDarkly: semantic patch as documented, approval, and a stale plan refused', () => {
  let ld: LaunchDarklyDouble;
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    ld = await LaunchDarklyDouble.start({ token: LD_TOKEN });
    ld.addFlag('shop', 'dynamic-pricing', { production: true, test: true });
    world = await createWorld({ config: (urls) => defaultConfigYaml(urls, PRICING) });
    bot = await world.start({ LAUNCHDARKLY_API_URL: ld.baseUrl, LAUNCHDARKLY_API_TOKEN: LD_TOKEN });
  });
  afterAll(async () => {
    await world?.close();
    await ld?.stop();
  });

  it('plans with the live state per environment, turns the flag off after approval with turnFlagOff, and audits it', async () => {
    await run(world, bot, '/flag', 'pricing-api dynamic-pricing off --reason "prices are wrong"');
    const card = await cardIn(world);
    await waitCard(world, card, /Waiting for approval/);
    const shown = JSON.stringify(card.blocks);
    expect(shown).toContain('production: `dynamic-pricing` *on* → *off*');
    expect(shown).toContain('staging: *on* _(not changed)_');
    expect(ld.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);

    await click(world, bot, card, 'backout_approve', PEOPLE.sre2);
    await waitCard(world, card, /Done/);
    expect(ld.isOn('shop', 'dynamic-pricing', 'production')).toBe(false);
    expect(ld.isOn('shop', 'dynamic-pricing', 'test')).toBe(true);
    const patches = ld.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({
      path: '/api/v2/flags/shop/dynamic-pricing',
      contentType: SEMANTIC_PATCH_TYPE,
      authorization: LD_TOKEN,
      status: 200,
      body: {
        environmentKey: 'production',
        instructions: [{ kind: 'turnFlagOff' }],
        comment: 'prices are wrong',
      },
    });
    // Reads ask for the one environment they need, as LaunchDarkly's `env` filter allows.
    expect(ld.requests.some((r) => r.method === 'GET' && r.query.env === 'production')).toBe(true);
    const types = await auditTypes(world);
    expect(types).toContain('request.approved');
    expect(types.at(-1)).toBe('job.succeeded');
  });

  it('a flag changed in LaunchDarkly between the plan and the approval makes the plan stale: nothing is patched', async () => {
    const before = ld.requests.filter((r) => r.method === 'PATCH').length;
    await run(world, bot, '/flag', 'pricing-api dynamic-pricing on');
    const card = await cardIn(world, PEOPLE.checkout, 1);
    expect(JSON.stringify(card.blocks)).toContain('`dynamic-pricing` *off* → *on*');
    // Someone turns it on in LaunchDarkly's UI meanwhile: the state the plan was made from is gone.
    ld.set('shop', 'dynamic-pricing', 'production', true);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    const text = await waitCard(world, card, /Failed/);
    expect(text).toMatch(/plan is stale/);
    expect(world.slack.transcript(card.channel, card.ts)).toMatch(
      /flag `dynamic-pricing` in LaunchDarkly project `shop`, environment `production` is now \*on\*, but the plan was made when it was \*off\*/,
    );
    expect(ld.requests.filter((r) => r.method === 'PATCH')).toHaveLength(before);
  });

  it('a /rollback plan card of a service with kill switches offers "Turn off <flag> instead", which files the flag request', async () => {
    await run(world, bot, '/rollback', 'pricing-api --reason "prices wrong"');
    const card = await cardIn(world, PEOPLE.checkout, 2);
    expect(JSON.stringify(card.blocks)).toContain('Turn off dynamic-pricing instead');
    const answer = await click(world, bot, card, 'backout_flag_instead', PEOPLE.requester);
    const text = JSON.stringify(
      (await waitFor(() => world.slack.responses(answer)[0], { what: 'answer' })).body,
    );
    expect(text).toMatch(
      /Filed `fl-[a-z0-9]{8}`: Turn flag dynamic-pricing of pricing-api off in production/,
    );
    expect(text).toMatch(/The rollback `rb-[a-z0-9]{8}` is still waiting for approval/);
    const flagCard = await cardIn(world, PEOPLE.checkout, 3);
    expect(JSON.stringify(flagCard.blocks)).toContain('`dynamic-pricing` *on* → *off*');
    expect(JSON.stringify(flagCard.blocks)).toContain('instead of rolling back');
  });
});
