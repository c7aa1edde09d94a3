import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import {
  answerAt,
  canaryConfigYaml,
  canaryWeightNow,
  card,
  click,
  gateMessage,
  SERVICES,
  seedCanaries,
  slash,
  threadReply,
} from './canary-kit.js';

/** `2026-12-06T07:41` in Europe/Berlin for an instant. */
function berlinWall(ms: number): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    })
      .formatToParts(ms)
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

async function auditTypes(world: World): Promise<string[]> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  return entries.map(([, f]) => (JSON.parse(f[1]!) as { type: string }).type);
}

describe('change windows', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('a deny window refuses the promotion to 100 % and a canary start, naming the window and when changes reopen', async () => {
    world = await createWorld({
      config: canaryConfigYaml({ dwell: '1s', interval: '300ms', startApproval: false, steps: [5, 100] }),
    });
    seedCanaries(world);
    const before = await world.start();
    const started = await slash(before.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
    expect(await answerAt(world, started.responseUrl)).toContain('Started');
    const plan = await card(world, 'nginx');
    const gate = await gateMessage(world, 'nginx', plan.ts);

    // The release managers roll out a daily deny window that began a minute ago (Berlin time)
    // and lasts ten minutes; a replica with that config answers the Promote click.
    const opened = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const reopens = opened + 10 * 60_000;
    const config = await readFile(world.configPath, 'utf8');
    await writeFile(
      world.configPath,
      config.replace(
        'services:',
        `windows:\n  - { name: evening-peak, kind: deny, rrule: "FREQ=DAILY", dtstart: "${berlinWall(opened)}", duration: 10m, timeZone: Europe/Berlin, environments: [production] }\nservices:`,
      ),
    );
    const after = await world.start();
    const refused = await click(after.client, world, 'nginx', gate, 'backout_promote', PEOPLE.sre1);
    const token = `<!date^${reopens / 1000}^`;
    expect(refused).toContain(
      'Promoting the canary of web to 100 % was refused: the evening-peak deny window',
    );
    expect(refused).toContain(`in force until ${token}`);
    expect(refused).toContain(`Changes reopen ${token}`);
    expect(refused).toContain('Nothing was changed.');

    // A new canary start is refused the same way, before any card or lock.
    const start = await slash(after.client, world, 'gateway', `start ${SERVICES.gateway.image}`);
    expect(await answerAt(world, start.responseUrl)).toMatch(
      /Starting a canary of api in production was refused: the evening-peak deny window .* Changes reopen <!date\^/,
    );
    expect(world.slack.messages(SERVICES.gateway.channel)).toHaveLength(0);

    // The canary still waits at its gate at 5 %; nobody recorded a promotion.
    expect(canaryWeightNow(world, 'nginx')).toBe(5);
    expect(await auditTypes(world)).not.toContain('canary.promotion-approved');
  });

  it('a window with automated: true holds a running canary before its next step and says until when', async () => {
    world = await createWorld({
      config: canaryConfigYaml({ dwell: '1s', interval: '300ms', startApproval: false, steps: [5, 100] }),
    });
    seedCanaries(world);
    // The web replica files the canary; the worker replica, already on the new config with an
    // automated deny window, runs it.
    const web = await world.start({ BACKOUT_ROLE: 'web' });
    const opened = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const config = await readFile(world.configPath, 'utf8');
    await writeFile(
      world.configPath,
      config.replace(
        'services:',
        `windows:\n  - { name: night-batch, kind: deny, rrule: "FREQ=DAILY", dtstart: "${berlinWall(opened)}", duration: 30m, timeZone: Europe/Berlin, automated: true }\nservices:`,
      ),
    );
    await world.start({ BACKOUT_ROLE: 'worker' });
    const started = await slash(web.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
    expect(await answerAt(world, started.responseUrl)).toContain('Started');
    const plan = await card(world, 'nginx');
    const held = await threadReply(world, 'nginx', plan.ts, 'holds automated moves', 'the hold note');
    expect(held.text).toContain(
      `The next step (5 %) waits: the night-batch deny window holds automated moves until <!date^${(opened + 30 * 60_000) / 1000}^`,
    );
    expect(held.text).toContain('The canary stays at 0 %; abort stays possible.');
    expect(canaryWeightNow(world, 'nginx')).toBe(0);
  });
});
