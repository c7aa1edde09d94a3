import { afterEach, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, cardText, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const image = (world: World) =>
  world.prod.get('Deployment', 'shop', 'checkout-api')?.spec?.template.spec?.containers[0]?.image;

async function jobsCounted(bot: RunningApp, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${bot.app.port}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('backout_jobs_total{') && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Makes prod's checkout-api an Argo CD Application's, with automated sync and self-heal. */
function ownedByArgo(world: World): void {
  world.prod.update('Deployment', 'shop', 'checkout-api', (d) => {
    d.metadata!.annotations = {
      ...d.metadata!.annotations,
      'argocd.argoproj.io/tracking-id': 'checkout-api:apps/Deployment:shop/checkout-api',
    };
  });
  world.prod.addCustom('Application', {
    metadata: { name: 'checkout-api', namespace: 'argocd' },
    spec: {
      project: 'default',
      source: {
        repoURL: 'https://git.example.com/acme/deploy.git',
        path: 'apps/checkout',
        targetRevision: 'main',
      },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' },
      syncPolicy: { automated: { selfHeal: true, prune: true } },
    },
  });
}

describe('/rollback stays true when others write the same Deployment', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('a template re-applied by argocd-controller during the wait ends the job "overridden", naming it, and nothing says healthy', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 1_000 });
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitFor(() => deploymentPatches(world.prod).some((p) => p.status === 200), { what: 'the patch' });
    // Self-heal puts the bad image straight back.
    world.prod.update(
      'Deployment',
      'shop',
      'checkout-api',
      (d) => {
        d.spec!.template.spec!.containers[0]!.image = 'shop/checkout:1.4.2';
      },
      { manager: 'argocd-controller' },
    );
    await waitCard(world, card, /Overridden/, 30_000);
    const text = cardText(world, card);
    expect(text).toContain(':leftwards_arrow_with_hook:');
    expect(text).toMatch(
      /`argocd-controller` at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ replaced the rolled-back pod template/,
    );
    expect(text).toContain('not revision 2');
    const thread = world.slack.transcript(card.channel, card.ts);
    expect(`${text}\n${thread}`).not.toMatch(/healthy/i);
    expect(thread).not.toContain('back on revision');
    expect(image(world)).toBe('shop/checkout:1.4.2');
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    await waitFor(async () => (await jobsCounted(bot, 'overridden')) === 1, { what: 'overridden counted' });
    expect(await jobsCounted(bot, 'succeeded')).toBe(0);
    expect(await jobsCounted(bot, 'healthy')).toBe(0);
  });

  it('a concurrent `kubectl set image` between the last read and the patch: stale, nothing overwritten', async () => {
    world = await createWorld();
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    world.prod.beforeNext({ method: 'PATCH', pathIncludes: '/deployments/checkout-api' }, () =>
      world.prod.update(
        'Deployment',
        'shop',
        'checkout-api',
        (d) => {
          d.spec!.template.spec!.containers[0]!.image = 'shop/checkout:1.4.3-hotfix';
        },
        { manager: 'kubectl-set' },
      ),
    );
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Failed/, 30_000);
    const text = cardText(world, card);
    expect(text).toContain('plan is stale');
    expect(text).toContain('pod template last written by kubectl-set');
    expect(image(world)).toBe('shop/checkout:1.4.3-hotfix');
    // The one patch that was sent was refused by its precondition; none was applied.
    expect(deploymentPatches(world.prod).map((p) => p.status)).toEqual([422]);
    await waitFor(async () => (await jobsCounted(bot, 'stale')) === 1, { what: 'stale counted' });
  });
});

describe('/rollback of a Deployment a GitOps controller syncs', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('Argo CD with automated sync: refused by default, with why and what to do instead; nothing filed or patched', async () => {
    world = await createWorld();
    ownedByArgo(world);
    const bot = await world.start();
    const answer = await (await run(world, bot, '/rollback', 'checkout-api')).answer();
    expect(answer).toContain(
      'Refused: checkout-api in production is synced by GitOps, which would undo a rollback',
    );
    expect(answer).toContain('Argo CD Application `argocd/checkout-api`');
    expect(answer).toContain('self-heal');
    expect(answer).toContain('git https://git.example.com/acme/deploy.git path apps/checkout at main');
    expect(answer).toContain('revert the change in git');
    expect(answer).toContain('`argocd app set checkout-api --sync-policy none`');
    expect(answer).toContain('`gitops: suspend`');
    expect(deploymentPatches(world.prod)).toHaveLength(0);
    expect(world.prod.patches('Application')).toHaveLength(0);
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(0);
  });

  it('with `gitops: suspend`: the approved job pauses the sync, rolls back, and says what to revert in git and how to resume', async () => {
    world = await createWorld({
      config: (urls) =>
        defaultConfigYaml(urls).replace(
          'rollout: { timeout: 20s }',
          'rollout: { timeout: 20s }\n        gitops: suspend',
        ),
    });
    ownedByArgo(world);
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    const plan = cardText(world, card);
    expect(plan).toContain('*Managed by* Argo CD Application `argocd/checkout-api`');
    expect(plan).toContain('Its automatic sync will be paused first');
    expect(world.prod.patches('Application')).toHaveLength(0);

    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/, 30_000);
    const app = world.prod.get('Application', 'argocd', 'checkout-api');
    expect(app?.spec.syncPolicy).toEqual({});
    expect(world.prod.patches('Application')).toHaveLength(1);
    expect(image(world)).toBe('shop/checkout:1.4.1');
    const thread = await waitFor(
      () => {
        const t = world.slack.transcript(card.channel, card.ts);
        return t.includes('GitOps sync is paused') ? t : undefined;
      },
      { what: 'the resume note' },
    );
    expect(thread).toContain('Argo CD Application `argocd/checkout-api`: automatic sync paused.');
    expect(thread).toContain(
      'in git, set container `app` to `shop/checkout:1.4.1` (now `shop/checkout:1.4.2`) — then resume with `argocd app set checkout-api --sync-policy automated --self-heal --auto-prune`',
    );
    expect(await auditTypes(world)).toContain('gitops.sync-paused');
  });
});
