import { afterEach, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, cardText, click, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';

const NS = 'shop';
const NAME = 'shop-web';

/** checkout-api's production watches the Rollout shop-web, run by its own pipeline. */
const config = (w: { prometheus: string; probe: string }) =>
  defaultConfigYaml(w).replace(
    `        channel: ${PEOPLE.checkout}\n`,
    `        channel: ${PEOPLE.checkout}\n        rolloutGates: { rollouts: [${NAME}], every: 200ms }\n`,
  );

function seedRollout(world: World): void {
  world.prod.addRollout({
    metadata: { name: NAME, namespace: NS },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: NAME } },
      template: {
        metadata: { labels: { app: NAME } },
        spec: { containers: [{ name: 'app', image: 'shop/web:1.0.0' }] },
      },
      strategy: {
        canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }] },
      },
    },
  });
}

/** The pipeline ships a new image; the controller walks to the first `pause: {}`. */
function ship(world: World, image: string): void {
  world.prod.update('Rollout', NS, NAME, (ro) => {
    ro.spec.template!.spec!.containers[0]!.image = image;
  });
}

const rolloutPatches = (world: World) =>
  world.prod
    .patches('Rollout', NAME)
    .map((p) => ({ path: p.path, contentType: p.contentType, body: p.body }));

describe('Argo Rollouts gate', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('a Rollout paused at pause: {} gets one card; Approve sends the plugin promote patch, Abort on the next pause its abort patch', async () => {
    world = await createWorld({ config });
    seedRollout(world);
    const bot = await world.start();
    ship(world, 'shop/web:2.0.0');
    expect(world.prod.get('Rollout', NS, NAME)?.status).toMatchObject({
      currentStepIndex: 1,
      pauseConditions: [expect.objectContaining({ reason: 'CanaryPauseStep' })],
    });

    const first = await cardIn(world);
    expect(first.text).toContain(
      `Promote Rollout ${NS}/${NAME} in production past its pause at step 2 (canary at 20 %)`,
    );
    expect(cardText(world, first)).toContain('Requested by* Argo Rollouts');
    // Repeated scans of the same pause never add a card.
    await waitFor(
      () =>
        world.prod.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/rollouts/${NAME}`))
          .length >= 6
          ? true
          : undefined,
      { what: 'several scans' },
    );
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(1);

    const stranger = await click(world, bot, first, 'backout_approve', PEOPLE.stranger);
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(stranger)[0], { what: 'refusal' })).body),
    ).toContain('not an approver');
    expect(rolloutPatches(world)).toEqual([]);

    await click(world, bot, first, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, first, /Done/);
    expect(rolloutPatches(world)).toEqual([
      {
        path: `/apis/argoproj.io/v1alpha1/namespaces/${NS}/rollouts/${NAME}/status`,
        contentType: 'application/merge-patch+json',
        body: { status: { pauseConditions: null } },
      },
    ]);
    // The controller went on: 60 %, then the next `pause: {}` — a new card.
    const second = await cardIn(world, PEOPLE.checkout, 1);
    expect(second.text).toContain('past its pause at step 4 (canary at 60 %)');
    await click(world, bot, second, 'backout_abort', PEOPLE.requester);
    await waitCard(world, second, /Cancelled/);
    const abort = await cardIn(world, PEOPLE.checkout, 2);
    expect(abort.text).toContain(`Abort Rollout ${NS}/${NAME} in production`);
    await waitCard(world, abort, /Done — aborted by .* at 60 %: all traffic on stable/);
    expect(rolloutPatches(world).slice(1)).toEqual([
      {
        path: `/apis/argoproj.io/v1alpha1/namespaces/${NS}/rollouts/${NAME}/status`,
        contentType: 'application/merge-patch+json',
        body: { status: { abort: true } },
      },
    ]);
    expect(world.prod.get('Rollout', NS, NAME)?.status).toMatchObject({ abort: true, phase: 'Degraded' });
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'request.approved')).toHaveLength(2); // the gate, and the abort (no approval needed)
    expect(types).toContain('request.cancelled');
    expect(types).toContain('canary.aborted');
  });

  it('a pause promoted by hand withdraws its card, and the next pause gets its own', async () => {
    world = await createWorld({ config });
    seedRollout(world);
    await world.start();
    ship(world, 'shop/web:3.0.0');
    const first = await cardIn(world);
    expect(first.text).toContain('past its pause at step 2');
    // Someone runs `kubectl argo rollouts promote` themselves.
    world.prod.update('Rollout', NS, NAME, (ro) => {
      ro.status!.pauseConditions = null as never;
    });
    await waitCard(world, first, /Cancelled/);
    expect(cardText(world, first)).toContain(
      'The Rollout left this pause without backout (now paused at step 4)',
    );
    const second = await cardIn(world, PEOPLE.checkout, 1);
    expect(second.text).toContain('past its pause at step 4 (canary at 60 %)');
    expect(rolloutPatches(world)).toEqual([]);
  });
});
