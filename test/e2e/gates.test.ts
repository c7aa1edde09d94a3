import { afterEach, describe, expect, it } from 'vitest';
import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type World } from '../kit/world.js';
import {
  answerAt,
  canaryConfigYaml,
  card,
  click as canaryClick,
  gateMessage,
  SERVICES,
  seedCanaries,
  slash,
} from './canary-kit.js';

const REPO = 'acme/web';
const TICKET = 'https://tickets.example.com/CHG-1042';
const tag = SERVICES.nginx.image.split(':')[1]!;

/** The canary config, with web's production gated on CI (required checks, lint ignored), a probe and a ticket. */
function gatedConfig(w: { prometheus: string; probe: string }): string {
  return canaryConfigYaml({ dwell: '1s', interval: '300ms', startApproval: false })(w)
    .replace('  web:\n    environments:', `  web:\n    github: { repo: ${REPO} }\n    environments:`)
    .replace(
      `channel: ${SERVICES.nginx.channel}`,
      `channel: ${SERVICES.nginx.channel}
        gates:
          ci: { checks: required, ignore: [lint] }
          probes:
            - { url: "${w.probe}/healthz/downstream", expectStatus: 200 }
          ticket: required
          breakGlass: { users: [${PEOPLE.sre2}] }`,
    );
}

async function createdDetails(world: World): Promise<Record<string, unknown> | undefined> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  return entries
    .map(([, f]) => JSON.parse(f[1]!) as { type: string; details?: Record<string, unknown> })
    .find((r) => r.type === 'request.created')?.details;
}

const kubernetesWrites = (world: World) => world.prod.requests.filter((r) => r.method !== 'GET');

describe('gates before forward moves', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('a failing required check blocks the start, saying who may break glass; once it turns green the canary starts and its card lists each gate', async () => {
    world = await createWorld({ config: gatedConfig });
    seedCanaries(world);
    world.github.addRepo(REPO);
    const ci = world.github.checks;
    ci.setRequiredChecks(REPO, 'main', ['build', 'test']);
    ci.setCheckRun(REPO, tag, { name: 'build', conclusion: 'success' });
    ci.setCheckRun(REPO, tag, { name: 'test', conclusion: 'failure' });
    ci.setCheckRun(REPO, tag, { name: 'lint', conclusion: 'failure' });
    ci.addStatus(REPO, tag, { context: 'ci/e2e', state: 'failure' });
    const bot = await world.start();
    const writesBefore = kubernetesWrites(world).length;
    const start = `start ${SERVICES.nginx.image} --ticket ${TICKET}`;

    const blocked = await answerAt(world, (await slash(bot.client, world, 'nginx', start)).responseUrl);
    expect(blocked).toContain(
      'Starting a canary of web in production is blocked by 1 failing gate. Nothing was changed.',
    );
    expect(blocked).toContain(':x: *CI* test failure (required checks on `2.0.0`)');
    expect(blocked).toContain(':white_check_mark: *Probe*');
    expect(blocked).toContain(
      ':white_check_mark: *Ticket* change ticket https://tickets.example.com/CHG-1042',
    );
    expect(blocked).toContain('<@U0SRE2> may override with `--break-glass');

    // Someone not on the break-glass list cannot override.
    const refused = await answerAt(
      world,
      (await slash(bot.client, world, 'nginx', `${start} --break-glass "customers waiting"`)).responseUrl,
    );
    expect(refused).toContain(
      'You may not override the gates of web in production, so --break-glass was refused',
    );

    // A re-run is still running: pending is not passed.
    ci.setCheckRun(REPO, tag, { name: 'test', status: 'in_progress' });
    expect(await answerAt(world, (await slash(bot.client, world, 'nginx', start)).responseUrl)).toContain(
      ':x: *CI* test is in_progress',
    );
    // No ticket: blocked too.
    expect(
      await answerAt(
        world,
        (await slash(bot.client, world, 'nginx', `start ${SERVICES.nginx.image}`)).responseUrl,
      ),
    ).toContain('a change ticket is required: add `--ticket <url>`');
    expect(world.slack.messages(SERVICES.nginx.channel)).toHaveLength(0);
    expect(kubernetesWrites(world)).toHaveLength(writesBefore);

    // Green (lint still fails, but it is ignored; ci/e2e is not required).
    ci.setCheckRun(REPO, tag, { name: 'test', conclusion: 'success' });
    expect(await answerAt(world, (await slash(bot.client, world, 'nginx', start)).responseUrl)).toContain(
      'Started',
    );
    const plan = await card(world, 'nginx');
    const text = JSON.stringify(plan.blocks);
    expect(text).toContain(':white_check_mark: *CI* build, test passed (required checks on `2.0.0`)');
    expect(text).toContain(`:white_check_mark: *Probe* ${world.probe.url}/healthz/downstream answered 200`);
    expect(text).toContain(`:white_check_mark: *Ticket* change ticket ${TICKET}`);
    expect(await createdDetails(world)).toMatchObject({
      ticket: TICKET,
      gates: [
        { gate: 'ci', ok: true },
        { gate: 'probe', ok: true },
        { gate: 'ticket', ok: true },
      ],
    });
    // GitHub was asked exactly as documented.
    const paths = world.github.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain(`GET /repos/${REPO}/commits/${tag}/check-runs`);
    expect(paths).toContain(`GET /repos/${REPO}/commits/${tag}/status`);
    expect(paths).toContain(`GET /repos/${REPO}/branches/main/protection/required_status_checks`);
    expect(world.github.schemaViolations).toEqual([]);

    // At the 100 % gate the gates are read again: a check that turned red refuses the Approve…
    const gate = await gateMessage(world, 'nginx', plan.ts);
    ci.setCheckRun(REPO, tag, { name: 'test', conclusion: 'failure' });
    const promote = await canaryClick(bot.client, world, 'nginx', gate, 'backout_promote', PEOPLE.sre1);
    expect(promote).toContain('Promoting the canary of web to 100 % is blocked by its gates');
    expect(promote).toContain(
      '<@U0SRE2> may approve with `/canary web --env production promote --break-glass',
    );
    // …and someone on the break-glass list may approve it anyway, on the record.
    const glass = await slash(
      bot.client,
      world,
      'nginx',
      'promote --break-glass "rollback is riskier"',
      PEOPLE.sre2,
    );
    expect(await answerAt(world, glass.responseUrl)).toContain('goes to 100 % now');
    const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
    const approved = entries
      .map(([, f]) => JSON.parse(f[1]!) as { type: string; details?: Record<string, unknown> })
      .find((r) => r.type === 'canary.promotion-approved');
    expect(approved?.details).toMatchObject({
      breakGlass: { by: PEOPLE.sre2, reason: 'rollback is riskier' },
    });
  });

  it('break-glass by someone on the list files the canary anyway, on the record', async () => {
    world = await createWorld({ config: gatedConfig });
    seedCanaries(world);
    world.github.addRepo(REPO);
    world.github.checks.setRequiredChecks(REPO, 'main', ['build']);
    world.github.checks.setCheckRun(REPO, tag, { name: 'build', conclusion: 'failure' });
    const bot = await world.start();
    const answer = await answerAt(
      world,
      (
        await slash(
          bot.client,
          world,
          'nginx',
          `start ${SERVICES.nginx.image} --ticket ${TICKET} --break-glass "hotfix for checkout outage"`,
          PEOPLE.sre2,
        )
      ).responseUrl,
    );
    expect(answer).toContain('Started');
    const plan = await card(world, 'nginx');
    expect(JSON.stringify(plan.blocks)).toContain(
      ':rotating_light: *Break-glass* by <@U0SRE2>, overriding the failing gates: hotfix for checkout outage',
    );
    expect(await createdDetails(world)).toMatchObject({
      breakGlass: { by: PEOPLE.sre2, reason: 'hotfix for checkout outage', failing: ['ci'] },
    });
  });

  it('a roll forward is gated on the CI of the image it returns to; the rollback itself is not', async () => {
    world = await createWorld({
      config: (w) =>
        defaultConfigYaml(w).replace(
          `        channel: ${PEOPLE.checkout}\n`,
          `        channel: ${PEOPLE.checkout}\n        gates: { ci: { checks: [build] } }\n`,
        ),
    });
    world.github.addRepo('acme/checkout');
    world.github.checks.setCheckRun('acme/checkout', '1.4.2', { name: 'build', conclusion: 'failure' });
    const bot = await world.start();
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
    const answer = async (url: string) =>
      JSON.stringify(
        (await waitFor(() => world.slack.responses(url)[0], { what: 'roll forward answer' })).body,
      );
    expect(await answer(await click(world, bot, card, 'backout_undo', PEOPLE.requester))).toContain(
      'Rolling checkout-api forward in production is blocked by 1 failing gate. Nothing was changed.\\n:x: *CI* build failure (named checks on `1.4.2`)',
    );
    world.github.checks.setCheckRun('acme/checkout', '1.4.2', { name: 'build', conclusion: 'success' });
    expect(await answer(await click(world, bot, card, 'backout_undo', PEOPLE.requester))).toMatch(
      /Filed `rb-[a-z0-9]{8}`: Roll forward checkout-api in production from revision 4 to revision 3/,
    );
    const forward = await cardIn(world, PEOPLE.checkout, 1);
    expect(JSON.stringify(forward.blocks)).toContain(
      ':white_check_mark: *CI* build passed (named checks on `1.4.2`)',
    );
  });
});
