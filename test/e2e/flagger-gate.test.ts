import { afterEach, describe, expect, it } from 'vitest';
import { FlaggerStandIn, type FlaggerCanary } from '../doubles/flagger.js';
import { auditTypes, cardIn, cardText, click, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, defaultConfigYaml, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const TOKEN = 'flagger-hook-token-0123456789';
const hook = (bot: RunningApp, type: string) => bot.url.replace('/slack/events', `/hooks/flagger/${type}`);

/** The Canary `shop/checkout-api` (backout's checkout-api in production) paused before promotion. */
function canary(weight: number): FlaggerCanary {
  return {
    name: 'checkout-api',
    namespace: 'shop',
    phase: 'WaitingPromotion',
    checksum: '6d9c7f9b8c',
    metadata: { canaryWeight: String(weight), 'request-success-rate': '99.93', 'request-duration': '212ms' },
  };
}

describe('Flagger gate webhooks', () => {
  let world: World;
  let flagger: FlaggerStandIn | undefined;
  afterEach(async () => {
    flagger?.stop();
    await world.close();
  });

  it('repeated confirm-promotion calls during a pause, on two replicas, post one card that they keep updating; Approve makes the next call pass', async () => {
    world = await createWorld();
    const [a, b] = [
      await world.start({ BACKOUT_WEBHOOK_TOKEN: TOKEN }),
      await world.start({ BACKOUT_WEBHOOK_TOKEN: TOKEN }),
    ];
    flagger = new FlaggerStandIn({ token: TOKEN });
    const urls = [hook(a, 'confirm-promotion'), hook(b, 'confirm-promotion')];
    // The first calls of a new revision arrive at both replicas at once.
    const first = await Promise.all([...urls, ...urls].map((u) => flagger!.call(u, canary(50))));
    expect(first.map((r) => `${r.status} ${r.body}`.slice(0, 120))).toEqual(
      first.map(() => expect.stringMatching(/^403 /) as unknown as string),
    );
    let weight = 50;
    const gate = flagger.waitAtGate(urls, () => canary(weight), 100);
    const card = await cardIn(world);
    expect(card.text).toContain(
      'Flagger gate checkout-api · production: Let Flagger promote shop/checkout-api',
    );
    expect(cardText(world, card)).toContain('request-success-rate 99.93');
    await waitFor(() => flagger!.calls.length >= 12 || undefined, { what: 'Flagger to ask a dozen times' });
    weight = 60;
    await waitCard(world, card, /Flagger asked again at .*canaryWeight 60/);
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(1);
    expect(flagger.calls.every((c) => c.status === 403)).toBe(true);
    expect(flagger.calls.at(-1)?.body).toMatch(/waiting for approval in Slack \(fg-/);

    // Two-person rule and policy as for backout's own canaries: a stranger cannot approve.
    const refused = await click(world, a, card, 'backout_approve', PEOPLE.stranger);
    expect(
      JSON.stringify((await waitFor(() => world.slack.responses(refused)[0], { what: 'refusal' })).body),
    ).toContain('not an approver');
    await click(world, b, card, 'backout_approve', PEOPLE.sre1);
    const passed = await gate;
    expect(passed.body).toMatch(/approved by U0SRE1/);
    await waitCard(world, card, /Done/);
    expect(cardText(world, card)).toContain('approved by <@U0SRE1>');
    const types = await auditTypes(world);
    expect(types.filter((t) => t === 'request.created')).toHaveLength(1);
    expect(types).toContain('request.approved');
    expect(world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts)).toHaveLength(1);
  });

  it('the rollback webhook answers no until someone clicks Roll back on the card, then yes; the gate request is withdrawn', async () => {
    world = await createWorld();
    const bot = await world.start({ BACKOUT_WEBHOOK_TOKEN: TOKEN });
    flagger = new FlaggerStandIn({ token: TOKEN });
    const paused = { ...canary(20), phase: 'Waiting' };
    expect((await flagger.call(hook(bot, 'confirm-rollout'), paused)).status).toBe(403);
    expect((await flagger.call(hook(bot, 'rollback'), paused)).status).toBe(403);
    const card = await cardIn(world);
    expect(card.text).toContain('Let Flagger start the canary shop/checkout-api');
    await click(world, bot, card, 'backout_abort', PEOPLE.sre2);
    const rolled = await waitFor(
      async () => {
        const r = await flagger!.call(hook(bot, 'rollback'), paused);
        return r.passed ? r : undefined;
      },
      { what: 'the rollback hook to pass' },
    );
    expect(rolled.body).toContain('rollback asked for by <@U0SRE2>');
    await waitCard(world, card, /Cancelled/);
    expect(await auditTypes(world)).toEqual(['request.created', 'canary.aborted', 'request.cancelled']);
    // The gate itself stays closed.
    expect((await flagger.call(hook(bot, 'confirm-rollout'), paused)).status).toBe(403);
  });

  it('without BACKOUT_WEBHOOK_TOKEN the hooks do not exist; a wrong token is refused; bad payloads change nothing', async () => {
    world = await createWorld();
    const plain = await world.start();
    const url = hook(plain, 'confirm-promotion');
    expect((await new FlaggerStandIn({ token: TOKEN }).call(url, canary(5))).status).toBe(404);
    const bot = await world.start({ BACKOUT_WEBHOOK_TOKEN: TOKEN });
    const wrong = await new FlaggerStandIn({ token: 'nope' }).call(hook(bot, 'confirm-promotion'), canary(5));
    expect(wrong.status).toBe(401);
    expect((await new FlaggerStandIn({}).call(hook(bot, 'confirm-promotion'), canary(5))).status).toBe(401);
    const post = (body: string) =>
      fetch(hook(bot, 'confirm-promotion'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body,
      });
    const notJson = await post('{');
    expect([notJson.status, await notJson.text()]).toEqual([400, 'the body is not JSON']);
    const noName = await post(JSON.stringify({ namespace: 'shop' }));
    expect(noName.status).toBe(400);
    expect(await noName.text()).toContain('name');
    const unknown = await new FlaggerStandIn({ token: TOKEN }).call(hook(bot, 'confirm-promotion'), {
      ...canary(5),
      name: 'nobody',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('no backout environment runs shop/nobody');
    expect(world.slack.messages(PEOPLE.checkout)).toHaveLength(0);
    expect(await auditTypes(world)).toEqual([]);
  });

  it('an approval nobody gave in time is asked for again on a fresh card, once', async () => {
    world = await createWorld({
      config: (urls) => defaultConfigYaml(urls).replace('approvalTtl: 15m', 'approvalTtl: 1s'),
    });
    const bot = await world.start({ BACKOUT_WEBHOOK_TOKEN: TOKEN });
    flagger = new FlaggerStandIn({ token: TOKEN });
    const url = hook(bot, 'confirm-promotion');
    expect((await flagger.call(url, canary(50))).status).toBe(403);
    const first = await cardIn(world);
    await waitCard(world, first, /Expired/, 15_000);
    const again = await Promise.all([flagger.call(url, canary(50)), flagger.call(url, canary(50))]);
    expect(again.map((r) => r.status)).toEqual([403, 403]);
    const second = await cardIn(world, PEOPLE.checkout, 1);
    expect(second.text).toContain('Let Flagger promote shop/checkout-api');
    // Two replicas' worth of calls after the expiry re-filed it exactly once.
    expect((await auditTypes(world)).filter((t) => t === 'request.created')).toHaveLength(2);
  });
});
