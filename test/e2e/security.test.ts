import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signSlackRequest } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, SIGNING_SECRET, type RunningApp, type World } from '../kit/world.js';

describe('Slack request authenticity', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  const form = new URLSearchParams({
    command: '/rollback',
    text: 'checkout-api',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
    response_url: 'http://127.0.0.1:9/none',
    trigger_id: '1.2.3',
    team_id: 'T0TEST',
  }).toString();

  async function requestKeys(): Promise<number> {
    const keys = await world.redis.keys(`${world.prefix}:req:*`);
    return keys.length;
  }

  it('/rollback help, signed as Slack signs it, is answered with the help text well under 3 s', async () => {
    // At most the one auth.test of start-up (which workspace backout is installed in).
    await waitFor(() => world.slack.allCallsTo('auth.test').length === 1, { what: 'the start-up auth.test' });
    const res = await bot.client.command({
      command: '/rollback',
      text: 'help',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    expect(res.status).toBe(200);
    expect(res.elapsedMs).toBeLessThan(3000);
    expect(res.body).toContain('/rollback <service>');
    expect(res.body).toContain('checkout-api');
    // Sent whole, with its length: one write with the header, not chunked.
    expect(res.headers?.['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(res.headers).not.toHaveProperty('transfer-encoding');
    // The acknowledgement path makes no Web API call (no auth.test per request).
    expect(world.slack.allCallsTo('auth.test')).toHaveLength(1);
  });

  it('a forged signature is refused with 401; nothing is filed and Slack is not called', async () => {
    const before = world.slack.calls.length;
    const headers = signSlackRequest('not-the-secret', form);
    const res = await fetch(bot.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form,
    });
    expect(res.status).toBe(401);
    expect(await requestKeys()).toBe(0);
    expect(world.slack.calls.length).toBe(before);
  });

  it('a request signed more than 5 minutes ago is refused as a replay', async () => {
    const before = world.slack.calls.length;
    const headers = signSlackRequest(SIGNING_SECRET, form, Math.floor(Date.now() / 1000) - 6 * 60);
    const res = await fetch(bot.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form,
    });
    expect(res.status).toBe(401);
    expect(await requestKeys()).toBe(0);
    expect(world.slack.calls.length).toBe(before);
  });

  it('a request without signature headers is refused', async () => {
    const res = await fetch(bot.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(res.status).toBe(401);
    expect(await requestKeys()).toBe(0);
  });

  it('a body altered after signing is refused', async () => {
    const headers = signSlackRequest(SIGNING_SECRET, form);
    const res = await fetch(bot.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form.replace('checkout-api', 'payments'),
    });
    expect(res.status).toBe(401);
  });

  it('bad input gets a clear message and files nothing', async () => {
    const cases: [string, RegExp][] = [
      ['checkout-apx', /no service called "checkout-apx"\. Did you mean `checkout-api`\?/],
      ['checkout-api --env prodution', /no environment called "prodution"\. Did you mean `production`\?/],
      ['checkout-api --to banana', /--to takes a revision number/],
      ['checkout-api --reason "unterminated', /never closed/],
      ['checkout-api --frobnicate', /Unknown option --frobnicate/],
    ];
    for (const [text, message] of cases) {
      const res = await bot.client.command({
        command: '/rollback',
        text,
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.checkout,
      });
      expect(res.status).toBe(200);
      expect((res.json as { text: string }).text).toMatch(message);
    }
    expect(await requestKeys()).toBe(0);
  });
});
