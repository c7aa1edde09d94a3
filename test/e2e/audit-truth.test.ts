import { afterEach, describe, expect, it } from 'vitest';
import { auditTypes, cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import {
  canaryConfigYaml,
  canaryWeightNow,
  card as canaryCard,
  cardSays,
  SERVICES,
  seedCanaries,
  slash,
} from './canary-kit.js';

async function answer(world: World, url: string): Promise<string> {
  const r = await waitFor(() => world.slack.responses(url)[0], { what: 'the answer' });
  return JSON.stringify(r.body);
}

const requestIdOf = (card: { blocks?: unknown[] }) =>
  /`(rb-[a-z0-9]{8})`/.exec(JSON.stringify(card.blocks))?.[1] ?? '';

/** Everything Slack holds for a channel: every version of every message, as one string. */
function everythingIn(world: World, channel: string): string {
  return JSON.stringify(world.slack.messages(channel).map((m) => m.history));
}

/** What would ping people or hide a link, if it came out of the hostile reason. */
function hostile(text: string): string[] {
  return [/<!here>/, /<!channel>/, /<https:\/\/evil/, /@here\b/, /@channel\b/, /<@U0VICTIM>/]
    .filter((p) => p.test(text))
    .map(String);
}

const REASON = '<!here> approve at <https://evil.example/x|the runbook> now @channel, cc <@U0VICTIM>';

describe('the audit never contradicts the card; user text never pings anyone', () => {
  let world: World;
  let bot: RunningApp;
  afterEach(async () => {
    await world.close();
  });

  it('a failed audit write during approval: no job runs, the user is told the truth, and a later approval works', async () => {
    world = await createWorld();
    bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api --reason "bad deploy"');
    const card = await cardIn(world);
    const id = requestIdOf(card);
    // The audit stream becomes unwritable (a key of the wrong type).
    const stream = `${world.prefix}:audit:stream`;
    const kept = await world.redis.xrange(stream, '-', '+');
    await world.redis.del(stream);
    await world.redis.set(stream, 'not a stream');

    const said = await answer(world, await click(world, bot, card, 'backout_approve', PEOPLE.sre1));
    expect(said).toMatch(/The audit record \(request\.approved\) could not be written/);
    expect(said).toMatch(/it is still pending\. Nothing was changed\./);
    expect(said).not.toMatch(/Approved\./);
    expect(await world.redis.hget(`${world.prefix}:req:${id}`, 'state')).toBe('pending');
    expect(await world.redis.exists(`${world.prefix}:jobs:${id}`)).toBe(0);
    expect(deploymentPatches(world.prod)).toHaveLength(0);

    // Redis is mended: the same card approves, with its record, and the job runs once.
    await world.redis.del(stream);
    for (const [entryId, fields] of kept) await world.redis.xadd(stream, entryId, ...fields);
    expect(await answer(world, await click(world, bot, card, 'backout_approve', PEOPLE.sre1))).toContain(
      'Approved.',
    );
    await waitCard(world, card, /Done — healthy/);
    expect(deploymentPatches(world.prod)).toHaveLength(1);
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'request.approved')).toHaveLength(1);
    expect(types.indexOf('request.approved')).toBeLessThan(types.indexOf('job.started'));
  });

  it('<!here>, links and mentions in a rollback reason reach the card and thread as harmless text', async () => {
    world = await createWorld();
    bot = await world.start();
    await run(world, bot, '/rollback', `checkout-api --reason "${REASON}"`);
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    const all = everythingIn(world, PEOPLE.checkout);
    expect(all).toContain('&lt;!here&gt; approve at &lt;https://evil.example/x|the runbook&gt;');
    expect(hostile(all)).toEqual([]);
  });

  it('<!here> and a link in a canary abort reason reach the card, the thread and the notes as harmless text', async () => {
    world = await createWorld({
      config: canaryConfigYaml({ dwell: '60s', interval: '300ms', startApproval: false }),
    });
    seedCanaries(world);
    bot = await world.start();
    await slash(bot.client, world, 'gateway', `start ${SERVICES.gateway.image}`);
    const plan = await canaryCard(world, 'gateway');
    await waitFor(() => canaryWeightNow(world, 'gateway') === 5, { what: '5 %' });
    await slash(bot.client, world, 'gateway', `abort --reason "${REASON}"`);
    await cardSays(world, 'gateway', plan.ts, /aborted/);
    await waitFor(
      () => world.slack.transcript(SERVICES.gateway.channel, plan.ts).includes('Canary aborted'),
      { what: 'the abort note' },
    );
    const all = everythingIn(world, SERVICES.gateway.channel);
    expect(all).toContain('&lt;!here&gt; approve at &lt;https://evil.example/x|the runbook&gt;');
    expect(hostile(all)).toEqual([]);
  });
});
