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
  NS,
  SERVICES,
  seedCanaries,
  slash,
} from './canary-kit.js';

const UNDO = 'kubectl argo rollouts --context prod -n shop undo shop';
const RETRY = 'kubectl argo rollouts --context prod -n shop retry rollout shop';

describe('Argo Rollouts: an abort says the truth about the Degraded Rollout, and never reports a no-op it did not check', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({
      config: canaryConfigYaml({ dwell: '60s', interval: '300ms', startApproval: false }),
    });
    seedCanaries(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('an aborted canary stays Degraded with the new template: the thread and status say so and what to run', async () => {
    const { image } = SERVICES.argo;
    await slash(bot.client, world, 'argo', `start ${image}`);
    const plan = await card(world, 'argo');
    await waitFor(() => canaryWeightNow(world, 'argo') === 5, { what: '5 %' });
    const abort = await slash(bot.client, world, 'argo', 'abort --reason "latency"');
    expect(await answerAt(world, abort.responseUrl)).toContain('all traffic returns to stable now');
    await cardSays(world, 'argo', plan.ts, /aborted/);
    const ro = world.prod.get('Rollout', NS, 'shop')!;
    expect(ro.status).toMatchObject({ abort: true, phase: 'Degraded' });
    expect(ro.spec?.template?.spec?.containers[0]?.image).toBe(image);
    const thread = await waitFor(() => {
      const t = world.slack.transcript(SERVICES.argo.channel, plan.ts);
      return t.includes('Canary aborted by') ? t : undefined;
    });
    expect(thread).toContain(
      `stays *Degraded* (RolloutAborted) with \`${image}\` still in its spec.template`,
    );
    expect(thread).toContain(UNDO);
    expect(thread).toContain(RETRY);

    const status = await slash(bot.client, world, 'argo', 'status');
    const said = await answerAt(world, status.responseUrl);
    expect(said).toContain('Degraded');
    expect(said).toContain(UNDO);
  });

  it('with the controller behind a new template, abort waits until it observes it, then really aborts', async () => {
    // Back to a healthy Rollout on stable, as `undo` leaves it.
    world.prod.update('Rollout', NS, 'shop', (ro) => {
      ro.spec.template!.spec!.containers[0]!.image = SERVICES.argo.stable;
    });
    await waitFor(() => world.prod.get('Rollout', NS, 'shop')?.status?.phase === 'Healthy', {
      what: 'Healthy on stable',
    });
    // A pipeline sets a new image while the controller is behind: status still says "fully promoted".
    world.prod.holdRollout(NS, 'shop', true);
    world.prod.update(
      'Rollout',
      NS,
      'shop',
      (ro) => {
        ro.spec.template!.spec!.containers[0]!.image = 'shop/shop:9.9.9';
      },
      { manager: 'deploy-pipeline' },
    );
    const abort = await slash(bot.client, world, 'argo', 'abort --reason "not this one"', PEOPLE.oncall);
    expect(await answerAt(world, abort.responseUrl)).toContain('Returning all traffic to stable');
    const request = await waitFor(
      () =>
        world.slack
          .messages(SERVICES.argo.channel)
          .find((m) => !m.thread_ts && m.text.includes('Return all traffic of shop')),
      { what: 'the abort card' },
    );
    // While the controller has not observed the template, nothing is patched and nothing is "done".
    await waitFor(() => world.slack.thread(SERVICES.argo.channel, request.ts).length > 0, {
      what: 'the abort step to start',
    });
    const since = world.prod.patches('Rollout', 'shop').length;
    expect(world.slack.message(SERVICES.argo.channel, request.ts)?.text).not.toMatch(/done|no-op/);
    world.prod.holdRollout(NS, 'shop', false);
    const done = await cardSays(world, 'argo', request.ts, /done/);
    // The outcome is plain text, escaped like every outcome (see canary-abort).
    expect(done.text).toContain(`aborted by <@${PEOPLE.oncall}>`);
    expect(done.text).not.toContain('no-op');
    expect(
      world.prod
        .patches('Rollout', 'shop')
        .slice(since)
        .map((p) => p.body),
    ).toEqual([{ status: { abort: true } }]);
    expect(world.prod.get('Rollout', NS, 'shop')!.status).toMatchObject({ abort: true, phase: 'Degraded' });
    const audit = (await auditRecords(world)).filter(
      (r) => r.type === 'canary.aborted' && r.details?.reason === 'not this one',
    );
    expect(audit).toHaveLength(1);
  });
});
