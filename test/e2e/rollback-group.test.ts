import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const member = (name: string, extra = '') => `
  ${name}:
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: ${name} }${extra}`;

/** Two ordered groups; cart-api has its own approvers, b-api's rollout never completes. */
const GROUPS = `${member(
  'cart-api',
  `
        policy: { approvers: { users: [${PEOPLE.sre2}] } }`,
)}${member('gateway')}${member('a-api')}${member(
  'b-api',
  `
        rollout: { timeout: 1s }`,
)}${member('c-api')}
groups:
  storefront:
    - { service: checkout-api, environment: production }
    - { service: cart-api, environment: production }
    - { service: gateway, environment: production }
  backoffice:
    - { service: a-api, environment: production }
    - { service: b-api, environment: production }
    - { service: c-api, environment: production }
`;

interface AuditEntry {
  type: string;
  requestId?: string;
  service?: string;
  approver?: string;
  details?: { coveredBy?: string };
}

async function audit(world: World): Promise<AuditEntry[]> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  return entries.map(([, f]) => JSON.parse(f[1]!) as AuditEntry);
}

describe('/rollback <group>: members in order, one approval, the first failure stops the rest', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({ config: (urls) => defaultConfigYaml(urls, GROUPS) });
    for (const name of ['cart-api', 'gateway', 'a-api', 'b-api', 'c-api']) {
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

  it('plans every member on one card, needs one approver on every list, then rolls back and verifies each in order', async () => {
    await run(world, bot, '/rollback', 'storefront --reason "bad release train"');
    const card = await cardIn(world);
    const plan = JSON.stringify(card.blocks);
    expect(plan).toMatch(
      /1\. \*checkout-api\* in production: revision 3 → 2.*2\. \*cart-api\* in production: revision 2 → 1.*3\. \*gateway\* in production: revision 2 → 1/,
    );
    expect(plan).toContain('`shop/cart-api:1.1` → `shop/cart-api:1.0`');

    // U0SRE1 may approve checkout-api and gateway but not cart-api: the answer says whose approval is missing.
    const partial = await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(partial)[0], { what: 'refusal' })).body),
    ).toContain('Still missing an approver for: cart-api in production (approvers: <@U0SRE2>)');
    expect(deploymentPatches(world.prod)).toHaveLength(0);

    await click(world, bot, card, 'backout_approve', PEOPLE.sre2);
    // The card says who approved at once, not after the members' thread replies (each ~1 s at
    // Slack's pace): its edits do not wait for post slots.
    await waitCard(world, card, /approved by <@U0SRE2>/, 5_000);
    expect(world.slack.transcript(card.channel, card.ts)).not.toContain('every member rolled back in order');
    const done = await waitCard(world, card, /Done/, 60_000);
    expect(done).toContain('checkout-api/production rolled back to revision 2');
    expect(done).toContain('gateway/production rolled back to revision 1');
    for (const [name, image] of [
      ['checkout-api', 'shop/checkout:1.4.1'],
      ['cart-api', 'shop/cart-api:1.0'],
      ['gateway', 'shop/gateway:1.0'],
    ]) {
      expect(world.prod.get('Deployment', 'shop', name!)?.spec?.template.spec?.containers[0]?.image).toBe(
        image,
      );
    }
    // In order, each verified before the next was touched: every member's job ends before the next one starts.
    const entries = await audit(world);
    const order = entries
      .filter((e) => e.type === 'job.started' || e.type === 'job.succeeded')
      .filter((e) => e.service !== 'storefront')
      .map((e) => `${e.type} ${e.service}`);
    expect(order).toEqual([
      'job.started checkout-api',
      'job.succeeded checkout-api',
      'job.started cart-api',
      'job.succeeded cart-api',
      'job.started gateway',
      'job.succeeded gateway',
    ]);
    // One human approval (the group's card, by the approver who completed it); each member's own
    // request records that it was covered by the group's approval, naming the same approver.
    const approvals = entries.filter((e) => e.type === 'request.approved');
    const human = approvals.filter((e) => !e.details?.coveredBy);
    expect(human).toHaveLength(1);
    expect(approvals.filter((e) => e.details?.coveredBy === human[0]!.requestId)).toHaveLength(3);
    expect(world.slack.transcript(card.channel, card.ts)).toContain(
      'every member rolled back in order and verified',
    );
  });

  it('a failure in the second member leaves the third untouched, and the card says which are done, failed and not started', async () => {
    const before = world.prod.get('Deployment', 'shop', 'c-api');
    world.prod.setRollout('shop', 'b-api', { mode: 'stall' });
    await run(world, bot, '/rollback', 'backoffice');
    const card = await waitFor(
      () =>
        world.slack
          .messages(PEOPLE.checkout)
          .find((m) => !m.thread_ts && /backoffice/.test(m.text + JSON.stringify(m.blocks))),
      { what: 'group card' },
    );
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    const failed = await waitCard(world, card, /Failed/, 60_000);
    expect(failed).toContain('a-api/production rolled back to revision 1');
    expect(failed).toMatch(/:x: b-api\/production failed/);
    expect(failed).toContain('c-api/production not started');
    expect(failed).toContain('1 done, 1 failed, 1 not started');
    expect(deploymentPatches(world.prod, 'shop', 'c-api')).toHaveLength(0);
    expect(world.prod.get('Deployment', 'shop', 'c-api')?.metadata?.generation).toBe(
      before?.metadata?.generation,
    );

    // Roll the group forward: the members it moved (b-api's template was patched before it stalled), in reverse order.
    const answer = await click(world, bot, card, 'backout_undo', PEOPLE.requester);
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(answer)[0], { what: 'answer' })).body),
    ).toMatch(
      /Filed `rg-[a-z0-9]{8}`: Roll forward group backoffice: b-api\/production \d+→2, a-api\/production 3→2/,
    );
  });

  it('a group name with --env or --to is refused at once, and nothing is filed', async () => {
    const { ackText } = await run(world, bot, '/rollback', 'backoffice --to 1');
    expect(ackText).toContain('backoffice is a group');
  });
});
