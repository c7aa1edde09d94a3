import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import {
  answerAt,
  canaryConfigYaml,
  card,
  NS,
  SERVICES,
  seedCanaries,
  slash,
  weightPatches,
} from './canary-kit.js';

describe('canary commands that cannot act say why and change nothing', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld({ config: canaryConfigYaml({ dwell: '1s', interval: '300ms' }) });
    seedCanaries(world);
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('refuses unknown services, bad images, a canary of the stable image, and a second canary', async () => {
    const status = await slash(bot.client, world, 'nginx', 'status');
    expect(await answerAt(world, status.responseUrl)).toContain('No canary request is running');
    const typo = await bot.client.command({
      command: '/canary',
      text: 'wbe status',
      user_id: PEOPLE.requester,
      channel_id: SERVICES.nginx.channel,
    });
    expect(typo.body).toContain('Did you mean `web`?');
    const bad = await bot.client.command({
      command: '/canary',
      text: 'web start "not an image"',
      user_id: PEOPLE.requester,
      channel_id: SERVICES.nginx.channel,
    });
    expect(bad.body).toContain('is not an image reference');

    const same = await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.stable}`);
    expect(await answerAt(world, same.responseUrl)).toContain('Stable already runs `shop/web:1.0.0`');

    // Someone set a weight by hand: backout will not start another canary over it.
    world.prod.update('Ingress', NS, 'web-canary', (ing) => {
      ing.metadata!.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '30';
    });
    const busy = await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
    expect(await answerAt(world, busy.responseUrl)).toContain('A canary is already in progress');
    expect(weightPatches(world, 'nginx')).toEqual([]);
  });

  it('holds the target from filing: a second start is refused, and abort withdraws a canary still waiting for approval', async () => {
    const first = await slash(bot.client, world, 'gateway', `start ${SERVICES.gateway.image}`);
    expect(await answerAt(world, first.responseUrl)).toContain('needs approval');
    await card(world, 'gateway');
    const second = await slash(bot.client, world, 'gateway', 'start shop/api:3.0.0', PEOPLE.oncall);
    expect(await answerAt(world, second.responseUrl)).toMatch(
      /api\/production is busy: cn-[a-z0-9]{8} \(Canary shop\/api:2\.0\.0/,
    );
    const promote = await slash(bot.client, world, 'gateway', 'promote');
    expect(await answerAt(world, promote.responseUrl)).toContain('still waiting for approval to start');
    const abort = await slash(bot.client, world, 'gateway', 'abort');
    expect(await answerAt(world, abort.responseUrl)).toContain('Withdrawn. Nothing was changed.');
    expect(weightPatches(world, 'gateway')).toEqual([]);
    expect(world.prod.get('Deployment', NS, 'api-canary')?.spec?.template.spec?.containers[0]?.image).toBe(
      SERVICES.gateway.stable,
    );
  });
});
