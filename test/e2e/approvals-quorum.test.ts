import { afterEach, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, cardText, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

/** Three approvers (sre1, sre2 and the on-call group); two must approve, one of them the on-call engineer. */
const quorumConfig = (required: boolean) => (urls: { prometheus: string; probe: string }) =>
  defaultConfigYaml(urls).replace(
    '  approvalTtl: 15m',
    `  approvalTtl: 15m\n  minApprovals: 2${required ? `\n  requiredApprovers: { users: [${PEOPLE.oncall}] }` : ''}`,
  );

async function answer(world: World, url: string): Promise<string> {
  return JSON.stringify((await waitFor(() => world.slack.responses(url)[0], { what: 'click answer' })).body);
}

async function approvalDetails(world: World): Promise<{ type: string; details?: Record<string, unknown> }[]> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  return entries
    .map(([, f]) => JSON.parse(f[1]!) as { type: string; details?: Record<string, unknown> })
    .filter((r) => r.type.startsWith('request.approv'));
}

describe('approvals by several people (minApprovals, requiredApprovers)', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('a 2-of-3 approval with a required approver counts each approver once, waits for the named one, and starts one job', async () => {
    world = await createWorld({ config: quorumConfig(true) });
    const [a, b] = [await world.start(), await world.start()];
    await run(world, a, '/rollback', 'checkout-api --reason "bad deploy"');
    const card = await cardIn(world);
    expect(cardText(world, card)).toContain('Needs approval by 2 of');
    expect(cardText(world, card)).toContain(`0 of 2 approvals; still needs one of <@${PEOPLE.oncall}>`);

    // The requester never counts.
    expect(await answer(world, await click(world, a, card, 'backout_approve', PEOPLE.requester))).toContain(
      'two-person rule',
    );

    expect(await answer(world, await click(world, a, card, 'backout_approve', PEOPLE.sre1))).toContain(
      `Approval recorded: 1 of 2 approvals: <@${PEOPLE.sre1}>; still needs one of <@${PEOPLE.oncall}>`,
    );
    await waitCard(world, card, new RegExp(`1 of 2 approvals: <@${PEOPLE.sre1}>; still needs one of`));
    expect(deploymentPatches(world.prod)).toHaveLength(0);

    // The same person again is not a second approval.
    expect(await answer(world, await click(world, b, card, 'backout_approve', PEOPLE.sre1))).toContain(
      'You have already approved this request',
    );
    // A second approver who is not the named one cannot complete it: refused, not counted.
    expect(await answer(world, await click(world, b, card, 'backout_approve', PEOPLE.sre2))).toMatch(
      /the approval still missing must come from <@U0ONCALL1>, so yours was not counted\. Nothing was changed/,
    );

    // The on-call engineer's click arrives at both replicas at once, twice each.
    const clicks = await Promise.all(
      ([a, b, a, b] as RunningApp[]).map((bot) => click(world, bot, card, 'backout_approve', PEOPLE.oncall)),
    );
    const texts = await Promise.all(clicks.map((url) => answer(world, url)));
    expect(texts.filter((t) => t.includes('Approved.'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('already approved'))).toHaveLength(3);

    await waitCard(world, card, /Done — healthy/);
    expect(cardText(world, card)).toContain(`approved by <@${PEOPLE.sre1}>, <@${PEOPLE.oncall}>`);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'job.started')).toHaveLength(1);
    expect(await approvalDetails(world)).toEqual([
      expect.objectContaining({
        type: 'request.approval-added',
        details: { approvals: [PEOPLE.sre1], of: 2 },
      }),
      expect.objectContaining({
        type: 'request.approved',
        details: { approvals: [PEOPLE.sre1, PEOPLE.oncall], of: 2, requiredApprover: true },
      }),
    ]);
  });

  it('two approvers clicking at once on two replicas are both counted, and the job starts once', async () => {
    world = await createWorld({ config: quorumConfig(false) });
    const [a, b] = [await world.start(), await world.start()];
    await run(world, a, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    const clicks = await Promise.all(
      (
        [
          [a, PEOPLE.sre1],
          [b, PEOPLE.sre2],
          [b, PEOPLE.sre1],
          [a, PEOPLE.sre2],
        ] as [RunningApp, string][]
      ).map(([bot, user]) => click(world, bot, card, 'backout_approve', user)),
    );
    await Promise.all(clicks.map((url) => answer(world, url)));
    await waitCard(world, card, /Done — healthy/);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    const approvals = await approvalDetails(world);
    expect(approvals.map((r) => r.type)).toEqual(['request.approval-added', 'request.approved']);
    expect(new Set(approvals[1]!.details!.approvals as string[])).toEqual(
      new Set([PEOPLE.sre1, PEOPLE.sre2]),
    );
    expect((await auditTypes(world)).filter((t) => t === 'job.started')).toHaveLength(1);
  });

  it('a Reject after one approval fails the request; later approvals change nothing', async () => {
    world = await createWorld({ config: quorumConfig(true) });
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await answer(world, await click(world, bot, card, 'backout_approve', PEOPLE.sre1));
    expect(await answer(world, await click(world, bot, card, 'backout_reject', PEOPLE.sre2))).toContain(
      'Rejected. Nothing was changed.',
    );
    await waitCard(world, card, /Rejected/);
    expect(await answer(world, await click(world, bot, card, 'backout_approve', PEOPLE.oncall))).toContain(
      'was rejected by <@U0SRE2>',
    );
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(await auditTypes(world)).toEqual([
      'request.created',
      'request.approval-added',
      'request.rejected',
    ]);
  });
});
