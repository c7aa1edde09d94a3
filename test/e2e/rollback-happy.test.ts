import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditTypes,
  cardIn,
  click,
  deploymentPatches,
  noDuplicateReplies,
  run,
  stepNumbers,
  waitCard,
} from '../kit/flows.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('a rollback travels the whole path: signed command → plan card → approval → job → thread', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('files the plan, refuses the requester and a stranger, runs after an SRE approves, and ends healthy', async () => {
    const { ack } = await run(world, bot, '/rollback', 'checkout-api --reason "5xx spike after 1.4.2"');
    expect(ack.status).toBe(200);
    const card = await cardIn(world);
    expect(JSON.stringify(card.blocks)).toContain('`shop/checkout:1.4.2` → `shop/checkout:1.4.1`');
    expect(JSON.stringify(card.blocks)).toContain('5xx spike after 1.4.2');

    const self = await click(world, bot, card, 'backout_approve', PEOPLE.requester);
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(self)[0], { what: 'refusal' })).body),
    ).toContain('two-person rule');
    const stranger = await click(world, bot, card, 'backout_approve', PEOPLE.stranger);
    const refusal = await waitFor(() => world.slack.responses(stranger)[0], { what: 'refusal to stranger' });
    expect(JSON.stringify(refusal.body)).toMatch(/<@U0SRE1>, <@U0SRE2> or a member of <!subteam\^S0ONCALL>/);

    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    const done = await waitCard(world, card, /Done — healthy/);
    expect(done).toContain('approved by <@U0SRE1>');
    expect(done).toContain('backout_undo');

    const d = world.prod.get('Deployment', 'shop', 'checkout-api');
    const rs1 = world.prod
      .list('ReplicaSet', 'shop')
      .find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'shop/checkout:1.4.1');
    const { ['pod-template-hash']: _hash, ...labelsWithoutHash } =
      rs1?.spec?.template?.metadata?.labels ?? {};
    expect(d?.spec?.template.metadata?.labels).toEqual(labelsWithoutHash);
    expect(d?.spec?.template.spec?.containers).toEqual(rs1?.spec?.template?.spec?.containers);
    expect(d?.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('4');
    const [patch] = deploymentPatches(world.prod);
    expect(patch?.contentType).toBe('application/json-patch+json');
    // kubectl's patch, behind two preconditions: the planned generation and the resourceVersion just read.
    expect((patch?.body as { op: string; path: string }[]).map((op) => `${op.op} ${op.path}`)).toEqual([
      'test /metadata/generation',
      'replace /metadata/resourceVersion',
      'replace /spec/template',
      'replace /metadata/annotations',
    ]);

    await waitFor(
      () => world.slack.thread(card.channel, card.ts).some((m) => /back on revision 2/.test(m.text)),
      { what: 'outcome note' },
    );
    expect(stepNumbers(world, card)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(noDuplicateReplies(world, card)).toBe(true);
    const thread = world.slack.transcript(card.channel, card.ts);
    expect(thread).toContain('error-rate 0.001 (max 0.005)');
    expect(thread).toContain('answered 200');
    // The verify step lists the readings; the outcome reply sums them up in one line.
    expect(thread.split('error-rate 0.001 (max 0.005)')).toHaveLength(2);
    const outcome = world.slack.thread(card.channel, card.ts).find((m) => /back on revision 2/.test(m.text))!;
    expect(outcome.text).toMatch(/— \*healthy\*\.\n\d+ of \d+ checks passed in every round\.$/);

    expect(await auditTypes(world)).toEqual([
      'request.created',
      'request.approved',
      'job.started',
      ...['preflight', 'lock', 'pause-sync', 'apply', 'wait', 'verify', 'report'].flatMap(() => [
        'step.started',
        'step.finished',
      ]),
      'job.succeeded',
    ]);
  });
});
