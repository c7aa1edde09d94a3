import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitionsByKind } from '../../jobs/index.js';
import { OtlpDouble } from '../doubles/otlp.js';
import { findButton } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';

/** The value of one sample in Prometheus text, or 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inner = /\{(.*)\}/.exec(line)?.[1] ?? '';
    const have = new Map([...inner.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(line.split(' ').pop());
  }
  return 0;
}

describe('metrics and traces across a scripted rollback: request → approval → job', () => {
  let world: World;
  let otlp: OtlpDouble;
  let bot: RunningApp;
  let metricsUrl: string;
  const scrape = async () => (await fetch(metricsUrl)).text();

  beforeAll(async () => {
    world = await createWorld();
    otlp = await OtlpDouble.start();
    bot = await world.start({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url });
    metricsUrl = `http://127.0.0.1:${bot.app.port}/metrics`;
  });
  afterAll(async () => {
    await world.close();
    await otlp.stop();
  });

  it('moves the counters on /metrics at each stage, and exports a span per command, job and step', async () => {
    const before = await scrape();
    expect(sample(before, 'backout_commands_total', { command: '/rollback', result: 'ok' })).toBe(0);
    expect(before).toContain('backout_process_cpu_user_seconds_total');
    expect(sample(before, 'backout_queue_depth', { queue: 'jobs', state: 'waiting' })).toBe(0);
    expect(before).toMatch(/backout_queue_depth\{queue="notify",state="delayed"\} 0/);

    await bot.client.command({
      command: '/rollback',
      text: 'checkout-api --reason "5xx spike"',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
      what: 'plan card',
    });
    const afterRequest = await waitFor(
      async () => {
        const t = await scrape();
        return sample(t, 'backout_commands_total', { command: '/rollback', result: 'ok' }) === 1
          ? t
          : undefined;
      },
      { what: 'the command counter' },
    );
    expect(sample(afterRequest, 'backout_ack_latency_seconds_count', { kind: 'command' })).toBe(1);
    expect(
      sample(afterRequest, 'backout_slack_api_calls_total', { method: 'chat.postMessage', result: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(afterRequest, 'backout_approvals_total', { outcome: 'approved' })).toBe(0);

    // One 429 from Slack on the next card edit: counted, then retried by the notifier.
    world.slack.rateLimit({ methods: ['chat.update'], count: 1, retryAfterSec: 1 });
    const approve = findButton(card.blocks, 'backout_approve');
    await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    const afterApproval = await waitFor(
      async () => {
        const t = await scrape();
        return sample(t, 'backout_approvals_total', { outcome: 'approved' }) === 1 ? t : undefined;
      },
      { what: 'the approval counter' },
    );
    expect(sample(afterApproval, 'backout_ack_latency_seconds_count', { kind: 'action' })).toBe(1);

    await waitFor(() => /healthy/.test(world.slack.message(PEOPLE.checkout, card.ts)?.text ?? ''), {
      what: 'card says healthy',
      timeoutMs: 30_000,
    });
    const afterJob = await waitFor(
      async () => {
        const t = await scrape();
        return sample(t, 'backout_jobs_total', { type: 'rollback', outcome: 'healthy' }) === 1 &&
          sample(t, 'backout_slack_rate_limited_total', { method: 'chat.update' }) >= 1
          ? t
          : undefined;
      },
      { what: 'the job and 429 counters' },
    );
    const steps = definitionsByKind()
      .get('rollback')!
      .steps.map((s) => s.name);
    for (const step of steps) {
      expect(sample(afterJob, 'backout_step_duration_seconds_count', { type: 'rollback', step }), step).toBe(
        1,
      );
    }
    expect(
      sample(afterJob, 'backout_slack_api_calls_total', { method: 'chat.update', result: 'rate_limited' }),
    ).toBeGreaterThanOrEqual(1);

    // Stopping flushes the batch of spans to the OTLP endpoint.
    await bot.stop();
    const spans = otlp.spans();
    const command = spans.find((s) => s.name === 'command /rollback');
    expect(command?.attributes).toMatchObject({
      'backout.command': '/rollback',
      'backout.service': 'checkout-api',
      'backout.environment': 'production',
      'backout.target': 'checkout-api/production',
    });
    const job = spans.find((s) => s.name === 'job rollback')!;
    expect(job.attributes).toMatchObject({
      'backout.service': 'checkout-api',
      'backout.environment': 'production',
      'backout.target': 'checkout-api/production',
    });
    expect(job.resource['service.name']).toBe('backout');
    const stepSpans = spans.filter((s) => s.name.startsWith('step '));
    expect(stepSpans.map((s) => s.name)).toEqual(steps.map((s) => `step ${s}`));
    for (const s of stepSpans) {
      expect(s.parentSpanId).toBe(job.spanId);
      expect(s.attributes['backout.step']).toBe(s.name.slice('step '.length));
      expect(s.attributes['backout.target']).toBe('checkout-api/production');
      expect(s.status.code).toBe(1);
    }
  });
});
