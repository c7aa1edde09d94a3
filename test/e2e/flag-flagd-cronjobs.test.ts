import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

/** flagd flags in an OpenFeature Operator FeatureFlag, and two CronJobs; turning off needs no approval. */
const RECO = `
  reco-api:
    flags: { provider: flagd, featureFlag: reco-flags, killSwitches: [new-reco] }
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        cronJobs: [nightly-reindex, hourly-digest]
        policy: { flagOff: not-required }
`;

function cronJob(name: string, suspend: boolean) {
  return {
    metadata: { name, namespace: 'shop' },
    spec: {
      schedule: '0 * * * *',
      suspend,
      jobTemplate: {
        spec: {
          template: {
            spec: {
              restartPolicy: 'OnFailure' as const,
              containers: [{ name: 'job', image: 'shop/reco:1.0' }],
            },
          },
        },
      },
    },
  };
}

describe("/flag on flagd's FeatureFlag and on CronJobs", () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({ config: (urls) => defaultConfigYaml(urls, RECO) });
    world.prod.addFeatureFlag({
      metadata: { name: 'reco-flags', namespace: 'shop' },
      spec: {
        flagSpec: {
          flags: {
            'new-reco': {
              state: 'ENABLED',
              variants: { on: true, off: false, shadow: true },
              defaultVariant: 'shadow',
            },
          },
        },
      },
    });
    world.prod.addCronJob(cronJob('nightly-reindex', false));
    world.prod.addCronJob(cronJob('hourly-digest', true));
    bot = await world.start();
  });
  afterAll(async () => {
    await world?.close();
  });

  const flag = () => world.prod.get('FeatureFlag', 'shop', 'reco-flags')?.spec?.flagSpec.flags['new-reco'];
  const suspended = (name: string) => world.prod.get('CronJob', 'shop', name)?.spec?.suspend;

  it("flips the flag's defaultVariant to off with a merge patch at once, and Undo restores the exact variant it had", async () => {
    await run(world, bot, '/flag', 'reco-api new-reco off');
    const card = await cardIn(world);
    const done = await waitCard(world, card, /Done/);
    expect(done).toContain('`new-reco` *on* (defaultVariant `shadow`) → *off* (defaultVariant `off`)');
    expect(flag()).toMatchObject({ defaultVariant: 'off', state: 'ENABLED' });
    const patches = world.prod.patches('FeatureFlag', 'reco-flags');
    expect(patches).toHaveLength(1);
    expect(patches[0]?.contentType).toBe('application/merge-patch+json');

    await click(world, bot, card, 'backout_undo', PEOPLE.requester);
    const undo = await cardIn(world, PEOPLE.checkout, 1);
    await click(world, bot, undo, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, undo, /Done/);
    // Not the configured on variant: exactly what was there before.
    expect(flag()).toMatchObject({ defaultVariant: 'shadow', state: 'ENABLED' });
  });

  it('suspends the CronJobs and resumes only what it suspended', async () => {
    await run(world, bot, '/flag', 'reco-api cronjobs off --reason "reindex hammers the DB"');
    const card = await cardIn(world, PEOPLE.checkout, 2);
    const done = await waitCard(world, card, /Done/);
    expect(done).toContain('`nightly-reindex` *on* → *off*');
    expect(done).toContain('`hourly-digest` *off* → *off* (already so, unchanged)');
    expect(suspended('nightly-reindex')).toBe(true);
    expect(suspended('hourly-digest')).toBe(true);
    expect(world.prod.patches('CronJob', 'hourly-digest')).toHaveLength(0);

    await click(world, bot, card, 'backout_undo', PEOPLE.requester);
    const undo = await cardIn(world, PEOPLE.checkout, 3);
    await click(world, bot, undo, 'backout_approve', PEOPLE.sre2);
    await waitCard(world, undo, /Done/);
    expect(suspended('nightly-reindex')).toBe(false);
    // It was suspended before the mitigation, so it stays suspended.
    expect(suspended('hourly-digest')).toBe(true);
  });

  it('refuses a service without CronJobs, a flag without the off variant, and changes nothing', async () => {
    const none = await run(world, bot, '/flag', 'checkout-api cronjobs off');
    expect(none.ackText).toContain('checkout-api in production has no CronJobs configured to suspend');
    world.prod.update('FeatureFlag', 'shop', 'reco-flags', (ff) => {
      ff.spec!.flagSpec.flags['new-reco'] = {
        state: 'ENABLED',
        variants: { enabled: true },
        defaultVariant: 'enabled',
      };
    });
    const before = world.prod.patches('FeatureFlag').length;
    const noVariant = await run(world, bot, '/flag', 'reco-api new-reco off');
    expect(await noVariant.answer()).toContain('has no variant `off`');
    // The refusal is answered after planning, where a card would have been posted first.
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(4);
    expect(world.prod.patches('FeatureFlag')).toHaveLength(before);
  });
});
