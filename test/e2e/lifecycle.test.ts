import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cardIn, click, deploymentPatches, run, waitCard } from '../kit/flows.js';
import { spawnBackout } from '../kit/process.js';
import { createWorld, PEOPLE, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('start-up and shutdown', () => {
  let world: World;
  afterEach(async () => {
    await world.close();
  });

  it('missing secrets and a broken config stop start-up at once, listing every problem in one message', async () => {
    world = await createWorld();
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

  it('settings valid alone but not together are listed too: a GitHub repo without GITHUB_TOKEN, a KUBECONFIG that does not exist', async () => {
    world = await createWorld();
    const bot = await spawnBackout(
      world,
      { GITHUB_TOKEN: '', KUBECONFIG: '/nonexistent/kubeconfig' },
      { waitReady: false },
    );
    expect(await bot.exited).toBe(1);
    const text = bot.output.join('');
    expect(text).toMatch(/backout cannot start: 2 problems/);
    expect(text).toContain('GITHUB_TOKEN is missing: service checkout-api names a GitHub repo');
    expect(text).toContain('KUBECONFIG names /nonexistent/kubeconfig, which does not exist');
  });

  it('a kubeconfig that would send a token over plain http stops start-up, naming the context and the fix', async () => {
    world = await createWorld();
    const kubeconfig = join(world.dir, 'http-kubeconfig');
    writeKubeconfig(kubeconfig, [{ name: 'prod', server: 'http://127.0.0.1:1', token: 'secret-token' }]);
    const bot = await spawnBackout(world, { KUBECONFIG: kubeconfig }, { waitReady: false });
    expect(await bot.exited).toBe(1);
    const text = bot.output.join('');
    expect(text).toContain(
      'kubeconfig context "prod" would send a bearer token to http://127.0.0.1:1 over plain http, which kubectl also refuses',
    );
    expect(text).toContain('Fix: point cluster "prod" at its https:// address');
    expect(text).not.toContain('secret-token');
  });

  it('SIGTERM during a rollout: the process exits within its shutdown bound and another worker finishes the job', async () => {
    world = await createWorld();
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 1_500 });
    const first = await spawnBackout(world, { BACKOUT_SHUTDOWN_TIMEOUT: '3s' });
    await run(world, first, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    await click(world, first, card, 'backout_approve', PEOPLE.sre1);
    await waitFor(() => world.slack.thread(card.channel, card.ts).some((m) => m.text.includes('Step 5/7')), {
      what: 'wait step',
      timeoutMs: 20_000,
    });
    const stopping = Date.now();
    expect(await first.terminate()).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    world.prod.setRollout('shop', 'checkout-api', { mode: 'converge', tickMs: 50 });
    const second = await spawnBackout(world);
    try {
      await waitCard(world, card, /Done — healthy/);
    } finally {
      await second.terminate();
    }
    expect(deploymentPatches(world.prod)).toHaveLength(1);
  });

  it('Socket Mode: with SLACK_APP_TOKEN set and Slack out of reach, backout still starts, is ready, and keeps trying', async () => {
    world = await createWorld();
    const bot = await world.start({ SLACK_APP_TOKEN: 'xapp-1-A0TEST-0000-0000', SLACK_SIGNING_SECRET: '' });
    expect((await fetch(`http://127.0.0.1:${bot.app.port}/healthz/ready`)).status).toBe(200);
    // No HTTP endpoint for Slack in Socket Mode.
    expect((await fetch(bot.url, { method: 'POST', body: '' })).status).toBe(404);
    // The Socket Mode link keeps asking Slack for a connection URL, with backoff.
    await waitFor(() => world.slack.allCallsTo('apps.connections.open').length >= 2, {
      what: 'a second attempt to open the Socket Mode connection',
      timeoutMs: 20_000,
    });
  });
});
