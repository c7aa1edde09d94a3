import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerServer } from '../kit/alertmanager-server.js';
import { ALERT_RULES, WEBHOOK_TOKEN } from '../kit/alerts.js';
import { auditTypes, cardIn, cardText, click, waitCard } from '../kit/flows.js';
import { Exporter, PrometheusServer } from '../kit/prometheus-server.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const RULE_FILE = `
groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: HighErrorRate
        expr: checkout_error_ratio > 0.05
        labels: { severity: critical, service: checkout-api, environment: production }
        annotations: { value: "{{ $value }}", summary: "5xx ratio above 5 %" }
`;

describe('a real Alertmanager, fed by a real Prometheus, proposes a rollback through /hooks/alertmanager', () => {
  let world: World;
  let bot: RunningApp;
  let exporter: Exporter;
  let alertmanager: AlertmanagerServer;
  let prometheus: PrometheusServer;
  let hook: string;

  beforeAll(async () => {
    world = await createWorld({ config: (w) => defaultConfigYaml(w, ALERT_RULES) });
    bot = await world.start({ BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
    hook = `http://127.0.0.1:${bot.app.port}/hooks/alertmanager`;
    exporter = await Exporter.start();
    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.001);
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.001);
    alertmanager = await AlertmanagerServer.start({ url: hook, token: WEBHOOK_TOKEN });
    prometheus = await PrometheusServer.start([exporter.target], {
      rules: RULE_FILE,
      alertmanager: alertmanager.target,
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([prometheus?.stop(), alertmanager?.stop(), exporter?.stop()]);
    await world.close();
  });

  it('refuses a webhook without the token, or with another, and files nothing', async () => {
    const body = JSON.stringify({ version: '4', groupKey: 'x', status: 'firing', alerts: [] });
    const none = await fetch(hook, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(none.status).toBe(401);
    const wrong = await fetch(hook, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/nothing was done/);
    expect(world.slack.messages(PEOPLE.checkout)).toHaveLength(0);
    expect(await auditTypes(world)).toEqual([]);
  });

  it('proposes one card, updates it on the next notification and on resolution, and Approve rolls back', async () => {
    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.2);
    const card = await cardIn(world, PEOPLE.checkout, 0, 40_000);
    // The card is filed first and takes the alert's value and start a moment later.
    const first = await waitCard(world, card, /value \*0\.2\*/);
    expect(first).toContain('Roll back checkout-api in production from revision 3 to revision 2');
    expect(first).toMatch(/value \*0\.2\*/);
    expect(first).toMatch(/since <!date\^\d+\^/);
    expect(first).toContain('*Requested by* Alertmanager');
    expect(first).toContain('backout_approve');

    // A second pod crosses the line: Alertmanager notifies the same group again, and the card changes.
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.3);
    await waitCard(world, card, /2 alerts firing in the group now/, 40_000);
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(1);

    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.001);
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.001);
    const resolved = await waitCard(
      world,
      card,
      /resolved at <!date\^\d+\^[^>]*>, before anyone approved/,
      40_000,
    );
    expect(resolved).toContain('backout_approve');
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(1);

    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    const done = await waitCard(world, card, /Done — healthy/);
    expect(done).toContain('approved by <@U0SRE1>');
    const d = world.prod.get('Deployment', 'shop', 'checkout-api');
    expect(d?.spec?.template.spec?.containers[0]?.image).toBe('shop/checkout:1.4.1');

    const types = await auditTypes(world);
    expect(types.slice(0, 3)).toEqual(['alert.received', 'request.created', 'alert.resolved']);
    expect(types).toContain('job.succeeded');
    expect(cardText(world, card)).not.toContain('pod-template-hash');
  }, 120_000);
});
