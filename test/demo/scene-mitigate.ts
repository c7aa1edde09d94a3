import type { LaunchDarklyDouble } from '../doubles/launchdarkly.js';
import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { indent, readable, withProgress } from './transcript.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

/** cart-api's kill switch lives in LaunchDarkly; turning it off in production needs no approval. */
const CART = `
  cart-api:
    flags: { provider: launchdarkly, project: shop, killSwitches: [resume-v2] }
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: cart-api }
        policy: { flagOff: not-required }
groups:
  cart-release:
    - { service: cart-api, environment: production }
    - { service: checkout-api, environment: production }
`;

export const mitigateConfigYaml = (urls: { prometheus: string; probe: string }) =>
  defaultConfigYaml(urls, CART);

/** Seeds what the scene's world needs besides the default checkout-api: cart-api and its flag. */
export function seedMitigateScene(world: World, ld: LaunchDarklyDouble): void {
  world.prod.addDeployment({
    namespace: 'shop',
    name: 'cart-api',
    replicas: 2,
    containers: ['2.0.0', '2.1.0'].map((v) => [{ name: 'app', image: `shop/cart-api:${v}` }]),
  });
  ld.addFlag('shop', 'resume-v2', { production: true });
}

/** Scene: a release train broke carts; a kill switch first (one action), then the train rolled back. */
export async function playMitigateScene(
  world: World,
  bot: RunningApp,
  names: Record<string, string>,
  ld: LaunchDarklyDouble,
): Promise<void> {
  const say = (text: string) => readable(text, names);
  out('━━ Scene 3 · mitigate first, then roll back a release train ━━');
  out('A week later, a new incident (a fresh set of stand-ins): cart-api 2.1.0 and checkout-api 1.4.2');
  out('went out together as the "cart-release" train, and carts restored by the new resume-v2 path come');
  out('back empty. The fastest safe move is the kill switch; the rollback follows.');
  out();

  const flagText = 'cart-api resume-v2 off --reason "empty carts"';
  out(`> @${names[PEOPLE.requester]}: /flag ${flagText}`);
  const flag = await run(world, bot, '/flag', flagText);
  out(indent(say(flag.ackText), '  (only you) '));
  const flagCard = await cardIn(world);
  await waitCard(world, flagCard, /Done/);
  await waitFor(
    () => world.slack.thread(flagCard.channel, flagCard.ts).some((m) => /turned off/.test(m.text)),
    { what: 'the flag outcome' },
  );
  out();
  out(
    `#${names[PEOPLE.checkout]} — the kill-switch card (production's policy: turning off needs no approval):`,
  );
  out(indent(say(world.slack.transcript(flagCard.channel, flagCard.ts)), '  │ '));
  out(
    `LaunchDarkly: resume-v2 is ${ld.isOn('shop', 'resume-v2', 'production') ? 'still on' : 'off'} in production (${ld.requests.filter((r) => r.method === 'PATCH').length} semantic patch, turnFlagOff).`,
  );
  out();

  const rollbackText = 'cart-release --reason "empty carts after the cart-release train"';
  out(`> @${names[PEOPLE.requester]}: /rollback ${rollbackText}`);
  const rollback = await run(world, bot, '/rollback', rollbackText);
  out(indent(say(rollback.ackText), '  (only you) '));
  const card = await cardIn(world, PEOPLE.checkout, 1);
  out(`> @${names[PEOPLE.sre1]} clicks Approve (one approval covers every member)`);
  await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
  world.prometheus.set('code=~"5.."', 0.0004);
  await withProgress(
    'messages posted in #checkout',
    () => world.slack.messages(PEOPLE.checkout).length,
    (async () => {
      await waitFor(
        () => /every member rolled back in order/.test(world.slack.transcript(card.channel, card.ts)),
        { what: 'the group rollback to finish', timeoutMs: 120_000 },
      );
      // The card's own edit follows its thread's replies in the same lane.
      await waitCard(world, card, /Done/, 60_000);
    })(),
  );
  out();
  out(`#${names[PEOPLE.checkout]} — the group card and its thread:`);
  out(indent(say(world.slack.transcript(card.channel, card.ts)), '  │ '));
  const image = (name: string) =>
    world.prod.get('Deployment', 'shop', name)?.spec?.template.spec?.containers[0]?.image ?? '?';
  out();
  out(
    `Kubernetes: cart-api runs ${image('cart-api')}, then checkout-api ${image('checkout-api')} — in the group's order, each verified before the next.`,
  );
  out();
}
