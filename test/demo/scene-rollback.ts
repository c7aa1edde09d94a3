import { findButton } from '../kit/slack-signing.js';
import { PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import { indent, readable, withProgress } from './transcript.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

/** Scene: 1.4.2 of checkout-api throws 5xx; alice rolls back, bob approves, backout verifies. */
export async function playRollbackScene(
  world: World,
  bot: RunningApp,
  names: Record<string, string>,
): Promise<void> {
  const say = (text: string) => readable(text, names);
  out('━━ Scene 1 · a bad deploy ━━');
  out('checkout-api 1.4.2 went out a minute ago; the 5xx rate is climbing.');
  out();
  world.prometheus.set('code=~"5.."', 0.0009);

  const history = world.slack.newResponseUrl();
  out(`> @${names[PEOPLE.requester]}: /rollback checkout-api history`);
  await bot.client.command({
    command: '/rollback',
    text: 'checkout-api history',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
    response_url: history,
  });
  const revisions = await waitFor(() => world.slack.responses(history)[0], { what: 'history' });
  out(indent(say((revisions.body as { text: string }).text), '  (only you) '));
  out();

  const answer = world.slack.newResponseUrl();
  out(`> @${names[PEOPLE.requester]}: /rollback checkout-api --reason "5xx spike after 1.4.2"`);
  const ack = await bot.client.command({
    command: '/rollback',
    text: 'checkout-api --reason “5xx spike after 1.4.2”',
    user_id: PEOPLE.requester,
    channel_id: PEOPLE.checkout,
    response_url: answer,
  });
  out(
    indent(
      say((ack.json as { text: string }).text),
      `  (only you, acknowledged in ${Math.round(ack.elapsedMs)} ms) `,
    ),
  );
  const filed = await waitFor(() => world.slack.responses(answer)[0], { what: 'filed answer' });
  out(indent(say((filed.body as { text: string }).text), '  (only you) '));
  const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
    what: 'plan card',
  });
  const approve = findButton(card.blocks, 'backout_approve');
  out();

  const self = world.slack.newResponseUrl();
  out(`> @${names[PEOPLE.requester]} clicks Approve on their own request`);
  await bot.client.blockAction({
    user: PEOPLE.requester,
    channel: PEOPLE.checkout,
    messageTs: card.ts,
    actionId: approve.actionId,
    value: approve.value,
    responseUrl: self,
  });
  out(
    indent(
      say(
        ((await waitFor(() => world.slack.responses(self)[0], { what: 'refusal' })).body as { text: string })
          .text,
      ),
      '  (only alice) ',
    ),
  );
  out();

  const ok = world.slack.newResponseUrl();
  out(`> @${names[PEOPLE.sre1]} clicks Approve`);
  await bot.client.blockAction({
    user: PEOPLE.sre1,
    channel: PEOPLE.checkout,
    messageTs: card.ts,
    actionId: approve.actionId,
    value: approve.value,
    responseUrl: ok,
  });
  out(
    indent(
      say(
        (
          (await waitFor(() => world.slack.responses(ok)[0], { what: 'approval answer' })).body as {
            text: string;
          }
        ).text,
      ),
      '  (only bob) ',
    ),
  );
  world.prometheus.set('code=~"5.."', 0.0004);
  await withProgress(
    'thread replies posted',
    () => world.slack.thread(PEOPLE.checkout, card.ts).length,
    (async () => {
      await waitFor(() => /— done/.test(world.slack.message(PEOPLE.checkout, card.ts)?.text ?? ''), {
        what: 'rollback to finish',
        timeoutMs: 60_000,
      });
      await waitFor(
        () => world.slack.thread(PEOPLE.checkout, card.ts).some((m) => /back on revision/.test(m.text)),
        { what: 'outcome' },
      );
    })(),
  );
  out();
  out('#checkout — the card (edited in place) and its thread:');
  out(indent(say(world.slack.transcript(PEOPLE.checkout, card.ts)), '  │ '));
  const d = world.prod.get('Deployment', 'shop', 'checkout-api');
  out();
  out(
    `Kubernetes: deployment/checkout-api now runs ${d?.spec?.template.spec?.containers.map((c) => c.image).join(', ')}: revision 2's pod template, which Kubernetes numbers revision ${d?.metadata?.annotations?.['deployment.kubernetes.io/revision']} (as \`kubectl rollout undo\` does).`,
  );
  const audit = await world.redis.xlen(`${world.prefix}:audit:stream`);
  out(`Audit: ${audit} hash-chained records for this incident (Redis stream and AUDIT_LOG_DIR/audit.jsonl).`);
  out();
}
