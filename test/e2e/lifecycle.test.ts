import { afterEach, describe, expect, it } from 'vitest';
import { spawnBackout } from '../kit/process.js';
import { findButton } from '../kit/slack-signing.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('start-up and shutdown', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('missing secrets and a broken config stop start-up at once, listing every problem in one message', async () => {
    world = await createWorld();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      world.configPath,
      'services:\n  checkout-api:\n    environments:\n      production: { default: true }\n',
    );
    const bot = await spawnBackout(
      world,
      { SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', PORT: 'eighty' },
      { waitReady: false },
    );
    const code = await bot.exited;
    const text = bot.output.join('');
    expect(code).toBe(1);
    expect(text).toMatch(/backout cannot start: 4 problems/);
    expect(text).toContain('SLACK_BOT_TOKEN is missing');
    expect(text).toContain('SLACK_SIGNING_SECRET is missing');
    expect(text).toContain('PORT must be a port number');
    expect(text).toContain('services.checkout-api.environments.production.kubernetes: required');
    expect(text).toContain('manifest.yml');
    expect(text).toContain('README.md');
  });

  it('SIGTERM during a rollout: the process exits within its shutdown bound and another worker finishes the job', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 1_500 });
    const first = await spawnBackout(world, { BACKOUT_SHUTDOWN_TIMEOUT: '3s' });
    await first.client.command({
      command: '/rollback',
      text: 'checkout-api',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    const card = await waitFor(() => world.slack.messages(PEOPLE.checkout).find((m) => !m.thread_ts), {
      what: 'card',
      timeoutMs: 20_000,
    });
    const approve = findButton(card.blocks, 'backout_approve');
    await first.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: card.ts,
      actionId: approve.actionId,
      value: approve.value,
      responseUrl: world.slack.newResponseUrl(),
    });
    await waitFor(
      () => world.slack.thread(PEOPLE.checkout, card.ts).some((m) => m.text.includes('Step 4/6')),
      { what: 'wait step', timeoutMs: 20_000 },
    );
    const stopping = Date.now();
    expect(await first.terminate()).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 50 });
    const second = await spawnBackout(world);
    try {
      await waitFor(
        () =>
          /Done — healthy/.test(world.slack.message(PEOPLE.checkout, card.ts)?.text ?? '') ||
          /healthy/.test(JSON.stringify(world.slack.message(PEOPLE.checkout, card.ts)?.blocks)),
        {
          what: 'the job to finish on the second process',
          timeoutMs: 30_000,
        },
      );
    } finally {
      await second.terminate();
    }
    expect(
      world.prod.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/checkout-api')),
    ).toHaveLength(1);
  });
});
