import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { UsageRecorder } from '../../src/api-retirement/usage-recorder.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const HOUR = 3_600_000;

describe('/retract api reminders before the sunset, with the current callers', () => {
  let world: World;
  let bot: RunningApp;
  // The sunset an hour from now, and a reminder due a few seconds after the test starts.
  const sunset = new Date(Math.floor((Date.now() + HOUR) / 1000) * 1000);
  const lead = sunset.getTime() - (Date.now() + 12_000);

  beforeAll(async () => {
    world = await createWorld({
      config: (w) => defaultConfigYaml(w, `apiRetirement:\n  warnBefore: [${lead}ms, 30d]\n`),
    });
    bot = await world.start();
  });

  afterAll(async () => {
    await world.close();
  });

  it('posts one reminder in the service channel when it is due, naming who still calls', async () => {
    const responseUrl = world.slack.newResponseUrl();
    await bot.client.command({
      command: '/retract',
      text: `api checkout-api GET /v1/carts/:id --sunset ${sunset.toISOString()} --successor https://x/v2/carts`,
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.incident,
      response_url: responseUrl,
    });
    const card = await waitFor(
      () => world.slack.messages(PEOPLE.incident).find((m) => !m.thread_ts && /Retire API/.test(m.text)),
      { what: 'the plan card' },
    );
    const button = findButton(card.blocks, 'backout_approve');
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.incident,
      messageTs: card.ts,
      actionId: button.actionId,
      value: button.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    const registry = new DeprecationRegistry(world.redis, world.prefix);
    const entry = await waitFor(() => registry.get('checkout-api', 'GET /v1/carts/:id'), {
      what: 'the entry',
    });
    // One caller the reminder should name.
    const recorder = new UsageRecorder({ redis: world.redis, service: 'checkout-api', prefix: world.prefix });
    for (let i = 0; i < 3; i++) recorder.record(entry.id, 'partner-acme', Date.now());
    await recorder.close();

    const scheduled = await waitFor(
      () =>
        world.slack
          .messages(PEOPLE.incident)
          .find((m) => m.thread_ts === card.ts && /reminder scheduled/.test(m.text)),
      { what: 'the schedule step' },
    );
    // The 30-day reminder is already past an hour before the sunset: only one is ahead.
    expect(scheduled.text).toContain(`1 reminder scheduled in <#${PEOPLE.checkout}>`);

    const reminder = await waitFor(
      () => world.slack.messages(PEOPLE.checkout).find((m) => /Sunset in/.test(m.text)),
      { what: 'the reminder', timeoutMs: 30_000 },
    );
    expect(reminder.text).toContain('`GET /v1/carts/:id` of checkout-api');
    expect(reminder.text).toContain('Successor: https://x/v2/carts');
    expect(reminder.text).toContain('Still calling it (last 30 days, 3 requests');
    expect(reminder.text).toContain('• `partner-acme` — 3 requests (100 %)');
    const reminders = () => world.slack.messages(PEOPLE.checkout).filter((m) => /Sunset in/.test(m.text));
    expect(reminders()).toHaveLength(1);
  });
});
