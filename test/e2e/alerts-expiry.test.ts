import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_RULES, alertPayload, WEBHOOK_TOKEN } from '../kit/alerts.js';
import { cardIn, click, waitCard } from '../kit/flows.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

describe('an alert group whose proposal nobody decided on', () => {
  let world: World;
  let bot: RunningApp;
  const deliver = (groupKey: string) =>
    fetch(`http://127.0.0.1:${bot.app.port}/hooks/alertmanager`, {
      method: 'POST',
      body: alertPayload(groupKey, 'firing'),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    }).then(async (r) => (await r.json()) as { outcome: string; requestId?: string });

  beforeAll(async () => {
    world = await createWorld({
      config: (urls) => defaultConfigYaml(urls, ALERT_RULES).replace('approvalTtl: 15m', 'approvalTtl: 4s'),
    });
    bot = await world.start({ BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
  });
  afterAll(async () => {
    await world.close();
  });

  it('is proposed afresh when it still fires after the proposal expired; a rejected one is not', async () => {
    const first = await deliver('g-expiry');
    expect(first.outcome).toBe('proposed');
    const card = await cardIn(world, PEOPLE.checkout);
    await waitCard(world, card, /Expired/, 15_000);

    const again = await deliver('g-expiry');
    expect(again.outcome).toBe('proposed');
    expect(again.requestId).not.toBe(first.requestId);
    const second = await cardIn(world, PEOPLE.checkout, 1);
    const shown = await waitCard(world, second, /HighErrorRate/);
    // A fresh proposal counts its own notifications.
    expect(shown).not.toContain('Notified');

    await click(world, bot, second, 'backout_reject', PEOPLE.sre1);
    await waitCard(world, second, /Rejected/);
    expect((await deliver('g-expiry')).outcome).toBe('updated');
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(2);
  });
});
