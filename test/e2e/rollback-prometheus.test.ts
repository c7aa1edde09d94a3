import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { AuthProxy, Exporter, PrometheusServer } from '../kit/prometheus-server.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';

/**
 * Rollbacks verified against a real Prometheus (Debian's `prometheus`) scraping an exporter
 * that serves one series per pod: every series counts, and a failing one is named.
 */
describe('a rollback verifies against a real Prometheus, series by series', () => {
  let exporter: Exporter;
  let prometheus: PrometheusServer;
  let proxy: AuthProxy;
  let world: World;
  let bot: RunningApp;
  const TOKEN = 'tenant-a-token-0123';

  beforeAll(async () => {
    exporter = await Exporter.start();
    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.001);
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.002);
    prometheus = await PrometheusServer.start([exporter.target]);
    proxy = await AuthProxy.start(prometheus.url, {
      authorization: `Bearer ${TOKEN}`,
      headers: { 'X-Scope-OrgID': 'tenant-a' },
    });
    const checks = `checks: [{ name: error-ratio, query: 'checkout_error_ratio', max: 0.05 }]`;
    world = await createWorld({
      config: () => `
policy:
  approvers: { users: [${PEOPLE.sre1}] }
  approval: required
  twoPerson: true
services:
  checkout-api:
    environments:
      production:
        default: true
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        channel: ${PEOPLE.checkout}
        health:
          prometheus: { url: "${prometheus.url}", ${checks} }
          stabilityWindow: 300ms
          interval: 100ms
      staging:
        kubernetes: { context: staging, namespace: shop, deployment: checkout-api }
        policy: { approval: not-required }
        health:
          prometheus:
            url: "${proxy.url}"
            tokenEnv: CHECKOUT_PROM_TOKEN
            headers: { X-Scope-OrgID: tenant-a }
            ${checks}
          stabilityWindow: 300ms
          interval: 100ms
`,
    });
    bot = await world.start({ CHECKOUT_PROM_TOKEN: TOKEN });
    await prometheus.waitFor('checkout_error_ratio', 'pod', { a: '0.001', b: '0.002' });
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await proxy?.stop();
    await prometheus?.stop();
    await exporter?.stop();
  });

  const metrics = async () => (await fetch(`http://127.0.0.1:${bot.app.port}/metrics`)).text();
  const thread = (card: { channel: string; ts: string }) => world.slack.transcript(card.channel, card.ts);

  it('healthy when both series are within bounds, then degraded when one fails, naming that series', async () => {
    await run(world, bot, '/rollback', 'checkout-api --reason "5xx after 1.4.2"');
    const first = await cardIn(world);
    await click(world, bot, first, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, first, /:white_check_mark: \*Done — healthy\*/);
    await waitFor(() => /back on revision 2 .* — \*healthy\*/.test(thread(first)), { what: 'healthy note' });
    expect(thread(first)).toContain('error-ratio: 2 series, all within max 0.05 (worst 0.002)');
    expect(await metrics()).toContain('backout_jobs_total{type="rollback",outcome="healthy"} 1');

    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.5);
    await prometheus.waitFor('checkout_error_ratio', 'pod', { a: '0.001', b: '0.5' });
    await run(world, bot, '/rollback', 'checkout-api --reason "still erroring"');
    const second = await cardIn(world, PEOPLE.checkout, 1);
    await click(world, bot, second, 'backout_approve', PEOPLE.sre1);
    const done = await waitCard(world, second, /Done — degraded/);
    expect(done).toContain(':warning: *Done — degraded*');
    await waitFor(() => /— \*degraded\*/.test(thread(second)), { what: 'degraded note' });
    const text = thread(second);
    expect(text).toMatch(
      /error-ratio: 1 of 2 series outside max 0\.05: checkout_error_ratio\{[^}]*pod="b"\} 0\.5/,
    );
    expect(text).not.toMatch(/pod="a"\} 0\.001/);
    // The outcome reply is one line that still names the failing series, not the list again.
    const outcome = world.slack.thread(second.channel, second.ts).find((m) => /— \*degraded\*/.test(m.text))!;
    expect(outcome.text).toMatch(
      /— \*degraded\*\.\n0 of 1 check passed in the last round; failing: error-ratio: 1 of 2 series outside max 0\.05: checkout_error_ratio\{[^}]*pod="b"\} 0\.5\.$/,
    );
    // The verify step found problems: it wears a warning, never a plain check mark.
    expect(text).toMatch(
      /:warning: Step 6\/7 · \*Verify health over the stability window\* — finished with problems/,
    );
    expect(text).not.toMatch(/:white_check_mark: Step 6\/7 · \*Verify health/);
    // The timeline says so too: the verify step ended degraded, it was not simply "done".
    const timeline = await waitFor(
      () =>
        world.slack
          .thread(second.channel, second.ts)
          .find((m) => m.text.startsWith(':clipboard: *Timeline*')),
      { what: 'the timeline reply' },
    );
    expect(timeline.text).toMatch(/Step verify ended degraded in /);
    expect(timeline.text).not.toMatch(/Step verify done/);
    const counted = await metrics();
    expect(counted).toContain('backout_jobs_total{type="rollback",outcome="degraded"} 1');
    expect(counted).toContain('backout_jobs_total{type="rollback",outcome="healthy"} 1');
    expect(counted).not.toContain('outcome="succeeded"');
  });

  it('failed when no series passes at the end of the window: the job ends failed with a cross, counted as failed', async () => {
    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.4);
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.5);
    await prometheus.waitFor('checkout_error_ratio', 'pod', { a: '0.4', b: '0.5' });
    await run(world, bot, '/rollback', 'checkout-api --reason "down"');
    const card = await cardIn(world, PEOPLE.checkout, 2);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    const done = await waitCard(world, card, /Failed — failed: no health check passed after the rollback/);
    expect(done).toContain(':x: *Failed — failed');
    await waitFor(
      () => /:x: checkout-api in production is back on revision \d+ .* — \*failed\*/.test(thread(card)),
      {
        what: 'failed note',
      },
    );
    expect(thread(card)).toContain('2 of 2 series outside max 0.05');
    expect(thread(card)).toContain('Roll forward or roll back further');
    expect(await metrics()).toContain('backout_jobs_total{type="rollback",outcome="failed"} 1');
    exporter.set('checkout_error_ratio', { pod: 'a' }, 0.001);
  });

  it('an authenticated Prometheus (behind a token and a tenant header) verifies a rollback', async () => {
    exporter.set('checkout_error_ratio', { pod: 'b' }, 0.003);
    await prometheus.waitFor('checkout_error_ratio', 'pod', { a: '0.001', b: '0.003' });
    const before = proxy.seen.length;
    await run(world, bot, '/rollback', 'checkout-api --env staging --reason "bad build"');
    const card = await cardIn(world, PEOPLE.checkout, 3);
    await waitCard(world, card, /:white_check_mark: \*Done — healthy\*/);
    const seen = proxy.seen.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.allowed && s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    // The card and the thread are separate messages: the verify reply may land just after the card.
    await waitFor(() => thread(card).includes('error-ratio: 2 series, all within max 0.05 (worst 0.003)'), {
      what: 'the verify step naming both series',
    });
    // The token never reaches Slack or the logs.
    expect(thread(card)).not.toContain(TOKEN);
    expect(bot.logs.join('')).not.toContain(TOKEN);
  });
});
