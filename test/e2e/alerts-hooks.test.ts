import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacSignature } from '../../src/hooks/auth.js';
import { auditTypes, cardIn, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { ALERT_RULES, alertPayload, WEBHOOK_TOKEN } from '../kit/alerts.js';

function post(bot: RunningApp, path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`http://127.0.0.1:${bot.app.port}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const bearer = { authorization: `Bearer ${WEBHOOK_TOKEN}` };

function signed(body: string, at = Math.floor(Date.now() / 1000)) {
  const ts = String(at);
  return { 'x-backout-timestamp': ts, 'x-backout-signature': hmacSignature(WEBHOOK_TOKEN, ts, body) };
}

const top = (world: World, channel: string) => world.slack.messages(channel).filter((m) => !m.thread_ts);

describe('alert hooks: authentication, one card per group across replicas, linking, and the signed generic webhook', () => {
  let world: World;
  let a: RunningApp;
  let b: RunningApp;

  beforeAll(async () => {
    world = await createWorld({ config: (w) => defaultConfigYaml(w, ALERT_RULES) });
    a = await world.start({ BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
    b = await world.start({ BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
  });
  afterAll(async () => {
    await world.close();
  });

  it('answers 404 on every hook when no webhook token is configured', async () => {
    const bare = await world.start();
    try {
      const res = await post(bare, '/hooks/alertmanager', alertPayload('g0', 'firing'), bearer);
      expect(res.status).toBe(404);
      expect((await post(bare, '/hooks/alert', '{}')).status).toBe(404);
    } finally {
      await bare.stop();
    }
  });

  it('refuses a payload that is not Alertmanager v4 with the problems named, and files nothing', async () => {
    const res = await post(a, '/hooks/alertmanager', JSON.stringify({ version: '3', alerts: [] }), bearer);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; problems: string[] };
    expect(body.error).toMatch(/nothing was filed/);
    expect(body.problems.join('\n')).toMatch(/version/);
    expect(await auditTypes(world)).toEqual([]);
  });

  it('ten concurrent deliveries of one group to two replicas make one card, and a resolution edits it', async () => {
    const deliveries = Array.from({ length: 10 }, (_, i) =>
      post(
        i % 2 ? a : b,
        '/hooks/alertmanager',
        alertPayload('{}:{alertname="HighErrorRate"}', 'firing'),
        bearer,
      ),
    );
    const answers = await Promise.all(deliveries);
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    const outcomes = await Promise.all(
      answers.map(async (r) => ((await r.json()) as { outcome: string }).outcome),
    );
    expect(outcomes.filter((o) => o === 'proposed')).toHaveLength(1);
    const card = await cardIn(world, PEOPLE.checkout);
    await waitCard(world, card, /Notified 10 times/);
    expect(top(world, PEOPLE.checkout)).toHaveLength(1);
    expect((await auditTypes(world)).filter((t) => t === 'request.created')).toHaveLength(1);

    await post(a, '/hooks/alertmanager', alertPayload('{}:{alertname="HighErrorRate"}', 'resolved'), bearer);
    await waitCard(world, card, /resolved at .*before anyone approved/);
    expect(top(world, PEOPLE.checkout)).toHaveLength(1);
  });

  it('links an alert to the request already acting on its target instead of proposing another', async () => {
    // The production target is held by the pending proposal above; a second group for it is linked.
    const res = await post(a, '/hooks/alertmanager', alertPayload('another-group', 'firing'), bearer);
    const answer = (await res.json()) as { outcome: string; requestId: string };
    expect(answer.outcome).toBe('linked');
    const card = await cardIn(world, PEOPLE.checkout);
    await waitFor(
      () =>
        world.slack.thread(card.channel, card.ts).some((m) => /already waiting for approval/.test(m.text)),
      { what: 'the linked note in the thread' },
    );
    const note = world.slack.thread(card.channel, card.ts).find((m) => m.text.startsWith(':link:'))!;
    // Plain words about this request, not backout's internal lock name.
    expect(note.text).toContain('(this request) is already waiting for approval');
    expect(note.text).not.toContain('checkout-api/production');
    expect(top(world, PEOPLE.checkout)).toHaveLength(1);
  });

  it('a signed generic alert for staging starts at once (its policy needs no approval); bad signatures and replays are refused', async () => {
    const body = JSON.stringify({
      groupKey: 'grafana:checkout-staging',
      status: 'firing',
      alerts: [
        {
          labels: {
            alertname: 'HighErrorRate',
            severity: 'page',
            service: 'checkout-api',
            environment: 'staging',
          },
          annotations: { value: '7 %' },
          startsAt: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    });
    const forged = await post(a, '/hooks/alert', body, {
      ...signed(body),
      'x-backout-signature': hmacSignature('another-secret-entirely', '1', body),
    });
    expect(forged.status).toBe(401);
    const old = await post(a, '/hooks/alert', body, signed(body, Math.floor(Date.now() / 1000) - 600));
    expect(old.status).toBe(401);
    expect(((await old.json()) as { error: string }).error).toMatch(/replay/);
    const unsigned = await post(a, '/hooks/alert', body, bearer);
    expect(unsigned.status).toBe(401);
    expect(top(world, PEOPLE.incident)).toHaveLength(0);

    const ok = await post(a, '/hooks/alert', body, signed(body));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { outcome: string }).outcome).toBe('proposed');
    // Staging has no channel of its own: the proposal goes to the incident channel.
    const card = await cardIn(world, PEOPLE.incident);
    const done = await waitCard(world, card, /Done — /);
    expect(done).toContain('no approval needed');
    expect(done).toContain('*Requested by* alert webhook');
  });

  it('an alert no rule matches is answered and files nothing', async () => {
    const before = (await auditTypes(world)).length;
    const body = alertPayload('other', 'firing').replaceAll('HighErrorRate', 'DiskFull');
    const res = await post(b, '/hooks/alertmanager', body, bearer);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { outcome: string }).outcome).toBe('no-rule');
    expect((await auditTypes(world)).length).toBe(before);
  });

  it('a slash command for a target an alert already proposed for is refused as busy', async () => {
    const { ack, answer } = await run(world, a, '/rollback', 'checkout-api --reason "by hand"');
    expect(ack.status).toBe(200);
    expect(await answer()).toMatch(
      /checkout-api\/production is busy: rb-[a-z0-9]{8} \(Roll back checkout-api/,
    );
  });
});
