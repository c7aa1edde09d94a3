import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LaunchDarklyDouble } from '../doubles/launchdarkly.js';
import { alertPayload, WEBHOOK_TOKEN } from '../kit/alerts.js';
import { cardIn, click, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const LD_TOKEN = 'api-0000-backout-test-token';

/** checkout-api's kill switch in LaunchDarkly; the alert rule proposes turning it off. */
const EXTRA = `
alerts:
  rules:
    - name: checkout-kill-switch
      match: { alertname: HighErrorRate }
      service: checkout-api
      propose: flag-off
`;

describe('an alert can propose turning the kill switch off instead of a rollback', () => {
  let ld: LaunchDarklyDouble;
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    ld = await LaunchDarklyDouble.start({ token: LD_TOKEN });
    ld.addFlag('shop', 'new-checkout', { production: true });
    world = await createWorld({
      config: (urls) =>
        defaultConfigYaml(urls, EXTRA).replace(
          '  checkout-api:\n    github: { repo: acme/checkout }',
          '  checkout-api:\n    github: { repo: acme/checkout }\n    flags: { provider: launchdarkly, project: shop, killSwitches: [new-checkout] }',
        ),
    });
    bot = await world.start({
      BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      LAUNCHDARKLY_API_URL: ld.baseUrl,
      LAUNCHDARKLY_API_TOKEN: LD_TOKEN,
    });
  });
  afterAll(async () => {
    await world?.close();
    await ld?.stop();
  });

  it('files the flag-off plan card with the alert on it, and Approve turns the flag off', async () => {
    const res = await fetch(`http://127.0.0.1:${bot.app.port}/hooks/alertmanager`, {
      method: 'POST',
      body: alertPayload('flag-group', 'firing'),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    });
    expect(((await res.json()) as { outcome: string; requestId: string }).requestId).toMatch(/^fl-/);
    const card = await cardIn(world, PEOPLE.checkout);
    const shown = await waitCard(world, card, /HighErrorRate/);
    expect(shown).toContain('Turn flag new-checkout of checkout-api off in production');
    expect(shown).toContain('`new-checkout` *on* → *off*');
    expect(ld.isOn('shop', 'new-checkout', 'production')).toBe(true);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done/);
    expect(ld.isOn('shop', 'new-checkout', 'production')).toBe(false);
    // The Deployment was not touched: the alert asked for the kill switch only.
    expect(
      world.prod.get('Deployment', 'shop', 'checkout-api')?.metadata?.annotations?.[
        'deployment.kubernetes.io/revision'
      ],
    ).toBe('3');
  });

  it('proposes nothing when the kill switch is already off, and says so in the channel', async () => {
    const res = await fetch(`http://127.0.0.1:${bot.app.port}/hooks/alertmanager`, {
      method: 'POST',
      body: alertPayload('flag-group-again', 'firing'),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    });
    const answer = (await res.json()) as { outcome: string; requestId?: string; detail?: string };
    expect(answer.outcome).toBe('not-proposed');
    expect(answer.requestId).toBeUndefined();
    expect(answer.detail).toMatch(/^Flag `new-checkout` of checkout-api in production is already \*?off/);
    const notice = await waitFor(
      () =>
        world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts && /is already \*?off/.test(m.text)),
      { what: 'the not-proposed notice' },
    );
    expect(notice.text).toContain('new-checkout');
    expect(ld.isOn('shop', 'new-checkout', 'production')).toBe(false);
  });
});
