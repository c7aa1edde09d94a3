import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatuspageDouble } from '../doubles/statuspage.js';
import { AlertmanagerServer } from '../kit/alertmanager-server.js';
import { alertPayload, WEBHOOK_TOKEN } from '../kit/alerts.js';
import { auditTypes, cardIn, click, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

interface Silence {
  id: string;
  comment: string;
  endsAt: string;
  startsAt: string;
  status: { state: string };
  matchers: { name: string; value: string; isRegex: boolean }[];
}

describe('around an alert’s rollback: an Alertmanager silence, the status page, and the timeline', () => {
  let world: World;
  let bot: RunningApp;
  let alertmanager: AlertmanagerServer;
  let statuspage: StatuspageDouble;

  const deliver = (groupKey: string, alertname = 'HighErrorRate') =>
    fetch(`http://127.0.0.1:${bot.app.port}/hooks/alertmanager`, {
      method: 'POST',
      body: alertPayload(groupKey, 'firing').replaceAll('HighErrorRate', alertname),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    });
  const records = async () =>
    (await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+')).map(
      ([, f]) => JSON.parse(f[1]!) as { type: string; requestId?: string; details?: Record<string, unknown> },
    );
  /** The page's nth incident, once it is resolved. */
  const resolvedIncident = (nth: number, what: string) =>
    waitFor(
      () => {
        const incident = [...statuspage.incidents.values()][nth];
        return incident?.status === 'resolved' && incident;
      },
      { what, timeoutMs: 60_000 },
    );
  const silences = async (): Promise<Silence[]> =>
    (await (await fetch(`${alertmanager.url}/api/v2/silences`)).json()) as Silence[];

  beforeAll(async () => {
    // The webhook receiver is not used here: the test delivers notifications itself.
    alertmanager = await AlertmanagerServer.start({ url: 'http://127.0.0.1:9/unused', token: WEBHOOK_TOKEN });
    statuspage = await StatuspageDouble.start();
    world = await createWorld({
      config: (w) =>
        defaultConfigYaml(
          w,
          `
alerts:
  alertmanager: { url: "${alertmanager.url}" }
  statusPage: { pageId: ${statuspage.pageId} }
  rules:
    - name: checkout-errors
      match: { alertname: HighErrorRate, service: checkout-api }
      silence: {}
      statusPage:
        components: { cmp0checkout: partial_outage }
        name: "{service} errors ({alertname})"
    - name: checkout-slow
      match: { alertname: SlowCheckout }
      service: checkout-api
      statusPage:
        auto: false
        components: { cmp0checkout: degraded_performance }
        body: "Checkout is slow ({alertname}, {value}); we are rolling back."
`,
        ),
    });
    bot = await world.start({
      BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      STATUSPAGE_API_URL: statuspage.apiUrl,
      STATUSPAGE_API_KEY: statuspage.apiKey,
      // Ten attempts spread over a minute: the first few within a second or two, then further apart.
      STATUSPAGE_RETRY_FOR: '60s',
    });
  }, 60_000);
  afterAll(async () => {
    await world.close();
    await Promise.allSettled([alertmanager.stop(), statuspage.stop()]);
  });

  it('silences while it rolls out, posts and resolves the status page incident, and ends with the timeline', async () => {
    expect((await deliver('g-incident-1')).status).toBe(200);
    const card = await cardIn(world, PEOPLE.checkout);
    await waitCard(world, card, /HighErrorRate/);
    const approvedAt = Date.now();
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);

    const thread = () => world.slack.transcript(card.channel, card.ts);
    await waitFor(() => /Timeline/.test(thread()), { what: 'the timeline in the thread' });
    // The silence matched the target, ended within the job's bound, and is expired now that the job is over.
    const [silence] = (await silences()).filter((s) => s.comment.includes('backout rb-'));
    expect(silence?.matchers.map((m) => `${m.name}=${m.value}`).sort()).toEqual([
      'environment=production',
      'service=checkout-api',
    ]);
    expect(silence?.status.state).toBe('expired');
    // Created with an end no later than the job's bound (rollout timeout 20 s + stability window
    // 300 ms + 5 min for the other steps), then expired at the job's end.
    const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    const silenced = entries
      .map(([, f]) => JSON.parse(f[1]!) as { type: string; ts: string; details?: { endsAt?: string } })
      .find((r) => r.type === 'incident.silenced')!;
    const bound = Date.parse(silenced.ts) + 20_000 + 300 + 5 * 60_000;
    expect(Date.parse(silenced.details!.endsAt!)).toBeLessThanOrEqual(bound);
    expect(Date.parse(silence!.endsAt)).toBeLessThanOrEqual(Date.now());
    const text = thread();
    expect(text).toContain(
      ':mute: Silenced alerts matching `service=checkout-api`, `environment=production`',
    );
    expect(text).toContain(':loud_sound: Expired the Alertmanager silence');
    expect(text).toMatch(/Status page: create incident done/);
    expect(text).toMatch(/Status page: resolve incident done/);

    // The status page saw the incident opened with component impact, told once the rollout was
    // done that it is being verified, then resolved as operational — in that order.
    const [incident] = [...statuspage.incidents.values()];
    expect(incident?.name).toBe('checkout-api errors (HighErrorRate)');
    expect(incident?.updates.map((u) => u.status)).toEqual(['identified', 'monitoring', 'resolved']);
    expect(incident?.updates[1]?.body).toBe(
      'checkout-api was rolled back; we are verifying that it is healthy. Next update when it is verified.',
    );
    expect(incident?.components).toEqual({ cmp0checkout: 'operational' });
    expect(statuspage.calls.map((c) => `${c.method} ${c.status}`)).toEqual([
      'POST 201',
      'PATCH 200',
      'PATCH 200',
    ]);

    // The timeline comes from the audit log: alert, proposal, approver, steps with durations, verdict.
    const timeline = world.slack.thread(card.channel, card.ts).find((m) => /Timeline/.test(m.text))!.text;
    const order = [
      'Alert HighErrorRate fired (value 0.12)',
      'Alert HighErrorRate received from alertmanager',
      'Proposal posted: Roll back checkout-api in production',
      'Approved by <@U0SRE1>',
      'Step apply done in',
      'Step verify done in',
      'Finished:',
    ].map((s) => timeline.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(timeline).toMatch(
      /\*Time to mitigate:\* alert → proposal \*.+\* {2}· {2}proposal → approval \*.+\* {2}· {2}approval → applied \*.+\* {2}· {2}applied → verified \*.+\*/,
    );
    expect(timeline).toContain('Status page: create incident done');
    // The job's end waited (briefly) for its last post, so the timeline shows it.
    expect(timeline.indexOf('Status page: post progress done')).toBeGreaterThan(
      timeline.indexOf('Step wait done in'),
    );
    expect(timeline.indexOf('Status page: resolve incident done')).toBeGreaterThan(
      timeline.indexOf('Finished:'),
    );

    const metrics = await (await fetch(`http://127.0.0.1:${bot.app.port}/metrics`)).text();
    for (const stage of [
      'alert_to_proposal',
      'proposal_to_approval',
      'approval_to_applied',
      'applied_to_verified',
    ])
      expect(metrics).toContain(`backout_time_to_mitigate_seconds_count{stage="${stage}"} 1`);
    const approval = /backout_time_to_mitigate_seconds_sum\{stage="proposal_to_approval"\} ([\d.]+)/.exec(
      metrics,
    );
    expect(Number(approval?.[1])).toBeLessThanOrEqual((Date.now() - approvedAt) / 1000 + 60);

    const types = await auditTypes(world);
    // Silenced before the first step touched anything, expired after the job's verdict.
    expect(types.indexOf('incident.silenced')).toBeLessThan(types.indexOf('step.started'));
    expect(types.indexOf('incident.unsilenced')).toBeGreaterThan(types.indexOf('job.succeeded'));
    expect(types).toContain('incident.unsilenced');
    expect(types.filter((t) => t === 'statuspage.call')).toHaveLength(3);
  }, 60_000);

  it('an outage longer than a few attempts is retried from the queue: the rollback is not held up, and the incident is opened and resolved late, in order', async () => {
    statuspage.outage();
    const callsBefore = statuspage.calls.length;
    const incidentsBefore = statuspage.incidents.size;
    const seqBefore = (await records()).length;
    expect((await deliver('g-incident-2')).status).toBe(200);
    const card = await cardIn(world, PEOPLE.checkout, 1);
    await waitCard(world, card, /HighErrorRate/);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre2);
    // The rollback finishes, and its timeline is posted, while the status page still refuses every call.
    await waitCard(world, card, /Done — healthy/);
    const thread = () => world.slack.transcript(card.channel, card.ts);
    await waitFor(() => /Timeline/.test(thread()), { what: 'the timeline' });
    expect(statuspage.calls.slice(callsBefore).every((c) => c.status === 503)).toBe(true);
    expect(thread()).toMatch(
      /Status page: could not create incident \(Statuspage answered 503[^)]*\)\. It is retried in the background for up to 1m; the rollback is not held up by it\./,
    );
    // More failed attempts than the three a call used to get before it was dropped.
    const calls = async () => (await records()).slice(seqBefore).filter((r) => r.type === 'statuspage.call');
    await waitFor(async () => (await calls()).length >= 4, { what: 'a fourth failed attempt' });
    statuspage.outage(false);

    const incident = await resolvedIncident(
      incidentsBefore,
      'the incident opened and resolved once Statuspage answers',
    );
    // Opened once, then straight to resolved: the progress update, overtaken by the end while
    // Statuspage was down, is never posted after it.
    expect(incident.updates.map((u) => u.status)).toEqual(['identified', 'resolved']);
    expect(statuspage.incidents.size).toBe(incidentsBefore + 1);
    await waitFor(() => /resolve incident done/.test(thread()), { what: 'the resolve in the thread' });
    expect(thread()).toMatch(
      /Status page: create incident done after \d+ attempts \([^)]+ late: Statuspage was failing\)/,
    );
    expect(thread().match(/retried in the background/g)).toHaveLength(1);
    // Every attempt is audited; the first that went through came after the rollback had ended.
    const all = await records();
    const mine = all.slice(seqBefore);
    const attempts = mine.filter((r) => r.type === 'statuspage.call');
    expect(attempts.filter((r) => r.details?.ok === false).length).toBeGreaterThanOrEqual(4);
    expect(attempts.filter((r) => r.details?.ok === true).map((r) => r.details?.action)).toEqual([
      'create incident',
      'resolve incident',
    ]);
    const ended = mine.findIndex((r) => r.type === 'job.succeeded');
    const firstOk = mine.findIndex((r) => r.type === 'statuspage.call' && r.details?.ok === true);
    expect(ended).toBeGreaterThanOrEqual(0);
    expect(firstOk).toBeGreaterThan(ended);
  }, 120_000);

  it('with auto off, the thread offers the drafted post; an approver posts it before approving, a stranger cannot', async () => {
    const before = statuspage.calls.length;
    expect((await deliver('g-incident-3', 'SlowCheckout')).status).toBe(200);
    const card = await cardIn(world, PEOPLE.checkout, 2);
    const offer = await waitFor(
      () => world.slack.thread(card.channel, card.ts).find((m) => /Status page draft/.test(m.text)),
      { what: 'the status page draft in the thread' },
    );
    expect(offer.text).toContain('checkout-api is degraded');
    expect(offer.text).toContain('Checkout is slow (SlowCheckout, 0.12); we are rolling back.');
    expect(statuspage.calls.length).toBe(before);

    const refused = await click(world, bot, offer, 'backout_status_page', PEOPLE.stranger);
    const no = await waitFor(() => world.slack.responses(refused)[0], { what: 'the refusal' });
    expect(JSON.stringify(no.body)).toMatch(/not allowed|approv/i);
    expect(statuspage.calls.length).toBe(before);

    const posted = await click(world, bot, offer, 'backout_status_page', PEOPLE.sre1);
    const yes = await waitFor(() => world.slack.responses(posted)[0], { what: 'the answer' });
    expect(JSON.stringify(yes.body)).toContain('Posting to the status page');
    await waitFor(() => statuspage.calls.length === before + 1, { what: 'the incident to be posted' });
    const created = [...statuspage.incidents.values()].find((i) => i.name === 'checkout-api is degraded')!;
    expect(created.components).toEqual({ cmp0checkout: 'degraded_performance' });
    expect(await waitCard(world, card, /Waiting for approval/)).toContain('backout_approve');

    await click(world, bot, card, 'backout_approve', PEOPLE.sre2);
    await waitCard(world, card, /Done — healthy/);
    await waitFor(() => created.status === 'resolved', { what: 'the incident to be resolved' });
    const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    const calls = entries
      .map(
        ([, f]) =>
          JSON.parse(f[1]!) as {
            type: string;
            actor?: string;
            requestId?: string;
            details?: { action?: string };
          },
      )
      .filter(
        (r) =>
          r.type === 'statuspage.call' && r.details?.action === 'create incident' && r.actor === PEOPLE.sre1,
      );
    expect(calls).toHaveLength(1);
  }, 60_000);

  it('a call Statuspage refuses as invalid is not retried: the thread says once to post it by hand', async () => {
    statuspage.outage(true, 422);
    const callsBefore = statuspage.calls.length;
    expect((await deliver('g-incident-4')).status).toBe(200);
    const card = await cardIn(world, PEOPLE.checkout, 3);
    await waitCard(world, card, /HighErrorRate/);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    const thread = () => world.slack.transcript(card.channel, card.ts);
    await waitFor(() => /Timeline/.test(thread()), { what: 'the timeline' });
    expect(thread()).toMatch(
      /:warning: Status page: gave up on create incident after 1 attempt \(Statuspage answered 422[^)]*\)\. The rollback was not held up by it\. Post it on the status page by hand/,
    );
    expect(thread()).not.toContain('retried in the background');
    // Nothing more goes to the page for this request: no update of an incident it never opened.
    expect(statuspage.calls.slice(callsBefore).map((c) => `${c.method} ${c.status}`)).toEqual(['POST 422']);
    statuspage.outage(false);
  }, 60_000);

  it('a create whose answer was lost after Statuspage stored it is found on the next attempt, not opened twice', async () => {
    statuspage.loseCreateAnswers(1);
    const incidentsBefore = statuspage.incidents.size;
    const callsBefore = statuspage.calls.length;
    expect((await deliver('g-incident-lost')).status).toBe(200);
    const card = await cardIn(world, PEOPLE.checkout, 4);
    await waitCard(world, card, /HighErrorRate/);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre2);
    await waitCard(world, card, /Done — healthy/);
    const incident = await resolvedIncident(incidentsBefore, 'the incident resolved');
    // One incident: the second attempt asked for the open ones and found it by its mark.
    expect(statuspage.incidents.size).toBe(incidentsBefore + 1);
    expect((incident.metadata as { backout?: { request_id?: string } }).backout?.request_id).toMatch(/^rb-/);
    const calls = statuspage.calls.slice(callsBefore).map((c) => `${c.method} ${c.status}`);
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual(['POST 504']);
    expect(calls).toContain('GET 200');
    expect(incident.updates.map((u) => u.status)).toEqual(['identified', 'monitoring', 'resolved']);
    const thread = () => world.slack.transcript(card.channel, card.ts);
    await waitFor(() => /resolve incident done/.test(thread()), { what: 'the resolve in the thread' });
    expect(thread()).toMatch(/Status page: create incident done after 2 attempts/);
  }, 120_000);
});
