import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { BlackHole } from '../kit/black-hole.js';
import { cardIn, click, run } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { canaryConfigYaml, canaryWeightNow, NS, slash } from './canary-kit.js';

const LEGACY = 'C0LEGACY';

/**
 * One Kubernetes context stops answering (a TCP server that accepts and never replies).
 * Commands about other contexts, help and aborts are not held up by it, and work on it
 * fails at its deadline with an explained, retryable error.
 */
describe('a black-holed Kubernetes context holds up only the targets on it', () => {
  let world: World;
  let bot: RunningApp;
  let hole: BlackHole;

  beforeAll(async () => {
    world = await createWorld({
      seed: false,
      config: (w) =>
        canaryConfigYaml({ dwell: '60s', interval: '1s', startApproval: false })(w) +
        `
  legacy:
    environments:
      production:
        kubernetes: { context: legacy, namespace: ${NS}, deployment: legacy }
        channel: ${LEGACY}
        policy: { approval: required }
`,
    });
    // The canary of `web` (prod context, healthy) stands at 30 %, with no canary job running.
    const k = world.prod;
    for (const name of ['web', 'web-canary']) {
      k.addDeployment({
        namespace: NS,
        name,
        replicas: 2,
        containers: [[{ name: 'app', image: 'shop/web:1' }]],
      });
    }
    const spec = (service: string) => ({
      rules: [
        {
          host: 'web.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix' as const,
                backend: { service: { name: service, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    });
    k.addIngress({ metadata: { name: 'web', namespace: NS }, spec: spec('web') });
    k.addIngress({
      metadata: {
        name: 'web-canary',
        namespace: NS,
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '30',
        },
      },
      spec: spec('web-canary'),
    });
    // `legacy` lives behind a proxy that can turn into a black hole.
    world.staging.addDeployment({
      namespace: NS,
      name: 'legacy',
      replicas: 2,
      containers: [[{ name: 'app', image: 'shop/legacy:1' }], [{ name: 'app', image: 'shop/legacy:2' }]],
    });
    hole = await BlackHole.start({ host: '127.0.0.1', port: Number(new URL(world.staging.url).port) });
    const kubeconfig = join(world.dir, 'kubeconfig-lanes');
    writeKubeconfig(kubeconfig, [
      { name: 'prod', server: world.prod.url },
      // The hole passes TCP through, so TLS runs end to end with the staging double's certificate.
      {
        name: 'legacy',
        server: hole.url().replace(/^http:/, 'https:'),
        ca: world.staging.caPem,
        token: 'token-staging',
      },
    ]);
    bot = await world.start({ KUBECONFIG: kubeconfig, BACKOUT_KUBE_TIMEOUT: '4s' });
  });
  afterAll(async () => {
    await world?.close();
    await hole?.stop();
  });

  it('abort and help answer at once while planning against the dead context waits; its job fails retryably at the deadline', async () => {
    // Planned while the context still answered; approved after it stopped.
    await run(world, bot, '/rollback', 'legacy --reason "bad build"', { channel: LEGACY });
    const card = await cardIn(world, LEGACY);
    hole.swallow();
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);

    // More planning than the context's lane runs at once, all hanging on the dead context (on
    // one read: planning reads of one Deployment are shared while in flight), each in its slot.
    const before = hole.accepted;
    const stuck = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        run(world, bot, '/rollback', `legacy --reason "attempt ${i}"`, { channel: LEGACY }),
      ),
    );
    await waitFor(() => hole.accepted > before, { timeoutMs: 3_000, what: 'planning calls to hang' });

    const started = Date.now();
    const [help] = await Promise.all([
      run(world, bot, '/rollback', 'help', { channel: PEOPLE.random }),
      slash(bot.client, world, 'nginx', 'abort --reason "errors at 30 %"'),
    ]);
    expect(help.ackText).toContain('/rollback');
    expect(Date.now() - started).toBeLessThan(3_000);
    // The abort takes effect (all traffic back on stable) within 5 s of the command.
    await waitFor(() => canaryWeightNow(world, 'nginx') === 0, {
      timeoutMs: Math.max(0, 5_000 - (Date.now() - started)),
      intervalMs: 50,
      what: 'the abort to set the canary weight to 0',
    });
    expect(Date.now() - started).toBeLessThan(5_000);

    // The job on the dead context fails its step with an explained, retryable error.
    const thread = await waitFor(
      () => {
        const t = world.slack.transcript(card.channel, card.ts);
        return /did not answer in time[\s\S]*Retrying automatically \(attempt 2 of \d+\)/.test(t)
          ? t
          : undefined;
      },
      { timeoutMs: 20_000, what: 'the retryable deadline error in the thread' },
    );
    expect(thread).toContain('The Kubernetes API for context legacy did not answer in time');
    expect(thread).toContain('other contexts are not affected');

    // The commands that were planning against it are answered too: the deadline, not a hang.
    const answer = await stuck[0]!.answer();
    expect(answer).toContain('did not answer in time');
    expect(
      world.prod.get('Ingress', NS, 'web-canary')?.metadata?.annotations?.[
        'nginx.ingress.kubernetes.io/canary-weight'
      ],
    ).toBe('0');
  });
});
