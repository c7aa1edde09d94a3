import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditFile } from '../../src/audit/file.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { auditVerify } from '../../src/cli/audit-verify.js';
import { TIMERS_QUEUE } from '../../src/queue/job-definition.js';
import { captureIo } from '../cli/kit.js';
import { cardIn, click, run, waitCard } from '../kit/flows.js';
import { TcpProxy } from '../kit/tcp-proxy.js';
import { createWorld, deleteKeys, PEOPLE, type RunningApp, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

describe('Redis dropped for several seconds', () => {
  let world: World;
  let proxy: TcpProxy;
  let bot: RunningApp;

  beforeAll(async () => {
    world = await createWorld();
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: 6379 });
    bot = await world.start({ REDIS_URL: proxy.url });
  });
  afterAll(async () => {
    await world.close();
    await proxy.stop();
  });

  const ready = async () => (await fetch(`http://127.0.0.1:${bot.app.port}/healthz/ready`)).status;

  it('commands are still acknowledged and told "queue unavailable, nothing was changed"; the bot recovers without a restart', async () => {
    await waitFor(async () => (await ready()) === 200, { what: 'ready before the outage' });
    proxy.cut();
    await waitFor(async () => (await ready()) === 503, { what: 'readiness to report the outage' });

    const during = await bot.client.command({
      command: '/rollback',
      text: 'checkout-api --reason "during outage"',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    expect(during.status).toBe(200);
    expect(during.elapsedMs).toBeLessThan(3000);
    expect((during.json as { text: string }).text).toMatch(/queue is unavailable.*nothing was changed/i);
    // Help needs no queue and still works.
    const help = await bot.client.command({
      command: '/rollback',
      text: 'help',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    expect(help.body).toContain('/rollback <service>');

    proxy.restore();
    await waitFor(async () => (await ready()) === 200, { what: 'readiness to recover', timeoutMs: 30_000 });
    expect(await world.redis.keys(`${world.prefix}:req:*`)).toHaveLength(0);

    // After the outage the whole path works again: file, approve, run.
    await run(world, bot, '/rollback', 'checkout-api --reason "after outage"');
    const card = await cardIn(world);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done — healthy/);
  });

  it('a click during an outage is acknowledged and answered, and changes nothing', async () => {
    await bot.client.command({
      command: '/rollback',
      text: 'checkout-api --env staging --to 1',
      user_id: PEOPLE.requester,
      channel_id: PEOPLE.checkout,
    });
    await waitFor(async () => (await ready()) === 200, { what: 'ready' });
    proxy.cut();
    const url = world.slack.newResponseUrl();
    const res = await bot.client.blockAction({
      user: PEOPLE.sre1,
      channel: PEOPLE.checkout,
      messageTs: '1.1',
      actionId: 'backout_approve',
      value: JSON.stringify({ r: 'rb-aaaaaaaa', h: '0123456789ab' }),
      responseUrl: url,
    });
    expect(res.status).toBe(200);
    const answer = await waitFor(() => world.slack.responses(url)[0], { what: 'answer during outage' });
    expect(JSON.stringify(answer.body)).toMatch(/queue is unavailable/i);
    proxy.restore();
    await waitFor(async () => (await ready()) === 200, { what: 'recovery', timeoutMs: 30_000 });
  });
});

describe('starting while Redis is down', () => {
  it('the process starts and says it is not ready, then becomes ready and works once Redis answers', async () => {
    const world = await createWorld();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 6379 });
    try {
      proxy.cut();
      const bot = await world.start({ REDIS_URL: proxy.url });
      const ready = async () => (await fetch(`http://127.0.0.1:${bot.app.port}/healthz/ready`)).status;
      expect(await ready()).toBe(503);
      expect((await fetch(`http://127.0.0.1:${bot.app.port}/healthz/live`)).status).toBe(200);
      const during = await bot.client.command({
        command: '/rollback',
        text: 'checkout-api',
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.checkout,
      });
      expect((during.json as { text: string }).text).toMatch(/queue is unavailable/i);
      proxy.restore();
      await waitFor(async () => (await ready()) === 200, {
        what: 'ready once Redis answers',
        timeoutMs: 30_000,
      });
      await run(world, bot, '/rollback', 'checkout-api --reason "after a cold start"');
      const card = await cardIn(world);
      await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
      await waitCard(world, card, /Done — healthy/);
    } finally {
      await world.close();
      await proxy.stop();
    }
  });
});

describe('Redis restarted without its data while backout runs', () => {
  it('the audit chain goes on from the file behind a checkpoint, the sweep is scheduled again, and the whole path works', async () => {
    const world = await createWorld();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 6379 });
    const timers = new Queue(TIMERS_QUEUE, { connection: world.redis, prefix: world.prefix });
    try {
      const bot = await world.start({ REDIS_URL: proxy.url });
      const ready = async () => (await fetch(`http://127.0.0.1:${bot.app.port}/healthz/ready`)).status;
      await run(world, bot, '/rollback', 'checkout-api --reason "before the loss"');
      const first = await cardIn(world);
      await click(world, bot, first, 'backout_approve', PEOPLE.sre1);
      await waitCard(world, first, /Done — healthy/);
      // Everything delivered, so the loss takes no message with it.
      await waitFor(async () => (await world.redis.scard(`${world.prefix}:notify:backlog`)) === 0, {
        what: 'the outbox to empty',
      });
      await waitFor(async () => (await timers.getJobScheduler('sweep')) !== undefined, {
        what: 'the sweep to be scheduled',
      });

      // Redis goes away and comes back empty.
      proxy.cut();
      await deleteKeys(world.redis, world.prefix);
      expect(await timers.getJobScheduler('sweep')).toBeUndefined();
      proxy.restore();
      await waitFor(async () => (await ready()) === 200, { what: 'ready again', timeoutMs: 30_000 });
      await waitFor(async () => (await timers.getJobScheduler('sweep')) !== undefined, {
        what: 'the sweep to be scheduled again',
        timeoutMs: 30_000,
      });

      await run(world, bot, '/rollback', 'checkout-api --reason "after the loss"');
      const second = await cardIn(world, PEOPLE.checkout, 1);
      await click(world, bot, second, 'backout_approve', PEOPLE.sre1);
      await waitCard(world, second, /Done — healthy/);

      // The stream starts at a checkpoint after the file's last record; the file holds both runs.
      const stream = (await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+')).map(
        ([, f]) => JSON.parse(f[1]!) as AuditRecord,
      );
      expect(stream[0]).toMatchObject({ type: 'audit.checkpoint' });
      const file = await readAuditFile(join(world.rawEnv.AUDIT_LOG_DIR!, 'audit.jsonl'));
      expect(file.filter((r) => r.type === 'job.succeeded')).toHaveLength(2);
      expect(file.map((r) => r.seq)).toEqual(file.map((_, i) => i + 1));
      const cap = captureIo(world.rawEnv);
      expect(await auditVerify([], cap.io)).toBe(0);
      expect(cap.stdout()).toMatch(/anchored by checkpoint/);
    } finally {
      await timers.close();
      await world.close();
      await proxy.stop();
    }
  });
});
