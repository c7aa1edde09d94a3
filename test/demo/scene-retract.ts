import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';
import { REPO, seedReleases } from '../e2e/retract-kit.js';
import { indent, readable, withProgress } from './transcript.js';

const out = (line = '') => process.stdout.write(`${line}\n`);
const text = (body: string) => (JSON.parse(body) as { text: string }).text;

/** Scene: v1.4.2 corrupts carts; alice retracts it and rolls back whatever runs it; bob approves. */
export async function playRetractScene(
  world: World,
  bot: RunningApp,
  names: Record<string, string>,
): Promise<void> {
  const say = (t: string) => readable(t, names);
  seedReleases(world);
  out('━━ Scene 2 · pull a bad release ━━');
  out('Minutes later, same incident: v1.4.2 also corrupts carts on resume. Production is already back on');
  out(
    '1.4.1; staging still runs 1.4.2. Pull the release, point people at v1.4.1, and roll back whatever runs it.',
  );
  out();
  out(
    `> @${names[PEOPLE.requester]}: /retract checkout-api@v1.4.2 --rollback --reason "corrupts carts on resume"`,
  );
  const cardsBefore = world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts).length;
  const filed = await run(
    world,
    bot,
    '/retract',
    'checkout-api@v1.4.2 --rollback --reason "corrupts carts on resume"',
  );
  out(indent(say(text(await filed.answer())), '  (only you) '));
  // Scene 1's card is already in #checkout: this one comes after it.
  const card = await cardIn(world, PEOPLE.checkout, cardsBefore);
  out();
  out(`> @${names[PEOPLE.sre1]} clicks Approve`);
  await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
  await withProgress(
    'thread replies posted',
    () => world.slack.thread(card.channel, card.ts).length,
    (async () => {
      await waitCard(world, card, /— done/, 90_000);
      await waitFor(
        () => world.slack.thread(card.channel, card.ts).some((m) => /is retracted/.test(m.text)),
        { what: 'outcome note', timeoutMs: 30_000 },
      );
    })(),
  );
  out();
  out('#checkout — the retraction card and its thread:');
  out(indent(say(world.slack.transcript(card.channel, card.ts)), '  │ '));
  const v142 = world.github.release(REPO, 'v1.4.2');
  out();
  out(
    `GitHub: v1.4.2 is ${v142.prerelease ? 'a pre-release' : 'a release'}; latest is ${world.github.latest(REPO)?.tag_name}; its notes now begin:`,
  );
  out(indent((v142.body ?? '').split('\n').slice(1, 3).join('\n'), '  '));
  out();
}
