import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const member = (name: string) => `
  ${name}:
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: ${name} }`;

const GROUP = `${member('cart-api')}${member('gateway')}
groups:
  storefront:
    - { service: cart-api, environment: production }
    - { service: gateway, environment: production }
`;

interface Entry {
  type: string;
  requestId?: string;
  details?: { parentId?: string };
}

const isTimeline = (text: string) => text.startsWith(':clipboard: *Timeline*');

describe('every job ends with its timeline in its thread, from the audit log', () => {
  let world: World;
  let bot: RunningApp;

  const audit = async (): Promise<Entry[]> =>
    (await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+')).map(
      ([, f]) => JSON.parse(f[1]!) as Entry,
    );
  const metrics = async () => (await fetch(`http://127.0.0.1:${bot.app.port}/metrics`)).text();
  const count = (text: string, stage: string) =>
    Number(
      new RegExp(`backout_time_to_mitigate_seconds_count\\{stage="${stage}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
    );

  beforeAll(async () => {
    world = await createWorld({ config: (urls) => defaultConfigYaml(urls, GROUP) });
    for (const name of ['cart-api', 'gateway']) {
      world.prod.addDeployment({
        namespace: 'shop',
        name,
        replicas: 2,
        containers: ['1.0', '1.1'].map((v) => [{ name: 'app', image: `shop/${name}:${v}` }]),
      });
    }
    bot = await world.start();
  });
  afterAll(async () => {
    await world?.close();
  });

  it('a person’s /rollback (no alert) ends with its timeline — approver, each step with its duration — and the stages in the metric', async () => {
    await run(world, bot, '/rollback', 'checkout-api --reason "5xx spike after 1.4.2"');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    const timeline = await waitFor(
      () => world.slack.thread(card.channel, card.ts).find((m) => isTimeline(m.text))?.text,
      { what: 'the timeline in the thread' },
    );
    const order = [
      'Proposal posted: Roll back checkout-api in production',
      'Approved by <@U0SRE1>',
      'Step preflight done in',
      'Step apply done in',
      'Step wait done in',
      'Step verify done in',
      'Finished:',
    ].map((s) => timeline.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // No alert: the stages start at the proposal.
    expect(timeline).not.toContain('Alert');
    expect(timeline).toMatch(
      /\*Time to mitigate:\* proposal → approval \*.+\* {2}· {2}approval → applied \*.+\* {2}· {2}applied → verified \*.+\*$/,
    );

    const m = await metrics();
    expect(count(m, 'proposal_to_approval')).toBe(1);
    expect(count(m, 'approval_to_applied')).toBe(1);
    expect(count(m, 'applied_to_verified')).toBe(1);
    expect(m).not.toContain('stage="alert_to_proposal"');
    // Posted once, under the run's key.
    expect(world.slack.thread(card.channel, card.ts).filter((r) => isTimeline(r.text))).toHaveLength(1);
  }, 60_000);

  it('a group rollback posts one timeline, in the group’s thread, covering its members; a member posts none', async () => {
    const before = await metrics();
    await run(world, bot, '/rollback', 'storefront --reason "bad release train"');
    const card = await waitFor(
      () =>
        world.slack
          .messages(PEOPLE.checkout)
          .find((m) => !m.thread_ts && /storefront/.test(m.text + JSON.stringify(m.blocks))),
      { what: 'the group card' },
    );
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done/, 60_000);
    const timeline = await waitFor(
      () => world.slack.thread(card.channel, card.ts).find((m) => isTimeline(m.text))?.text,
      { what: 'the group’s timeline' },
    );

    const entries = await audit();
    const group = entries.find((e) => e.type === 'request.created' && e.requestId?.startsWith('rg-'))!;
    const members = entries
      .filter((e) => e.type === 'request.created' && e.details?.parentId === group.requestId)
      .map((e) => e.requestId!);
    expect(members).toHaveLength(2);
    expect(timeline).toContain(`Timeline* of ${group.requestId} and the 2 requests it filed`);
    for (const id of members) {
      expect(timeline).toContain(`${id}: Step wait done in`);
      expect(timeline).toContain(`${id}: Step verify done in`);
    }
    expect(timeline).toContain(`${group.requestId}: Approved by <@U0SRE1>`);
    expect(timeline).toMatch(/approval → applied \*.+\*/);

    // One timeline for the group's whole run: none in the members' threads, one in the channel.
    const timelines = world.slack.messages(PEOPLE.checkout).filter((m) => isTimeline(m.text));
    expect(timelines.filter((m) => m.thread_ts === card.ts)).toHaveLength(1);
    expect(timelines).toHaveLength(2);
    // The group is observed once (the members are part of it), not once per member.
    const after = await metrics();
    expect(count(after, 'proposal_to_approval') - count(before, 'proposal_to_approval')).toBe(1);
    expect(count(after, 'applied_to_verified') - count(before, 'applied_to_verified')).toBe(1);
  }, 90_000);
});
