import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { createWorld, PEOPLE, type RunningApp, type Transport, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import { approve, cardMatching, command, finished, release, seedReleases } from './retract-kit.js';
import {
  answerAt,
  canaryConfigYaml,
  card as canaryCard,
  cardSays,
  click as canaryClick,
  gateMessage,
  SERVICES,
  seedCanaries,
  slash,
} from './canary-kit.js';

/**
 * The main scenarios, once over signed HTTP POSTs and once over Socket Mode envelopes: the same
 * world, the same moves, the same expectations. Answers that ride on the acknowledgement (help,
 * a typo, a dialog's field errors) come back in the ack frame's payload over a socket.
 */
describe.each<Transport>(['http', 'socket'])('over %s', (transport) => {
  describe('commands, approvals, retraction and dialogs', () => {
    let world: World;
    let bot: RunningApp;
    beforeAll(async () => {
      world = await createWorld({ transport });
      seedReleases(world);
      bot = await world.start();
    });
    afterAll(async () => {
      await world.close();
    });

    it('answers help and a mistyped service on the acknowledgement', async () => {
      const help = await run(world, bot, '/rollback', 'help', { channel: PEOPLE.random });
      expect(help.ack.status).toBe(200);
      expect(help.ackText).toContain('/rollback');
      const typo = await run(world, bot, '/rollback', 'checkout-apu');
      expect(typo.ack.body).toContain('Did you mean `checkout-api`?');
      expect(world.slack.messages(PEOPLE.checkout)).toHaveLength(0);
      // Over a socket both came as envelopes and were acknowledged once each.
      expect(world.socket?.acks.length ?? 0).toBe(transport === 'socket' ? 2 : 0);
    });

    it('keeps the two-person rule, counts a double click once, and runs the rollback once', async () => {
      await run(world, bot, '/rollback', 'checkout-api --reason "5xx spike"');
      const card = await cardIn(world);
      const self = await click(world, bot, card, 'backout_approve', PEOPLE.requester);
      expect(
        JSON.stringify((await waitFor(() => world.slack.responses(self)[0], { what: 'refusal' })).body),
      ).toContain('two-person rule');
      const clicks = await Promise.all([
        click(world, bot, card, 'backout_approve', PEOPLE.sre1),
        click(world, bot, card, 'backout_approve', PEOPLE.sre1),
      ]);
      await waitCard(world, card, /Done — healthy/);
      expect(deploymentPatches(world.prod)).toHaveLength(1);
      const types = await auditTypes(world);
      expect(types.filter((t) => t === 'request.approved')).toHaveLength(1);
      expect(types.filter((t) => t === 'job.started')).toHaveLength(1);
      const answers = await Promise.all(
        clicks.map((url) => waitFor(() => world.slack.responses(url)[0], { what: 'click answer' })),
      );
      const texts = answers.map((r) => JSON.stringify(r.body));
      expect(texts.filter((t) => t.includes('Approved.'))).toHaveLength(1);
      expect(texts.filter((t) => t.includes('already approved'))).toHaveLength(1);
    });

    it('retracts a release after approval', async () => {
      const { ack, reply } = await command(
        world,
        bot.client,
        '/retract',
        'checkout-api@v1.4.2 --reason "bad"',
      );
      expect(ack).toContain('Planning the retraction of checkout-api v1.4.2');
      expect(await reply()).toMatch(/Filed `rt-[a-z0-9]{8}`.*needs approval/s);
      const card = await cardMatching(world, /Retract checkout-api v1\.4\.2/);
      await approve(world, bot.client, card.ts);
      expect((await finished(world, card.ts)).text).toContain('done (retracted)');
      expect(release(world, 'v1.4.2').prerelease).toBe(true);
    });

    it('opens the dialog for a bare command and refuses an incomplete one in the dialog', async () => {
      const ack = await bot.client.command({
        command: '/rollback',
        text: '',
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.checkout,
        response_url: world.slack.newResponseUrl(),
      });
      expect(ack.status).toBe(200);
      const opened = await waitFor(() => world.slack.views()[0], { what: 'views.open' });
      expect((opened.view as { callback_id: string }).callback_id).toBe('rollback_modal');
      const res = await bot.client.viewSubmission({
        user: PEOPLE.requester,
        callbackId: 'rollback_modal',
        privateMetadata: JSON.stringify({ channel: PEOPLE.checkout }),
        values: { target: { modal_rollback_target: { type: 'static_select', selected_option: null } } },
      });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        response_action: 'errors',
        errors: { target: 'Pick a service and environment.' },
      });
    });
  });

  describe('a canary stops at its gate', () => {
    let world: World;
    let bot: RunningApp;
    beforeAll(async () => {
      world = await createWorld({
        transport,
        config: canaryConfigYaml({ dwell: '300ms', interval: '100ms' }),
      });
      seedCanaries(world);
      bot = await world.start();
    });
    afterAll(async () => {
      await world.close();
    });

    it('waits for a second person at 50 %, then promotes', async () => {
      const { image } = SERVICES.nginx;
      const { responseUrl } = await slash(bot.client, world, 'nginx', `start ${image} --reason "2.0"`);
      expect(await answerAt(world, responseUrl)).toContain('needs approval');
      const plan = await canaryCard(world, 'nginx');
      expect(await canaryClick(bot.client, world, 'nginx', plan, 'backout_approve', PEOPLE.sre1)).toContain(
        'Approved',
      );
      const gate = await gateMessage(world, 'nginx', plan.ts);
      expect(
        await canaryClick(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.requester),
      ).toContain('two-person rule');
      expect(await canaryClick(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.sre2)).toContain(
        'goes to 100 %',
      );
      expect((await cardSays(world, 'nginx', plan.ts, /promoted/)).text).toContain(
        `promoted: ${image} is stable`,
      );
    });
  });
});
