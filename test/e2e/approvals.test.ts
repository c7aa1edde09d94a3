import { afterEach, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, cardText, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { findButton } from '../kit/slack-signing.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('approvals', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('two app instances sharing one Redis, each receiving Approve clicks at once, start exactly one job', async () => {
    world = await createWorld();
    const [a, b] = [await world.start(), await world.start()];
    await run(world, a, '/rollback', 'checkout-api --reason "bad deploy"');
    const card = await cardIn(world);
    const clicks = await Promise.all(
      (
        [
          [a, PEOPLE.sre1],
          [b, PEOPLE.sre1],
          [a, PEOPLE.sre2],
          [b, PEOPLE.sre2],
          [a, PEOPLE.sre1],
        ] as [RunningApp, string][]
      ).map(([bot, user]) => click(world, bot, card, 'backout_approve', user)),
    );
    await waitCard(world, card, /Done — healthy/);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'request.approved')).toHaveLength(1);
    expect(types.filter((t) => t === 'job.started')).toHaveLength(1);
    // Everyone who clicked got an answer: one "Approved", the others "already approved".
    const answers = await Promise.all(
      clicks.map((url) => waitFor(() => world.slack.responses(url)[0], { what: 'click answer' })),
    );
    const texts = answers.map((r) => JSON.stringify(r.body));
    expect(texts.filter((t) => t.includes('Approved.'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('already approved'))).toHaveLength(4);
  });

  it('an expired request cannot be approved, its card says it expired, and the target is free again', async () => {
    world = await createWorld({
      config: (urls) => defaultConfigYaml(urls).replace('approvalTtl: 15m', 'approvalTtl: 1s'),
    });
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await waitCard(world, card, /Expired/, 15_000);
    const late = await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    const reply = await waitFor(() => world.slack.responses(late)[0], { what: 'answer to late click' });
    expect(JSON.stringify(reply.body)).toMatch(/expired .* can no longer be approved\. Nothing was changed/);
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(() => findButton(world.slack.message(card.channel, card.ts)?.blocks, 'backout_approve')).toThrow();
    // The lock was released: a new request for the same target is accepted.
    const again = await run(world, bot, '/rollback', 'checkout-api');
    expect(await again.answer()).toMatch(/Filed `rb-/);
  });

  it('Reject by an approver ends the request without touching the Deployment', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    const url = await click(world, bot, card, 'backout_reject', PEOPLE.oncall);
    await waitCard(world, card, /Rejected/);
    expect(cardText(world, card)).toContain('by <@U0ONCALL1>');
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(url)[0], { what: 'answer' })).body),
    ).toContain('Rejected. Nothing was changed.');
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(await auditTypes(world)).toEqual(['request.created', 'request.rejected']);
  });

  it('the requester can withdraw their own request; a stranger cannot reject it', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    const stranger = await click(world, bot, card, 'backout_reject', PEOPLE.stranger);
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(stranger)[0], { what: 'refusal' })).body),
    ).toContain('not an approver');
    await click(world, bot, card, 'backout_reject', PEOPLE.requester);
    await waitCard(world, card, /Cancelled/);
    expect(await auditTypes(world)).toEqual(['request.created', 'request.cancelled']);
  });

  it('without approval required (staging), the job starts at once and the card says no approval was needed', async () => {
    world = await createWorld();
    const bot = await world.start();
    const filed = await run(world, bot, '/rollback', 'checkout-api --env staging', {
      channel: PEOPLE.incident,
    });
    const card = await cardIn(world, PEOPLE.incident);
    await waitCard(world, card, /Done/);
    expect(cardText(world, card)).toContain('no approval needed');
    expect(await filed.answer()).toMatch(/Started `rb-/);
  });

  it('a command run outside any configured channel puts its card in the incident channel and says where', async () => {
    world = await createWorld();
    const bot = await world.start();
    const filed = await run(world, bot, '/rollback', 'checkout-api', { channel: PEOPLE.random });
    expect(await filed.answer()).toContain(`<#${PEOPLE.incident}>`);
    const card = await cardIn(world, PEOPLE.incident);
    expect(card.text).toContain('Roll back checkout-api');
    expect(world.slack.messages(PEOPLE.random)).toHaveLength(0);
  });

  it('a freeze turns Approve into a break-glass approval, recorded as such', async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    world = await createWorld({
      config: (urls) =>
        defaultConfigYaml(urls).replace(
          'services:',
          `freezes:\n  - { name: launch-week, from: "${from}", to: "${to}", environments: [production] }\nservices:`,
        ),
    });
    const bot = await world.start();
    const filed = await run(world, bot, '/rollback', 'checkout-api');
    expect(await filed.answer()).toContain('the launch-week freeze is in force');
    const card = await cardIn(world);
    expect(() => findButton(card.blocks, 'backout_approve')).toThrow();
    await click(world, bot, card, 'backout_break_glass', PEOPLE.sre2);
    await waitCard(world, card, /Done — healthy/);
    expect(cardText(world, card)).toContain('(break-glass)');
    const audit = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    const approved = audit
      .map(([, f]) => JSON.parse(f[1]!) as { type: string; details?: Record<string, unknown> })
      .find((r) => r.type === 'request.approved');
    expect(approved?.details).toMatchObject({ breakGlass: true, freeze: 'launch-week' });
  });
});
