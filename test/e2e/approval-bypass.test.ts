import { afterEach, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { approve, cardMatching, command, finished, seedReleases } from './retract-kit.js';

const GUEST = 'U0GUEST';
const PARTNER = 'U0PARTNER';

async function answer(world: World, url: string): Promise<string> {
  const r = await waitFor(() => world.slack.responses(url)[0], { what: 'the answer' });
  return JSON.stringify(r.body);
}

async function state(world: World, requestId: string): Promise<string | null> {
  return world.redis.hget(`${world.prefix}:req:${requestId}`, 'state');
}

const requestIdOf = (card: { blocks?: unknown[] }) =>
  /`(r[bt]-[a-z0-9]{8})`/.exec(JSON.stringify(card.blocks))?.[1] ?? '';

describe('approvals nobody can bypass', () => {
  let world: World;
  let bot: RunningApp;
  afterEach(async () => {
    await world.close();
  });

  it('guests and Slack Connect users are refused with a clear message; a replayed click is ignored; nothing changes', async () => {
    world = await createWorld();
    // A guest and an external partner who both sit in the on-call approver group.
    world.slack.setUser(GUEST, { restricted: true });
    world.slack.setUser(PARTNER, { teamId: 'T0PARTNER' });
    world.slack.setUsergroup(PEOPLE.oncallGroup, [PEOPLE.oncall, GUEST, PARTNER]);
    bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api --reason "bad deploy"');
    const card = await cardIn(world);
    const id = requestIdOf(card);

    expect(await answer(world, await click(world, bot, card, 'backout_approve', GUEST))).toMatch(
      /Guest accounts cannot approve here unless the policy names them\. Nothing was changed\./,
    );
    expect(await answer(world, await click(world, bot, card, 'backout_approve', PARTNER))).toMatch(
      /from another organisation \(Slack Connect\), so you cannot approve here/,
    );
    // The payload itself says the clicker belongs to another workspace.
    const button = findButton(card.blocks, 'backout_approve');
    const url = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.sre2,
      userTeamId: 'T0ELSEWHERE',
      channel: card.channel,
      messageTs: card.ts,
      actionId: button.actionId,
      value: button.value,
      responseUrl: url,
    });
    expect(await answer(world, url)).toMatch(
      /belongs to another workspace \(T0ELSEWHERE\).*Nothing was changed/,
    );

    // A Slack Connect partner cannot file requests either.
    const filed = await run(world, bot, '/rollback', 'checkout-api --env staging', { user: PARTNER });
    expect(await filed.answer()).toMatch(/from another organisation .*cannot file requests/);

    expect(await state(world, id)).toBe('pending');
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(await auditTypes(world)).not.toContain('request.approved');

    // A click delivered twice (same signed body within Slack's 5 minutes) is handled once.
    const rejectUrl = await click(world, bot, card, 'backout_reject', PEOPLE.stranger);
    expect(await answer(world, rejectUrl)).toContain('You are not an approver');
    const replay = await bot.client.replayLast();
    expect(replay.status).toBe(200);
    await waitFor(() => bot.logs.some((l) => l.includes('interaction replayed; ignored')), {
      what: 'the replay to be recognised',
    });
    expect(world.slack.responses(rejectUrl)).toHaveLength(1);

    // A named approver who is a full member still approves.
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
  });

  it('a guest named in the policy may approve', async () => {
    world = await createWorld({
      config: (urls) =>
        defaultConfigYaml(urls).replace(
          `users: [${PEOPLE.sre1}, ${PEOPLE.sre2}]`,
          `users: [${PEOPLE.sre1}, ${PEOPLE.sre2}, ${GUEST}]`,
        ),
    });
    world.slack.setUser(GUEST, { ultraRestricted: true });
    bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    expect(await answer(world, await click(world, bot, card, 'backout_approve', GUEST))).toContain(
      'Approved.',
    );
    await waitCard(world, card, /Done — healthy/);
  });

  it('Retry re-checks freezes: a job that failed before a freeze began is not retried during it', async () => {
    let freezeFrom = 0;
    world = await createWorld({
      config: (urls) => {
        freezeFrom = Date.now() + 12_000;
        return `${defaultConfigYaml(urls)}
freezes:
  - { name: launch, from: "${new Date(freezeFrom).toISOString()}", to: "${new Date(freezeFrom + 3_600_000).toISOString()}", environments: [production] }
`;
      },
    });
    bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    // Someone changes the Deployment after the plan: the job stops with "the plan is stale".
    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      d.spec!.template.metadata = {
        ...d.spec!.template.metadata,
        annotations: { ...d.spec!.template.metadata?.annotations, edited: 'by hand' },
      };
    });
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Failed/);
    expect(Date.now()).toBeLessThan(freezeFrom);
    await waitFor(() => Date.now() >= freezeFrom, { what: 'the freeze to begin', timeoutMs: 20_000 });
    const retried = await click(world, bot, card, 'backout_retry', PEOPLE.sre1);
    expect(await answer(world, retried)).toMatch(
      /The launch freeze is in force until .*not approved to break it, so it was not retried\. Nothing was changed; the job stays failed\./,
    );
    expect(await state(world, requestIdOf(card))).toBe('failed');
    expect(await auditTypes(world)).not.toContain('job.retried');
  });

  it('a retraction’s Approve covers a child rollback only where the approver is an approver of that environment; the other waits on its own card', async () => {
    world = await createWorld({
      config: (urls) =>
        defaultConfigYaml(urls).replace(
          'policy: { approval: not-required }',
          `policy: { approval: required, approvers: { users: [${PEOPLE.sre2}], usergroups: [] } }`,
        ),
    });
    seedReleases(world);
    bot = await world.start();
    const { reply } = await command(world, bot.client, '/retract', 'checkout-api@v1.4.2 --rollback');
    expect(await reply()).toContain('needs approval');
    const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
    await approve(world, bot.client, card.ts, PEOPLE.sre1);

    // Production is covered by sre1's click; staging (approvers: sre2 only) gets its own card.
    const staging = await waitFor(
      () =>
        world.slack
          .messages(PEOPLE.checkout)
          .find((m) => !m.thread_ts && /^Rollback checkout-api · staging/.test(m.text)),
      { what: 'the staging rollback card' },
    );
    await waitFor(
      () => /waiting for approval/.test(world.slack.message(staging.channel, staging.ts)?.text ?? ''),
      {
        what: 'the staging card to wait for approval',
      },
    );
    expect(JSON.stringify(world.slack.message(staging.channel, staging.ts)?.blocks)).toContain(
      'is not an approver for this environment',
    );
    await waitFor(
      () =>
        world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image ===
        'shop/checkout:1.4.1',
      {
        what: 'production rolled back under the retraction’s approval',
        timeoutMs: 30_000,
      },
    );
    expect(
      world.staging.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
    ).toBe('shop/checkout:1.4.2');
    // sre1 is not an approver there: refused, nothing changes.
    expect(await answer(world, await click(world, bot, staging, 'backout_approve', PEOPLE.sre1))).toContain(
      'You are not an approver for this request',
    );
    expect(await answer(world, await click(world, bot, staging, 'backout_approve', PEOPLE.sre2))).toContain(
      'Approved.',
    );
    const done = await finished(world, card.ts, 45_000, () => bot.logs.join(''));
    expect(done.text).toContain('2 rollbacks done');
    expect(
      world.staging.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
    ).toBe('shop/checkout:1.4.1');
  });
});
