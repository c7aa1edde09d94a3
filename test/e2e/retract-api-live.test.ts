import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDeprecationMiddleware,
  type DeprecationMiddleware,
} from '../../src/api-retirement/middleware/index.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { RedisProxy } from '../api-retirement/redis-kit.js';

const DAY = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);

interface Seen {
  status: number;
  deprecation: string | null;
  sunset: string | null;
  link: string | null;
}

describe('/retract api, end to end: Slack → approval → registry → a running service, and back', () => {
  let world: World;
  let bot: RunningApp;
  let proxy: RedisProxy;
  let serviceRedis: Redis;
  let mw: DeprecationMiddleware;
  let server: http.Server;
  let url: string;

  const sunset = day(90);
  const brownoutDay = day(60);

  const call = async (path: string, client?: string): Promise<Seen> => {
    const response = await fetch(`${url}${path}`, client ? { headers: { 'x-client-id': client } } : {});
    await response.arrayBuffer();
    return {
      status: response.status,
      deprecation: response.headers.get('deprecation'),
      sunset: response.headers.get('sunset'),
      link: response.headers.get('link'),
    };
  };

  /**
   * Runs a command in the incident channel (where the cards go) and returns its ephemeral answer;
   * announcements go to the service's own channel.
   */
  const command = async (text: string): Promise<string> => {
    const responseUrl = world.slack.newResponseUrl();
    const ack = await bot.client.command({
      command: '/retract',
      text,
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.incident,
      response_url: responseUrl,
    });
    expect(ack.status).toBe(200);
    const answer = await waitFor(() => world.slack.responses(responseUrl)[0], { what: `answer to ${text}` });
    return String(answer.body.text);
  };

  const cardFor = (title: RegExp) =>
    waitFor(() => world.slack.messages(PEOPLE.incident).find((m) => !m.thread_ts && title.test(m.text)), {
      what: `card ${title}`,
    });

  const approve = async (card: { ts: string; blocks?: unknown[] }) => {
    const button = findButton(card.blocks, 'backout_approve');
    const reply = await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.incident,
      messageTs: card.ts,
      actionId: button.actionId,
      value: button.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    expect(reply.status).toBe(200);
  };

  const auditEvents = async () =>
    (await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+')).map(
      ([, fields]) =>
        JSON.parse(fields[1]!) as { type: string; outcome?: string; details?: Record<string, unknown> },
    );

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
    // The service reaches Redis through a proxy, so the test can take Redis away from it alone.
    proxy = new RedisProxy();
    await proxy.open();
    serviceRedis = new Redis(proxy.url, { retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    serviceRedis.on('error', () => undefined);
    mw = createDeprecationMiddleware({
      redis: serviceRedis,
      service: 'checkout-api',
      prefix: world.prefix,
      clientId: { header: 'x-client-id' },
      usage: { flushIntervalMs: 100, writeTimeoutMs: 500 },
      registry: { loadTimeoutMs: 500, retry: { minMs: 50, maxMs: 200 } },
    });
    expect(await mw.whenReady()).toBe(true);
    server = http.createServer((req, res) =>
      mw.node(req, res, () => {
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await mw.close();
    serviceRedis.disconnect();
    await proxy.close();
    await world.close();
  });

  it('deprecates an endpoint after approval, reaches the service within 2 s, reports its callers, and undoes it', async () => {
    expect((await call('/v1/checkout/cart')).deprecation).toBeNull();

    // 1. The command files a plan; nothing reaches the service before approval.
    const filed = await command(
      `api checkout-api GET /v1/checkout/* --sunset ${sunset} --successor https://api.example.com/v2/checkout ` +
        `--policy https://developer.example.com/deprecations/checkout-v1 --brownout "${brownoutDay}T14:00Z/1h 25%" ` +
        `--delay 2s --reason "v2 is live"`,
    );
    expect(filed).toMatch(/Filed `[^`]+`: Deprecate `GET \/v1\/checkout\/\*` of checkout-api/);
    const card = await cardFor(/Retire API/);
    const plan = JSON.stringify(card.blocks);
    expect(plan).toContain('From approval on');
    expect(plan).toContain(`Sunset: ${new Date(`${sunset}T00:00:00Z`).toUTCString()}`);
    expect(plan).toContain('rel=\\"successor-version\\"');
    expect(plan).toContain('25% refused with 410 Gone');
    expect(plan).toContain('growing linearly to 2s at the sunset');
    expect(plan).toContain('`410 Gone`');
    expect((await call('/v1/checkout/cart')).deprecation).toBeNull();

    // 2. Approval → job → registry → the running service, without a restart.
    await approve(card);
    const approvedAt = performance.now();
    const seen = await waitFor(
      async () => {
        const response = await call('/v1/checkout/cart');
        return response.deprecation ? response : undefined;
      },
      { what: 'deprecation headers on the running service', timeoutMs: 2_000, intervalMs: 20 },
    );
    expect(performance.now() - approvedAt).toBeLessThan(2_000);
    expect(seen.status).toBe(200);
    expect(seen.deprecation).toMatch(/^@\d+$/);
    expect(seen.sunset).toBe(new Date(`${sunset}T00:00:00Z`).toUTCString());
    expect(seen.link).toBe(
      '<https://api.example.com/v2/checkout>; rel="successor-version", <https://developer.example.com/deprecations/checkout-v1>; rel="deprecation"; type="text/html"',
    );
    expect((await call('/v1/orders/1')).deprecation).toBeNull();

    await waitFor(() => /deprecated/.test(world.slack.message(PEOPLE.incident, card.ts)?.text ?? ''), {
      what: 'card done',
    }).catch((err: unknown) => {
      console.log(world.slack.transcript(PEOPLE.incident, card.ts));
      throw err;
    });
    const announcement = await waitFor(
      () => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts && /API deprecation/.test(m.text)),
      { what: 'announcement in the service channel' },
    );
    expect(announcement.text).toContain('`GET /v1/checkout/*` of checkout-api');
    expect(announcement.text).toContain('approved by <@U0SRE1>');
    const written = (await auditEvents()).filter((e) => e.type === 'registry.changed');
    expect(written).toHaveLength(1);
    expect(written[0]?.outcome).toBe('added');
    expect(written[0]?.details?.entry).toMatchObject({
      id: 'GET /v1/checkout/*',
      createdBy: PEOPLE.requester,
    });

    // 3. With Redis away, the service keeps serving with its last known registry.
    await proxy.close();
    await waitFor(() => serviceRedis.status !== 'ready', { what: 'the service to lose Redis' });
    const offline = await call('/v1/checkout/items');
    expect(offline.status).toBe(200);
    expect(offline.deprecation).toBe(seen.deprecation);
    await proxy.open();
    await waitFor(() => serviceRedis.status === 'ready', { what: 'the service to reconnect' });

    // 4. Usage evidence: which clients still call it, how often, when last.
    for (const client of ['mobile-ios', 'mobile-ios', 'mobile-ios', 'partner-acme', 'partner-acme']) {
      await call('/v1/checkout/cart', client);
    }
    await mw.flushUsage();
    const usage = await command('api checkout-api usage');
    expect(usage).toContain('*`GET /v1/checkout/*`*');
    expect(usage).toMatch(
      /`mobile-ios` — 3 requests \([\d.]+ %\), first seen \d{4}-\d\d-\d\d, last seen <!date\^\d+\^/,
    );
    expect(usage).toMatch(/`partner-acme` — 2 requests \([\d.]+ %\), first seen [-\d]+, last seen/);
    const list = await command('api checkout-api list');
    expect(list).toContain('`GET /v1/checkout/*` — :hourglass_flowing_sand: deprecated');
    expect(list).toContain('successor https://api.example.com/v2/checkout');

    // 5. Undo: its own plan and approval; the headers go away within 2 s.
    const undoFiled = await command('api checkout-api undo GET /v1/checkout/*');
    expect(undoFiled).toMatch(/Filed `[^`]+`: Remove the deprecation of `GET \/v1\/checkout\/\*`/);
    const undoCard = await cardFor(/Restore API/);
    expect(JSON.stringify(undoCard.blocks)).toContain('Removes');
    await approve(undoCard);
    const undoneAt = performance.now();
    await waitFor(async () => (await call('/v1/checkout/cart')).deprecation === null, {
      what: 'headers gone',
      timeoutMs: 2_000,
      intervalMs: 20,
    });
    expect(performance.now() - undoneAt).toBeLessThan(2_000);
    await waitFor(
      () =>
        world.slack
          .messages(PEOPLE.checkout)
          .find((m) => !m.thread_ts && /Deprecation withdrawn/.test(m.text)),
      { what: 'withdrawal announcement' },
    );
    await waitFor(
      async () => (await auditEvents()).filter((e) => e.type === 'registry.changed').length === 2,
      {
        what: 'removal audited',
      },
    );
    const removal = (await auditEvents()).filter((e) => e.type === 'registry.changed')[1];
    expect(removal?.outcome).toBe('removed');
    expect(removal?.details?.previous).toMatchObject({ id: 'GET /v1/checkout/*' });
    expect(await command('api checkout-api list')).toContain('checkout-api has no deprecated endpoints');

    // The first card's "Remove this deprecation" button files the same undo; now there is nothing left to remove.
    const done = world.slack.message(PEOPLE.incident, card.ts);
    const remove = findButton(done?.blocks, 'backout_undo');
    expect(remove.text).toBe('Remove this deprecation');
    const clickAnswer = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.requester,
      channel: PEOPLE.incident,
      messageTs: card.ts,
      actionId: remove.actionId,
      value: remove.value,
      responseUrl: clickAnswer,
    });
    const refusal = await waitFor(() => world.slack.responses(clickAnswer)[0], {
      what: 'answer to the click',
    });
    expect(String(refusal.body.text)).toContain(
      'checkout-api has no deprecation for `GET /v1/checkout/*`, so there is nothing to undo',
    );
  });
});
