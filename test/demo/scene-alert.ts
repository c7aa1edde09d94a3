import { ALERT_RULES, WEBHOOK_TOKEN } from '../kit/alerts.js';
import { findButton } from '../kit/slack-signing.js';
import { defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import { indent, readable, withProgress } from './transcript.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

export const alertConfigYaml = (w: { prometheus: string; probe: string }) =>
  defaultConfigYaml(w, ALERT_RULES);
export const ALERT_ENV = { BACKOUT_WEBHOOK_TOKEN: WEBHOOK_TOKEN };

/** What Alertmanager posts (webhook version 4) for the checkout 5xx alert group, with `firing` alerts. */
function notification(firing: { pod: string; value: string; since: Date }[]): string {
  const common = {
    alertname: 'HighErrorRate',
    severity: 'critical',
    service: 'checkout-api',
    environment: 'production',
  };
  return JSON.stringify({
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate", environment="production", service="checkout-api"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'backout',
    groupLabels: { alertname: 'HighErrorRate', environment: 'production', service: 'checkout-api' },
    commonLabels: common,
    commonAnnotations: { summary: '5xx ratio above 5 %' },
    externalURL: 'http://alertmanager.monitoring:9093',
    alerts: firing.map((a) => ({
      status: 'firing',
      labels: { ...common, pod: a.pod },
      annotations: { value: a.value, summary: '5xx ratio above 5 %' },
      startsAt: a.since.toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.monitoring:9090/graph',
      fingerprint: a.pod,
    })),
  });
}

/** Opening: before anyone types anything, Alertmanager's 5xx alert proposes the rollback; bob approves it. */
export async function playAlertScene(
  world: World,
  bot: RunningApp,
  names: Record<string, string>,
): Promise<void> {
  const say = (text: string) => readable(text, names);
  const post = async (body: string) => {
    const res = await fetch(`http://127.0.0.1:${bot.app.port}/hooks/alertmanager`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    });
    return `${res.status} ${JSON.stringify(await res.json())}`;
  };
  out('━━ Opening · the alert ━━');
  out(
    'checkout-api 1.4.2 went out two minutes ago. Prometheus fires HighErrorRate; Alertmanager calls backout.',
  );
  out();
  const since = new Date(Date.now() - 60_000);
  out(`> Alertmanager: POST /hooks/alertmanager (HighErrorRate, pod a, value 0.12)`);
  out(`  ← ${await post(notification([{ pod: 'a', value: '0.12', since }]))}`);
  const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
    what: 'the proposal card',
  });
  await waitFor(
    () => /HighErrorRate/.test(JSON.stringify(world.slack.message(PEOPLE.checkout, card.ts)?.blocks)),
    {
      what: 'the alert on the card',
    },
  );
  out(`> Alertmanager: POST /hooks/alertmanager (the group again: pod b joined, value 0.31)`);
  out(
    `  ← ${await post(
      notification([
        { pod: 'a', value: '0.12', since },
        { pod: 'b', value: '0.31', since: new Date() },
      ]),
    )}`,
  );
  await waitFor(
    () => /2 alerts firing/.test(JSON.stringify(world.slack.message(PEOPLE.checkout, card.ts)?.blocks)),
    {
      what: 'the card to show the second notification',
    },
  );
  out();
  out('#checkout — one card, edited by the second notification:');
  out(indent(say(world.slack.transcript(PEOPLE.checkout, card.ts)), '  │ '));
  out();

  const approve = findButton(world.slack.message(PEOPLE.checkout, card.ts)?.blocks, 'backout_approve');
  out(`> @${names[PEOPLE.sre1]} clicks Approve`);
  await bot.client.blockAction({
    user: PEOPLE.sre1,
    channel: PEOPLE.checkout,
    messageTs: card.ts,
    actionId: approve.actionId,
    value: approve.value,
    responseUrl: world.slack.newResponseUrl(),
  });
  await withProgress(
    'thread replies posted',
    () => world.slack.thread(PEOPLE.checkout, card.ts).length,
    waitFor(() => world.slack.thread(PEOPLE.checkout, card.ts).some((m) => /Timeline/.test(m.text)), {
      what: 'the timeline',
      timeoutMs: 60_000,
    }),
  );
  out();
  out('#checkout — the card and its thread, ending with the timeline from the audit log:');
  out(indent(say(world.slack.transcript(PEOPLE.checkout, card.ts)), '  │ '));
  out();
  out('The same timeline for the review: `backout timeline <request-id>` (Markdown or JSON).');
  out();
}
