import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEntry } from '../../src/api-retirement/index.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { RedisProxy } from '../api-retirement/redis-kit.js';

const DAY = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);

describe('/retract api refuses what it should, and changes nothing when it does', () => {
  let world: World;
  let bot: RunningApp;
  let registry: DeprecationRegistry;

  const command = async (text: string, app: RunningApp = bot): Promise<string> => {
    const responseUrl = world.slack.newResponseUrl();
    const ack = await app.client.command({
      command: '/retract',
      text,
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.incident,
      response_url: responseUrl,
    });
    expect(ack.status).toBe(200);
    const ackText = (ack.json as { text?: string } | undefined)?.text ?? '';
    if (!ackText.includes('Working on')) return ackText;
    const answer = await waitFor(() => world.slack.responses(responseUrl)[0], { what: `answer to ${text}` });
    return String(answer.body.text);
  };
  const cards = () => world.slack.messages(PEOPLE.incident).filter((m) => !m.thread_ts);

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
    registry = new DeprecationRegistry(world.redis, world.prefix);
  });
  afterAll(async () => {
    await world.close();
  });

  it.each([
    ['GET /v1/x --sunset 2020-01-01', 'is not in the future'],
    ['GET /v1/x --sunset 2099-01-01T09:00', 'needs a time zone: write 2099-01-01T09:00Z for UTC'],
    ['GET /v1/x --sunset 2099-02-30', 'is not a real date'],
    ['GET /v1/x --sunset 2099-01-01 --delay 45s', 'over the 30s cap'],
    ['GET /v1/x --sunset 2099-01-01 --delay forever', '--delay takes the longest delay'],
    [
      `GET /v1/x --sunset ${day(30)} --brownout "${day(40)}T14:00Z/1h 25%"`,
      `brownout item 1 ("${day(40)}T14:00Z/1h 25%"): ends after the sunset`,
    ],
    [
      'GET /v1/x --sunset 2099-01-01 --brownout "daily 14:00 25%"',
      'expected "HH:MM/<duration>", got "14:00"',
    ],
    ['GET /v1/*/x --sunset 2099-01-01', '"*" is only allowed as the last segment'],
    ['undo GET /v1/nothing', 'checkout-api has no deprecation for `GET /v1/nothing`'],
  ])('`/retract api checkout-api %s` is refused: %s', async (args, message) => {
    const answer = await command(`api checkout-api ${args}`);
    expect(answer).toContain(message);
    expect(cards()).toHaveLength(0);
    expect(await registry.list('checkout-api')).toEqual([]);
  });

  it('refuses a plan that went stale before approval, keeps the other writer’s entry, and frees the service', async () => {
    const sunset = day(90);
    const answer = await command(`api checkout-api GET /v1/stale/* --sunset ${sunset} --reason "v2 is live"`);
    expect(answer).toContain('Filed');
    const card = await waitFor(() => cards().find((m) => /stale/.test(m.text)), { what: 'plan card' });

    // A second change to the same service's registry waits for the first.
    expect(await command(`api checkout-api GET /v1/other --sunset ${sunset}`)).toContain(
      'checkout-api/api is busy',
    );

    // Someone else writes the same endpoint meanwhile.
    const other = buildEntry({
      service: 'checkout-api',
      method: 'GET',
      pattern: '/v1/stale/*',
      deprecatedAt: new Date(),
      sunset: `${sunset}T00:00:00Z`,
      createdBy: PEOPLE.sre2,
      requestId: 'elsewhere',
    });
    if (!other.ok) throw new Error(other.error);
    await registry.put(other.entry);

    const approve = findButton(card.blocks, 'backout_approve');
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.incident,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    const failed = await waitFor(
      () => {
        const m = world.slack.message(PEOPLE.incident, card.ts);
        return m && / — failed/.test(m.text) ? m : undefined;
      },
      { what: 'card says failed' },
    );
    expect(failed.text).toContain(
      'The plan is stale: an entry for `GET /v1/stale/*` of checkout-api was written after this plan was made',
    );
    expect(await registry.get('checkout-api', 'GET /v1/stale/*')).toEqual(other.entry);
    const audit = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    expect(audit.map(([, f]) => (JSON.parse(f[1]!) as { type: string }).type)).not.toContain(
      'registry.changed',
    );

    // The same settings again: nothing to file. Then the service is free for an undo.
    expect(await command(`api checkout-api GET /v1/stale/* --sunset ${sunset}`)).toContain(
      'is already deprecated with exactly these settings',
    );
    expect(await command('api checkout-api undo GET /v1/stale/*')).toContain('Filed');
  });

  it('answers list and usage with "queue unavailable" while Redis is down', async () => {
    const proxy = new RedisProxy();
    await proxy.open();
    const web = await world.start({ REDIS_URL: proxy.url, BACKOUT_ROLE: 'web' });
    try {
      await waitFor(() => web.app.readiness().ready, { what: 'the bot to reach Redis' });
      expect(await command('api payments list', web)).toContain('payments has no deprecated endpoints');
      await proxy.close();
      await waitFor(() => !web.app.readiness().ready, { what: 'the bot to notice Redis is gone' });
      for (const verb of ['list', 'usage']) {
        expect(await command(`api checkout-api ${verb}`, web)).toContain(
          'The queue is unavailable (Redis cannot be reached), so nothing was changed.',
        );
      }
      expect(await command(`api checkout-api GET /v1/x --sunset ${day(30)}`, web)).toContain(
        'The queue is unavailable',
      );
    } finally {
      await web.stop();
      await proxy.close();
    }
  });
});
