import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import {
  answerAt,
  auditRecords,
  canaryConfigYaml,
  canaryWeightNow,
  card,
  cardSays,
  click,
  errorRateQuery,
  gateMessage,
  NS,
  SERVICES,
  showOnFailure,
  seedCanaries,
  slash,
  stableImage,
  weightPatches,
  type Provider,
} from './canary-kit.js';

const requestIdOf = (blocks: unknown) => /`(c[an]-[a-z0-9]{8})`/.exec(JSON.stringify(blocks))?.[1];

describe('canaries that do not go to 100 %: automatic abort, abort at any time, promote --full only after approval', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    // Starting needs no approval here; the move to 100 % always does.
    world = await createWorld({
      config: canaryConfigYaml(
        { dwell: '1s', interval: '300ms', startApproval: false },
        { gateway: { dwell: '60s', interval: '300ms' }, argo: { dwell: '60s', interval: '300ms' } },
      ),
    });
    seedCanaries(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  const debug = (provider: Provider, ts: string) => showOnFailure(world, bot, provider, ts);

  it.concurrent(
    'metrics degrade at 20 %: aborted automatically, weight 0, thread and audit say why with the numbers',
    async () => {
      world.prometheus.set(errorRateQuery('web'), () =>
        canaryWeightNow(world, 'nginx') >= 20 ? 0.09 : 0.001,
      );
      await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
      const plan = await card(world, 'nginx');
      const done = await cardSays(world, 'nginx', plan.ts, /aborted/).catch(debug('nginx', plan.ts));
      expect(done.text).toContain('aborted automatically at 20 %');
      expect(weightPatches(world, 'nginx')).toEqual([5, 20, 0]);
      expect(canaryWeightNow(world, 'nginx')).toBe(0);
      expect(stableImage(world, 'nginx')).toBe(SERVICES.nginx.stable);

      const thread = await waitFor(() => {
        const t = world.slack.transcript(SERVICES.nginx.channel, plan.ts);
        return t.includes('Canary aborted automatically') ? t : undefined;
      });
      expect(thread).toContain('error-rate 0.09 (max 0.005)');
      expect(thread).toContain('failed checks 2 of 2');
      expect(thread).not.toContain('Approval needed');

      const requestId = requestIdOf(plan.blocks);
      const aborted = (await auditRecords(world)).find(
        (r) => r.type === 'canary.aborted' && r.requestId === requestId,
      );
      expect(aborted).toMatchObject({
        outcome: expect.stringContaining('aborted automatically at 20 %') as unknown,
        details: {
          auto: true,
          by: 'backout',
          weight: 20,
          step: 2,
          failedChecks: 2,
          maxFailedChecks: 2,
          lastAnalysis: expect.stringContaining('✗ error-rate 0.09 (max 0.005)') as unknown,
        },
      });
      expect((aborted!.details!.failures as string[])[0]).toMatch(
        /^20 %, round \d+: error-rate 0\.09 \(max 0\.005\)$/,
      );

      // Someone sets the weight by hand after the canary ended: with no canary job, abort files a
      // small canary-abort request (no approval needed) that sets it back to 0.
      world.prod.update('Ingress', NS, 'web-canary', (ing) => {
        ing.metadata!.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '30';
      });
      const { responseUrl } = await slash(bot.client, world, 'nginx', 'abort --reason "hand-set weight"');
      expect(await answerAt(world, responseUrl)).toContain('Returning all traffic to stable');
      await waitFor(() => canaryWeightNow(world, 'nginx') === 0, { what: 'weight back to 0' });
      const again = await slash(bot.client, world, 'nginx', 'abort');
      expect(await answerAt(world, again.responseUrl)).toContain('Nothing was changed');
      await waitFor(async () =>
        (await auditRecords(world)).some(
          (r) =>
            r.type === 'canary.aborted' && r.details?.reason === 'hand-set weight' && r.details.weight === 30,
        ),
      );
    },
  );

  it.concurrent(
    'promote cuts a dwell short; status says where it is; abort at any time returns all traffic to stable',
    async () => {
      await slash(bot.client, world, 'gateway', `start ${SERVICES.gateway.image}`);
      const plan = await card(world, 'gateway');
      await waitFor(() => canaryWeightNow(world, 'gateway') === 5, { what: '5 %' });
      // The dwell is a minute; `promote` asks for the next step now (the job analyses first).
      const skip = await slash(bot.client, world, 'gateway', 'promote');
      expect(await answerAt(world, skip.responseUrl)).toContain('Cutting the dwell at 5 % short');
      await waitFor(() => canaryWeightNow(world, 'gateway') === 20, {
        what: '20 %',
        timeoutMs: 10_000,
      }).catch(debug('gateway', plan.ts));
      // Once the thread says 20 %, the job has started that step's dwell.
      await waitFor(
        () => world.slack.transcript(SERVICES.gateway.channel, plan.ts).includes('*20 %* of traffic'),
        {
          what: '20 % note',
        },
      );
      // The card shows the weight, the step, when the next one is due and the last numbers, with the buttons.
      const live = await cardSays(world, 'gateway', plan.ts, /running/);
      await waitFor(
        () => {
          const blocks = JSON.stringify(world.slack.message(SERVICES.gateway.channel, plan.ts)?.blocks);
          return (
            /at \*20 %\* · step 2 of 4 · next step <!date\^\d+\^\{date_short_pretty\} \{time_secs\}/.test(
              blocks,
            ) && blocks.includes('Last analysis')
          );
        },
        { what: 'the card to show 20 %' },
      );
      const blocks = JSON.stringify(world.slack.message(SERVICES.gateway.channel, live.ts)?.blocks);
      expect(blocks).toContain('error-rate 0.001 (max 0.005)');
      expect(blocks).toContain('backout_promote');
      expect(blocks).toContain('backout_abort');
      const status = await slash(bot.client, world, 'gateway', 'status');
      const said = await answerAt(world, status.responseUrl);
      expect(said).toContain('*20 %* to the canary');
      expect(said).toMatch(/step 2 of 4 at 20 %, next step in (1m|5\ds)/);

      // Abort needs no approval: the requester's rights are enough.
      const abort = await slash(bot.client, world, 'gateway', 'abort --reason "p99 regression"');
      expect(await answerAt(world, abort.responseUrl)).toContain('all traffic returns to stable now');
      const done = await cardSays(world, 'gateway', plan.ts, /aborted/).catch(debug('gateway', plan.ts));
      // The outcome is plain text, escaped on the card and in its notification text alike.
      expect(done.text).toContain(`aborted by <@${PEOPLE.requester}> at 20 %: p99 regression`);
      expect(weightPatches(world, 'gateway')).toEqual([5, 20, 0]);
      const refs = world.prod.get('HTTPRoute', NS, 'api')!.spec.rules![0]!.backendRefs!;
      expect(refs.map((r) => [r.name, r.weight])).toEqual([
        ['api', 100],
        ['api-canary', 0],
      ]);
      const thread = await waitFor(
        () => {
          const t = world.slack.transcript(SERVICES.gateway.channel, plan.ts);
          return t.includes('*Timeline*') && t;
        },
        { what: 'the timeline' },
      );
      expect(thread).toContain(`cut the dwell at 5 % short`);
      // The abort is told once, in its own reply; the step points to it.
      expect(thread.split('*Canary aborted by').length - 1).toBe(1);
      expect(thread).toContain('Aborted by <@U0REQUEST> at 20 %: all traffic is back on stable');
      // The timeline names the requester as a mention, not as an escaped id.
      expect(thread).toContain(`Finished: aborted by <@${PEOPLE.requester}> at 20 %: p99 regression`);
      expect(thread).not.toContain('&lt;@');
    },
  );

  it.concurrent(
    'promote --full skips the remaining steps, but 100 % still waits for an Approve',
    async () => {
      await slash(bot.client, world, 'argo', `start ${SERVICES.argo.image}`);
      const plan = await card(world, 'argo');
      await waitFor(() => canaryWeightNow(world, 'argo') === 5, { what: '5 %' });
      const full = await slash(bot.client, world, 'argo', 'promote --full');
      expect(await answerAt(world, full.responseUrl)).toContain('Skipping the remaining steps');
      const gate = await gateMessage(world, 'argo', plan.ts).catch(debug('argo', plan.ts));
      // Still at 5 %: no promote was sent to the Rollout.
      expect(weightPatches(world, 'argo')).toEqual([]);
      expect(canaryWeightNow(world, 'argo')).toBe(5);
      expect(gate.text).toContain('has 5 % of shop');

      // At the gate, promoting is approving: the requester cannot approve their own canary.
      const own = await slash(bot.client, world, 'argo', 'promote --full');
      expect(await answerAt(world, own.responseUrl)).toContain('two-person rule');

      expect(await click(bot.client, world, 'argo', gate, 'backout_promote', PEOPLE.sre1)).toContain(
        'goes to 100 %',
      );
      await cardSays(world, 'argo', plan.ts, /promoted/).catch(debug('argo', plan.ts));
      expect(weightPatches(world, 'argo')).toEqual([{ status: { promoteFull: true } }]);
      expect(stableImage(world, 'argo')).toBe(SERVICES.argo.image);
    },
  );
});
