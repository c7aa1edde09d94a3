import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const NOTE = 'orders.total split into net and tax — https://runbooks.example.com/orders-split';

describe('a rollback across an irreversible migration', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    // Revision 4 ships a migration the old code cannot read back; its pod template says so.
    world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
      const t = d.spec!.template;
      t.metadata = { ...t.metadata, annotations: { 'backout.dev/irreversible-migration': NOTE } };
      t.spec!.containers[0]!.image = 'shop/checkout:1.5.0';
    });
    await waitFor(
      () => {
        const d = world.prod.get('Deployment', 'shop', 'checkout-api');
        return (
          d?.metadata?.annotations?.['deployment.kubernetes.io/revision'] === '4' &&
          d.status?.updatedReplicas === 3 &&
          d.status.availableReplicas === 3
        );
      },
      { what: 'revision 4 rolled out' },
    );
    bot = await world.start();
  });
  afterAll(async () => {
    await world?.close();
  });

  it('is refused by default with the note and the runbook, and nothing is filed or patched', async () => {
    const { answer } = await run(world, bot, '/rollback', 'checkout-api');
    const text = await answer();
    expect(text).toContain(
      'would cross an irreversible data migration, so it was refused. Nothing was changed.',
    );
    expect(text).toContain('revision 4 ran an irreversible migration: orders.total split into net and tax');
    expect(text).toContain(
      '<https://runbooks.example.com/orders-split|https://runbooks.example.com/orders-split>',
    );
    expect(text).toContain('--across-migration');
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(0);
    expect(deploymentPatches(world.prod)).toHaveLength(0);
  });

  it('with --across-migration needs a break-glass approval: a plain approval is refused, break glass runs it', async () => {
    await run(world, bot, '/rollback', 'checkout-api --across-migration --reason "1.5.0 corrupts carts"');
    const card = await cardIn(world);
    const shown = JSON.stringify(card.blocks);
    expect(shown).toContain('revision 4 ran an irreversible migration');
    expect(shown).toContain('compensation runbook: <https://runbooks.example.com/orders-split|');
    const glass = findButton(card.blocks, 'backout_break_glass');
    expect(() => findButton(card.blocks, 'backout_approve')).toThrow();

    // A plain Approve for this request (an old client, a crafted click) is refused.
    const plain = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: card.channel,
      messageTs: card.ts,
      actionId: 'backout_approve',
      value: glass.value,
      responseUrl: plain,
    });
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(plain)[0], { what: 'refusal' })).body),
    ).toContain('break-glass decision (irreversible migration), so a plain approval is not enough');
    expect(deploymentPatches(world.prod)).toHaveLength(0);

    await click(world, bot, card, 'backout_break_glass', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    expect(
      world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image,
    ).toBe('shop/checkout:1.4.2');
    const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    const approved = entries
      .map(([, f]) => JSON.parse(f[1]!) as { type: string; details?: Record<string, unknown> })
      .find((e) => e.type === 'request.approved');
    expect(approved?.details).toMatchObject({ breakGlass: true, why: 'irreversible migration' });
  });
});
