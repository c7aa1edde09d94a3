/**
 * The acknowledgement carries what needs no I/O: the help (usage, examples, the services the config
 * gives this user by name or to everyone) and usage errors with "did you mean". Services a user
 * group gives need a Slack look-up: they follow through response_url.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';

// A service only the on-call group may request.
const LEDGER = `  ledger:
    environments:
      production:
        kubernetes: { context: prod, namespace: fin, deployment: ledger }
        policy: { requesters: { usergroups: [${PEOPLE.oncallGroup}] } }
`;

describe('acknowledged without I/O', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('help: the static part and the open services in the acknowledgement, group-given services after it', async () => {
    world = await createWorld({ config: (w) => defaultConfigYaml(w, LEDGER) });
    const bot = await world.start();
    const lookupsBefore = world.slack.allCallsTo('usergroups.users.list').length;

    const member = await run(world, bot, '/rollback', 'help', { user: PEOPLE.oncall });
    expect(member.ack.status).toBe(200);
    expect(member.ackText).toContain('/rollback <service>');
    expect(member.ackText).toContain('checkout-api');
    expect(member.ackText).not.toContain('ledger');
    expect(member.ackText).toContain('Checking your user groups');
    const followUp = await member.answer();
    expect(followUp).toContain('ledger');
    expect(followUp).toContain('checkout-api');
    expect(world.slack.allCallsTo('usergroups.users.list').length).toBeGreaterThan(lookupsBefore);

    const stranger = await run(world, bot, '/rollback', 'help', { user: PEOPLE.stranger });
    expect(stranger.ackText).toContain('checkout-api');
    expect(await stranger.answer()).not.toContain('ledger');
  });

  it('help without group policies is whole in the acknowledgement, and nothing follows', async () => {
    world = await createWorld();
    const bot = await world.start();
    const help = await run(world, bot, '/rollback', 'help', { user: PEOPLE.stranger });
    expect(help.ackText).toContain('*Services you may act on*');
    expect(help.ackText).toContain('payments');
    expect(help.ackText).not.toContain('Checking your user groups');
    // A later command's answer arrives; the help's response_url never gets one.
    await run(world, bot, '/rollback', 'checkout-api history').then((h) => h.answer());
    expect(
      world.slack.responses().filter((r) => JSON.stringify(r.body).includes('Services you may act on')),
    ).toHaveLength(0);
    // Answered in full by the acknowledgement, and still counted.
    expect(await commandsCounted(bot.app.port, 'help')).toBe(1);
  });

  it('a typo is refused in the acknowledgement with "did you mean", and nothing is filed', async () => {
    world = await createWorld();
    const bot = await world.start();
    const typo = await run(world, bot, '/rollback', 'chekout-api');
    expect(typo.ack.status).toBe(200);
    expect(typo.ackText).toMatch(/checkout-api/);
    expect(typo.ackText.toLowerCase()).toContain('did you mean');
    await waitFor(async () => (await world.redis.keys(`${world.prefix}:req:*`)).length === 0, {
      what: 'no request filed',
    });
    expect(await commandsCounted(bot.app.port, 'usage_error')).toBe(1);
  });
});

/** backout_commands_total for /rollback with this result, as /metrics reports it. */
async function commandsCounted(port: number, result: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('backout_commands_total{') &&
        l.includes(`result="${result}"`) &&
        l.includes('command="/rollback"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}
