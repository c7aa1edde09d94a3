import { PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import {
  card,
  cardSays,
  click,
  gateMessage,
  SERVICES,
  seedCanaries,
  slash,
  weightPatches,
} from '../e2e/canary-kit.js';
import { indent, readable, withProgress } from './transcript.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

/** Scene: a canary of web 2.0.0 behind NGINX Ingress walks 5 → 20 → 50 %, then waits for a human. */
export async function playCanaryScene(
  world: World,
  bot: RunningApp,
  names: Record<string, string>,
): Promise<void> {
  const say = (t: string) => readable(t, names);
  seedCanaries(world);
  const { image, channel } = SERVICES.nginx;
  out('━━ Scene 4 · a careful canary ━━');
  out('The next day, with carts calm again, another team ships carefully: the web service goes out as a');
  out(`canary, ${image} behind NGINX Ingress, 5 → 20 → 50 %, with analysis at each step.`);
  out();
  const command = `start ${image} --reason "2.0 launch"`;
  out(`> @${names[PEOPLE.requester]}: /canary web ${command}`);
  const { ack, responseUrl } = await slash(bot.client, world, 'nginx', command);
  out(indent(say((ack.json as { text?: string } | undefined)?.text ?? ''), '  (only you) '));
  // What the planner answered (the card's link, or why there is no card) comes through response_url.
  const answer = await waitFor(() => world.slack.responses(responseUrl)[0], {
    what: 'the canary plan',
    timeoutMs: 60_000,
  });
  out(indent(say((answer.body as { text?: string }).text ?? ''), '  (only you) '));
  const plan = await card(world, 'nginx', 60_000);
  out(`> @${names[PEOPLE.sre1]} clicks Approve`);
  await click(bot.client, world, 'nginx', plan, 'backout_approve', PEOPLE.sre1);
  const gate = await gateMessage(world, 'nginx', plan.ts, 60_000);
  out(
    `  The canary stopped at 50 % and asks for a human: canary-weight went ${weightPatches(world, 'nginx').join(' → ')}.`,
  );
  out(`> @${names[PEOPLE.requester]} clicks Promote to 100 %`);
  out(
    indent(
      say(
        (
          JSON.parse(await click(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.requester)) as {
            text: string;
          }
        ).text,
      ),
      '  (only alice) ',
    ),
  );
  out(`> @${names[PEOPLE.sre2]} clicks Promote to 100 %`);
  await click(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.sre2);
  await withProgress(
    'thread replies posted',
    () => world.slack.thread(channel, plan.ts).length,
    (async () => {
      await cardSays(world, 'nginx', plan.ts, /promoted/, 60_000);
      await waitFor(
        () => world.slack.thread(channel, plan.ts).some((m) => /Step 6\/6.*finished/.test(m.text)),
        { what: 'report' },
      );
    })(),
  );
  out();
  out(`#${names[channel] ?? 'web'} — the canary card and its thread:`);
  out(indent(say(world.slack.transcript(channel, plan.ts)), '  │ '));
  out();
  out(
    `Kubernetes: canary-weight went ${weightPatches(world, 'nginx').join(' → ')}; deployment/web now runs ${world.prod.get('Deployment', 'shop', 'web')?.spec?.template.spec?.containers[0]?.image}.`,
  );
  out();
}
