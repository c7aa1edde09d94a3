import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertPayload, WEBHOOK_TOKEN } from '../kit/alerts.js';
import { click as clickCard, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import {
  answerAt,
  auditRecords,
  canaryConfigYaml,
  canaryWeightNow,
  card,
  cardSays,
  click,
  NS,
  SERVICES,
  showOnFailure,
  seedCanaries,
  slash,
  weightPatches,
  type Provider,
  threadReply,
} from './canary-kit.js';

/** HighErrorRate of web, api or shop proposes aborting their canary; api's production needs no approval. */
const RULES = `
alerts:
  rules:
    - name: canary-errors
      match: { alertname: HighErrorRate }
      matchRe: { service: "web|api|shop" }
      propose: canary-abort
`;

const requestIdOf = (text: string) => /`(cn-[a-z0-9]{8})`/.exec(text)?.[1];

describe('an alert proposes aborting the running canary', () => {
  let world: World;
  let bot: RunningApp;

  beforeAll(async () => {
    // A minute's dwell keeps each canary at 5 % until something aborts it.
    const yaml = canaryConfigYaml({ dwell: '60s', interval: '300ms' });
    world = await createWorld({
      config: (w) =>
        yaml(w).replace(
          `channel: ${SERVICES.gateway.channel}`,
          `channel: ${SERVICES.gateway.channel}\n        policy: { approval: not-required }`,
        ) + RULES,
    });
    seedCanaries(world);
    bot = await world.start({ BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN });
  });
  afterAll(async () => {
    await world.close();
  });

  async function alert(provider: Provider, groupKey: string) {
    const res = await fetch(`http://127.0.0.1:${bot.app.port}/hooks/alertmanager`, {
      method: 'POST',
      body: alertPayload(groupKey, 'firing', 'production', SERVICES[provider].service),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { outcome: string; requestId?: string; detail?: string };
  }

  /** The canary-abort cards in a service's channel (top-level messages). */
  const abortCards = (provider: Provider) =>
    world.slack
      .messages(SERVICES[provider].channel)
      .filter((m) => !m.thread_ts && m.text.startsWith('Canary abort'));

  const notice = (provider: Provider, pattern: RegExp) =>
    waitFor(
      () =>
        world.slack
          .messages(SERVICES[provider].channel)
          .find((m) => !m.thread_ts && m.text.startsWith(':warning: Alert') && pattern.test(m.text)),
      { what: `a notice matching ${pattern}` },
    );

  const threadSays = (provider: Provider, ts: string, text: string) =>
    waitFor(
      () => {
        const t = world.slack.transcript(SERVICES[provider].channel, ts);
        return t.includes(text) ? t : undefined;
      },
      { what: `the thread to say ${text}` },
    );

  const debug = (provider: Provider, ts: string) => showOnFailure(world, bot, provider, ts);

  it.concurrent(
    'Approve aborts the canary through its job; a second group is linked; no canary or a pending one proposes nothing; a hand-set weight gets a by-weight abort',
    async () => {
      await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`);
      const canary = await card(world, 'nginx');
      const canaryId = requestIdOf(JSON.stringify(canary.blocks))!;

      // Waiting for approval, the canary has no traffic: nothing to abort yet.
      const pending = await alert('nginx', 'web-pending');
      expect(pending.outcome).toBe('not-proposed');
      expect((await notice('nginx', /still waiting for approval/)).text).toContain(canaryId);

      expect(await click(bot.client, world, 'nginx', canary, 'backout_approve', PEOPLE.sre1)).toContain(
        'Approved',
      );
      await waitFor(() => canaryWeightNow(world, 'nginx') === 5, { what: 'the canary at 5 %' });

      const first = await alert('nginx', 'web-errors');
      expect(first).toMatchObject({
        outcome: 'proposed',
        requestId: expect.stringMatching(/^ca-/) as unknown,
      });
      const abort = await waitFor(() => abortCards('nginx')[0], { what: 'the abort card' });
      const shown = await waitCard(world, abort, /HighErrorRate/);
      expect(shown).toContain(
        `Abort the canary \`${canaryId}\` of web in production: all traffic back to stable`,
      );
      expect(shown).toContain('is running (at 5 %)');
      expect(shown).toContain('*Requested by* Alertmanager');
      expect(shown).toContain('backout_approve');

      // Another group firing for the same canary: noted in the abort's thread, no second card.
      const second = await alert('nginx', 'web-latency');
      expect(second).toMatchObject({ outcome: 'linked', requestId: first.requestId });
      await waitFor(
        () => world.slack.transcript(SERVICES.nginx.channel, abort.ts).includes('no second proposal'),
        { what: 'the linked note' },
      );
      expect(abortCards('nginx')).toHaveLength(1);
      expect(canaryWeightNow(world, 'nginx')).toBe(5);

      await clickCard(world, bot, abort, 'backout_approve', PEOPLE.sre1);
      await waitCard(
        world,
        abort,
        new RegExp(`Done — aborted canary ${canaryId} at 5 %: all traffic on stable`),
      ).catch(debug('nginx', abort.ts));
      expect(canaryWeightNow(world, 'nginx')).toBe(0);
      expect(weightPatches(world, 'nginx')).toEqual([5, 0]);
      // The canary's own thread and card are written by its job, delivered on their own.
      const canaryThread = await threadSays('nginx', canary.ts, 'Canary aborted by');
      expect(canaryThread).toContain(`Canary aborted by <@${PEOPLE.sre1}>* at 5 %`);
      expect(canaryThread).toContain(`Alertmanager alert HighErrorRate (rule canary-errors)`);
      await cardSays(world, 'nginx', canary.ts, /aborted by/);
      const audited = (await auditRecords(world)).find(
        (r) => r.type === 'canary.aborted' && r.requestId === first.requestId,
      );
      expect(audited).toMatchObject({
        details: { by: PEOPLE.sre1, canaryRequest: canaryId, signalled: true, weight: 5 },
      });

      // The canary has ended and all traffic is on stable: nothing to propose.
      const after = await alert('nginx', 'web-after');
      expect(after.outcome).toBe('not-proposed');
      await notice('nginx', /no canary is running and all traffic of web in production is on stable/);

      // Someone sets a weight by hand, no canary job: the proposal sets it back to 0.
      world.prod.update('Ingress', NS, 'web-canary', (ing) => {
        ing.metadata!.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '30';
      });
      const byWeight = await alert('nginx', 'web-hand-set');
      expect(byWeight.outcome).toBe('proposed');
      const weightCard = await waitFor(() => abortCards('nginx')[1], { what: 'the by-weight abort card' });
      expect(await waitCard(world, weightCard, /HighErrorRate/)).toContain(
        'Return all traffic of web in production to stable (canary at 30 %)',
      );
      await clickCard(world, bot, weightCard, 'backout_approve', PEOPLE.sre2);
      await waitCard(world, weightCard, new RegExp(`Done — aborted by <@${PEOPLE.sre2}> at 30 %`)).catch(
        debug('nginx', weightCard.ts),
      );
      expect(canaryWeightNow(world, 'nginx')).toBe(0);
      // The step names the Ingress once, as the provider read it.
      const step = await threadReply(
        world,
        'nginx',
        weightCard.ts,
        '*Return all traffic to stable* — finished',
        'the finished step',
      );
      expect(step.text).toContain('All traffic on stable — ');
      expect(step.text.match(/web-canary/g)).toHaveLength(1);
    },
  );

  it.concurrent(
    'where the policy needs no approval, the abort starts at once and the canary says the alert aborted it',
    async () => {
      await slash(bot.client, world, 'gateway', `start ${SERVICES.gateway.image}`);
      const canary = await card(world, 'gateway');
      await waitFor(() => canaryWeightNow(world, 'gateway') === 5, { what: 'the canary at 5 %' });
      const answer = await alert('gateway', 'api-errors');
      expect(answer.outcome).toBe('proposed');
      const abort = await waitFor(() => abortCards('gateway')[0], { what: 'the abort card' });
      const done = await waitCard(world, abort, /Done — aborted canary cn-[a-z0-9]{8} at 5 %/).catch(
        debug('gateway', abort.ts),
      );
      expect(done).toContain('no approval needed');
      expect(canaryWeightNow(world, 'gateway')).toBe(0);
      const canaryThread = await threadSays('gateway', canary.ts, 'Canary aborted by');
      // The alert source by name, not as a broken mention.
      expect(canaryThread).toContain('Canary aborted by Alertmanager* at 5 %');
      expect(canaryThread).not.toContain('<@Alertmanager>');
    },
  );

  it.concurrent(
    'a canary aborted by hand before the Approve: the abort says so (no-op) and signals nothing',
    async () => {
      await slash(bot.client, world, 'argo', `start ${SERVICES.argo.image}`);
      const canary = await card(world, 'argo');
      const canaryId = requestIdOf(JSON.stringify(canary.blocks))!;
      await click(bot.client, world, 'argo', canary, 'backout_approve', PEOPLE.sre1);
      await waitFor(() => canaryWeightNow(world, 'argo') === 5, { what: 'the canary at 5 %' });
      const proposed = await alert('argo', 'shop-errors');
      expect(proposed.outcome).toBe('proposed');
      const abort = await waitFor(() => abortCards('argo')[0], { what: 'the abort card' });

      const byHand = await slash(bot.client, world, 'argo', 'abort --reason "seen on the dashboard"');
      expect(await answerAt(world, byHand.responseUrl)).toContain('all traffic returns to stable now');
      await cardSays(world, 'argo', canary.ts, /aborted/);

      await clickCard(world, bot, abort, 'backout_approve', PEOPLE.sre2);
      const done = await waitCard(world, abort, /Done — no-op/).catch(debug('argo', abort.ts));
      expect(done).toContain(`no-op: canary ${canaryId} had already ended (succeeded`);
      // The canary stopped for the person's reason; the alert's request never reached it.
      const canaryThread = await threadSays('argo', canary.ts, 'Canary aborted by');
      expect(canaryThread).toContain(`Canary aborted by <@${PEOPLE.requester}>* at 5 %`);
      expect(canaryThread).toContain('seen on the dashboard');
      expect(canaryThread).not.toContain(proposed.requestId);
      const audited = (await auditRecords(world)).find(
        (r) => r.type === 'canary.aborted' && r.details?.canaryRequest === canaryId,
      );
      expect(audited?.details).toMatchObject({ signalled: false, canaryState: 'succeeded' });
    },
  );
});
