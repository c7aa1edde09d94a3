import { request } from 'node:https';
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
  gateMessage,
  NS,
  SERVICES,
  showOnFailure,
  seedCanaries,
  slash,
  weightPatches,
  type Provider,
} from './canary-kit.js';

/** A JSON merge patch sent straight to the Kubernetes double, as another tool would, under its own field manager. */
function patchAs(
  world: World,
  path: string,
  body: object,
  manager = 'kubectl-argo-rollouts',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${world.prod.url}${path}?fieldManager=${manager}`,
      {
        method: 'PATCH',
        ca: world.prod.caPem,
        headers: { 'Content-Type': 'application/merge-patch+json', Authorization: 'Bearer token-prod' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const requestIdOf = (blocks: unknown) => /`(cn-[a-z0-9]{8})`/.exec(JSON.stringify(blocks))?.[1];
const AT = /at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/;

describe('canary weights changed behind backout’s back: the canary stops as overridden, naming who and when', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({
      config: canaryConfigYaml(
        { dwell: '60s', interval: '300ms', startApproval: false },
        { gateway: { dwell: '300ms', interval: '300ms' } },
      ),
    });
    seedCanaries(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  const debug = (provider: Provider, ts: string) => showOnFailure(world, undefined, provider, ts);

  /** The request's audit: no success, and a failure counted as overridden. */
  async function auditSaysOverridden(blocks: unknown): Promise<void> {
    const id = requestIdOf(blocks);
    const audit = await waitFor(async () => {
      const mine = (await auditRecords(world)).filter((r) => r.requestId === id);
      return mine.some((r) => r.type === 'job.failed') ? mine : undefined;
    });
    expect(audit.find((r) => r.type === 'job.succeeded')).toBeUndefined();
    expect(audit.find((r) => r.type === 'job.failed')).toMatchObject({
      details: { verdict: 'overridden' },
    });
  }

  it.concurrent('NGINX: someone sets canary-weight 30 during the 20 % dwell', async () => {
    await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
    const plan = await card(world, 'nginx');
    await waitFor(() => canaryWeightNow(world, 'nginx') === 5, { what: '5 %' });
    const skip = await slash(bot.client, world, 'nginx', 'promote');
    expect(await answerAt(world, skip.responseUrl)).toContain('Cutting the dwell');
    await waitFor(
      () => world.slack.transcript(SERVICES.nginx.channel, plan.ts).includes('*20 %* of traffic'),
      { what: 'the 20 % dwell', timeoutMs: 10_000 },
    );
    world.prod.update(
      'Ingress',
      NS,
      'web-canary',
      (ing) => {
        ing.metadata!.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '30';
      },
      { manager: 'kubectl-edit' },
    );
    const done = await cardSays(world, 'nginx', plan.ts, /overridden/).catch(debug('nginx', plan.ts));
    expect(done.text).toContain('30 % of traffic goes to the canary, not the 20 % backout set');
    expect(done.text).toContain('`kubectl-edit`');
    expect(done.text).toMatch(AT);
    expect(done.text).not.toMatch(/promoted|healthy/i);
    // backout does not fight the other writer: the weight stays as they left it.
    expect(weightPatches(world, 'nginx')).toEqual([5, 20]);
    expect(canaryWeightNow(world, 'nginx')).toBe(30);
    await auditSaysOverridden(plan.blocks);
    const thread = world.slack.transcript(SERVICES.nginx.channel, plan.ts);
    expect(thread).toContain('/canary web --env production abort');

    // What to do next works: abort returns all traffic to stable.
    const abort = await slash(bot.client, world, 'nginx', 'abort --reason "after override"');
    expect(await answerAt(world, abort.responseUrl)).toContain('Returning all traffic to stable');
    await waitFor(() => canaryWeightNow(world, 'nginx') === 0, { what: 'weight back to 0' });
  });

  it.concurrent(
    'Gateway API: a GitOps controller re-applies 100/0 while the canary waits for approval',
    async () => {
      await slash(bot.client, world, 'gateway', `start ${SERVICES.gateway.image}`);
      const plan = await card(world, 'gateway');
      const gate = await gateMessage(world, 'gateway', plan.ts).catch(debug('gateway', plan.ts));
      world.prod.update(
        'HTTPRoute',
        NS,
        'api',
        (route) => {
          route.spec.rules![0]!.backendRefs = [
            { name: 'api', port: 80, weight: 100 },
            { name: 'api-canary', port: 80, weight: 0 },
          ];
        },
        { manager: 'argocd-controller' },
      );
      const done = await cardSays(world, 'gateway', plan.ts, /overridden/).catch(debug('gateway', plan.ts));
      expect(done.text).toContain('0 % of traffic goes to the canary, not the 50 % backout set');
      expect(done.text).toContain('`argocd-controller`');
      expect(done.text).toMatch(AT);
      // The approval gate is closed: nobody can approve a canary that is no longer backout's.
      const closed = await waitFor(() => {
        const m = world.slack.message(SERVICES.gateway.channel, gate.ts);
        return m?.text.includes('Overridden') ? m : undefined;
      });
      expect(JSON.stringify(closed.blocks)).not.toContain('backout_promote');
      expect(weightPatches(world, 'gateway')).toEqual([5, 20, 50]);
      await auditSaysOverridden(plan.blocks);
    },
  );

  it.concurrent('Argo Rollouts: someone runs the plugin’s promote during the 5 % dwell', async () => {
    await slash(bot.client, world, 'argo', `start ${SERVICES.argo.image}`);
    const plan = await card(world, 'argo');
    await waitFor(() => canaryWeightNow(world, 'argo') === 5, { what: '5 %' });
    await waitFor(() => world.slack.transcript(SERVICES.argo.channel, plan.ts).includes('*5 %* of traffic'), {
      what: '5 % note',
    });
    const before = world.prod.patches('Rollout', 'shop').length;
    // What `kubectl argo rollouts promote shop` sends: a merge patch on the status subresource.
    const status = await patchAs(world, '/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/shop/status', {
      status: { pauseConditions: null, currentStepIndex: 2 },
    });
    expect(status).toBe(200);
    await waitFor(() => canaryWeightNow(world, 'argo') > 5, { what: 'the controller past 5 %' });
    const done = await cardSays(world, 'argo', plan.ts, /overridden/).catch(debug('argo', plan.ts));
    expect(done.text).toMatch(/[1-9]\d % of traffic goes to the canary, not the 5 % backout set/);
    expect(done.text).toContain('`kubectl-argo-rollouts`');
    // After the plugin's patch, backout sent nothing more to the Rollout.
    expect(
      world.prod
        .patches('Rollout', 'shop')
        .slice(before)
        .map((p) => p.manager),
    ).toEqual(['kubectl-argo-rollouts']);
    await auditSaysOverridden(plan.blocks);
  });
});

describe('a weight changed during promotion stops it as overridden; nothing reports success', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({
      config: canaryConfigYaml({ dwell: '300ms', interval: '300ms', startApproval: false }),
    });
    seedCanaries(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('NGINX: a pipeline sets canary-weight 100 while stable rolls out', async () => {
    world.prod.setRollout(NS, 'web', { mode: 'converge', tickMs: 1_000 });
    await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
    const plan = await card(world, 'nginx');
    const gate = await gateMessage(world, 'nginx', plan.ts);
    expect(await click(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.sre1)).toContain(
      'goes to 100 %',
    );
    await waitFor(
      () =>
        world.prod.get('Deployment', NS, 'web')?.spec?.template.spec?.containers[0]?.image ===
        SERVICES.nginx.image,
      { what: 'stable to take the new pod spec' },
    );
    world.prod.update(
      'Ingress',
      NS,
      'web-canary',
      (ing) => {
        ing.metadata!.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '100';
      },
      { manager: 'deploy-pipeline' },
    );
    const done = await cardSays(world, 'nginx', plan.ts, /overridden/).catch((err: unknown) => {
      console.log(world.slack.transcript(SERVICES.nginx.channel, plan.ts));
      throw err;
    });
    expect(done.text).toContain('100 % of traffic goes to the canary, not the 50 % backout set');
    expect(done.text).toContain('`deploy-pipeline`');
    expect(done.text).not.toContain('promoted');
    expect(weightPatches(world, 'nginx')).toEqual([5, 20, 50]);
    const id = requestIdOf(plan.blocks);
    const audit = await waitFor(async () => {
      const mine = (await auditRecords(world)).filter((r) => r.requestId === id);
      return mine.some((r) => r.type === 'job.failed') ? mine : undefined;
    });
    expect(audit.some((r) => r.type === 'job.succeeded')).toBe(false);
  });
});
