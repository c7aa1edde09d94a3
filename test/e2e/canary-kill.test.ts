import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnBackout, type BotProcess } from '../kit/process.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import {
  answerAt,
  canaryConfigYaml,
  card,
  cardSays,
  click,
  gateMessage,
  SERVICES,
  seedCanaries,
  slash,
  stableImage,
  weightPatches,
} from './canary-kit.js';

const DWELL_MS = 6_000;

describe('the worker is killed during a dwell and restarted', () => {
  let world: World;
  let bot: BotProcess | undefined;

  beforeAll(async () => {
    // One analysis round per dwell, and dwells longer than the runner's in-process waits:
    // each dwell is a BullMQ delayed job, so no worker is held while it runs.
    world = await createWorld({
      config: canaryConfigYaml({ dwell: '6s', interval: '6s', startApproval: false }),
    });
    seedCanaries(world);
  });
  afterAll(async () => {
    await bot?.crash();
    await world.close();
  });

  it(
    'resumes the schedule where it was: no step repeated or skipped, and the dwell is kept',
    { timeout: 180_000 },
    async () => {
      bot = await spawnBackout(world);
      const { responseUrl } = await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
      expect(await answerAt(world, responseUrl)).toContain('Started');
      const plan = await card(world, 'nginx');
      const requestId = /`(cn-[a-z0-9]{8})`/.exec(JSON.stringify(plan.blocks))![1]!;

      // At 20 %, once the job has handed itself back to BullMQ for the dwell: kill the process.
      await waitFor(() => weightPatches(world, 'nginx').length === 2, {
        what: 'the 20 % patch',
        timeoutMs: 30_000,
      });
      await waitFor(
        async () => (await world.redis.zscore(`${world.prefix}:jobs:delayed`, requestId)) !== null,
        {
          what: 'the canary job to wait as a delayed job',
        },
      );
      const twentyAt = world.prod.patches('Ingress', 'web-canary')[1]!.at;
      await bot.crash();
      expect(Date.now() - twentyAt).toBeLessThan(DWELL_MS);
      expect(weightPatches(world, 'nginx')).toEqual([5, 20]);

      bot = await spawnBackout(world);
      // A thread reply whose post was cut off by the kill is in doubt: its thread waits up to a
      // minute (the notifier's settle window) for it to land before posting it again, in order.
      const gate = await gateMessage(world, 'nginx', plan.ts, 100_000);
      expect(weightPatches(world, 'nginx')).toEqual([5, 20, 50]);
      const fiftyAt = world.prod.patches('Ingress', 'web-canary')[2]!.at;
      // The 20 % dwell was served in full, and not started over.
      expect(fiftyAt - twentyAt).toBeGreaterThanOrEqual(DWELL_MS);
      expect(fiftyAt - twentyAt).toBeLessThan(2 * DWELL_MS);

      expect(await click(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.sre1)).toContain(
        'goes to 100 %',
      );
      await cardSays(world, 'nginx', plan.ts, /promoted/, 60_000);
      expect(weightPatches(world, 'nginx')).toEqual([5, 20, 50, 0]);
      expect(stableImage(world, 'nginx')).toBe(SERVICES.nginx.image);
      const notes = world.slack
        .thread(SERVICES.nginx.channel, plan.ts)
        .filter((m) => m.text.startsWith(':arrow_right:'));
      expect(notes.map((m) => /\*(\d+) %\*/.exec(m.text)?.[1])).toEqual(['5', '20', '50']);
    },
  );
});
