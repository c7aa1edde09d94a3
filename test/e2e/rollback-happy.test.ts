import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';

describe('a rollback travels the whole path: signed command → plan card → approval → job → thread', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
  });
  afterAll(async () => {
    await world.close();
  });

  it('files the plan, refuses the requester and a stranger, runs after an SRE approves, and ends healthy', async () => {
    const ack = await bot.client.command({
      command: '/rollback',
      text: 'checkout-api --reason "5xx spike after 1.4.2"',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    expect(ack.status).toBe(200);
    const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
      what: 'plan card',
    });
    expect(JSON.stringify(card.blocks)).toContain('shop/checkout:1.4.2');
    const approve = findButton(card.blocks, 'backout_approve');

    const self = await bot.client.blockAction({
      user: PEOPLE.requester,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    expect(self.status).toBe(200);
    const stranger = world.slack.newResponseUrl();
    await bot.client.blockAction({
      user: PEOPLE.stranger,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: stranger,
    });
    const refusal = await waitFor(() => world.slack.responses(stranger)[0], { what: 'refusal to stranger' });
    expect(JSON.stringify(refusal.body)).toContain('U0SRE1');

    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    const done = await waitFor(
      () => {
        const m = world.slack.message(PEOPLE.checkout, card.ts);
        return m && /healthy/.test(m.text) ? m : undefined;
      },
      { what: 'card says healthy', timeoutMs: 30_000 },
    ).catch((err: unknown) => {
      console.log(world.slack.transcript(PEOPLE.checkout, card.ts));
      console.log(bot.logs.filter((l) => !l.includes('"level":"debug"')).join(''));
      throw err;
    });
    expect(done.text).toContain('healthy');
    const d = world.prod.get('Deployment', 'shop', 'checkout-api');
    expect(d?.spec?.template.spec?.containers[0]?.image).toBe('shop/checkout:1.4.1');
    console.log(world.slack.transcript(PEOPLE.checkout, card.ts));
  });
});
