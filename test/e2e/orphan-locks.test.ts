import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS_QUEUE, TIMERS_QUEUE } from '../../src/queue/job-definition.js';
import { TargetLocks } from '../../src/requests/target-lock.js';
import { QueueNotifier } from '../../src/slack/notifier.js';
import { auditTypes, cardIn, click, deploymentPatches, run, sweepNow, waitCard } from '../kit/flows.js';
import { waitFor } from '../kit/wait.js';
import { createWorld, PEOPLE, type RunningApp, type World } from '../kit/world.js';

const requestIdOf = (card: { blocks?: unknown[] }) =>
  /`(rb-[a-z0-9]{8})`/.exec(JSON.stringify(card.blocks))?.[1] ?? '';

describe('the sweep frees orphaned target locks and trims the request index', () => {
  let world: World;
  let bot: RunningApp;
  let timers: Queue;
  let jobs: Queue;

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.start();
    timers = new Queue(TIMERS_QUEUE, { connection: world.redis, prefix: world.prefix });
    jobs = new Queue(JOBS_QUEUE, { connection: world.redis, prefix: world.prefix });
  });
  afterAll(async () => {
    await timers.close();
    await jobs.close();
    await world.close();
  });

  const sweep = () => sweepNow(timers);

  const lockKey = (target: string) => `${world.prefix}:target:${target}`;
  /** Locks taken as backout takes them (so they are in the index the sweep reads). */
  const locks = () => new TargetLocks(world.redis, world.prefix);

  it('a pending request whose expiry timer was lost is expired, its card says so, and the target is free', async () => {
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world);
    const id = requestIdOf(card);
    expect(await world.redis.get(lockKey('checkout-api/production'))).toBe(id);
    // The timer is lost and the approval window long over.
    await timers.remove(`expire-${id}`);
    const key = `${world.prefix}:req:${id}`;
    const spec = JSON.parse((await world.redis.hget(key, 'spec'))!) as { expiresAt: number };
    spec.expiresAt = Date.now() - 120_000;
    await world.redis.hset(key, { spec: JSON.stringify(spec), expiresAt: String(spec.expiresAt) });
    await sweep();
    const text = await waitCard(world, card, /Expired/);
    expect(text).toContain('was freed by the sweep (the expiry timer did not fire)');
    expect(await world.redis.get(lockKey('checkout-api/production'))).toBeNull();
    expect(await auditTypes(world)).toContain('request.expired');
  });

  it('a running request whose job is gone is marked failed with the reason on its card, and its target is freed', async () => {
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world, PEOPLE.checkout, 1);
    const id = requestIdOf(card);
    await click(world, bot, card, 'backout_approve', PEOPLE.sre1);
    await waitCard(world, card, /Done/);
    // A crash left it "running", holding the target, with its job removed.
    await world.redis.hset(`${world.prefix}:req:${id}`, 'state', 'running');
    expect(await locks().acquire('checkout-api/production', id)).toEqual({ ok: true });
    await (await jobs.getJob(id))?.remove();
    await sweep();
    const text = await waitCard(world, card, /Failed/);
    expect(text).toContain('its job is gone while the request was still running');
    expect(await world.redis.get(lockKey('checkout-api/production'))).toBeNull();
    expect(await world.redis.hget(`${world.prefix}:req:${id}`, 'state')).toBe('failed');
  });

  it('a lock whose holder no longer exists is freed, one being filed is kept; index entries past retention are trimmed', async () => {
    expect(await locks().acquire('payments/production', 'rb-vanished')).toEqual({ ok: true });
    // Taken moments ago by a request not stored yet: that request is being filed, and keeps it.
    expect(await locks().acquire('ledger/production', 'rb-0filing')).toEqual({ ok: true });
    // The vanished holder took its lock over a minute ago (the lock lives 6 h from its last renewal).
    await world.redis.pexpire(lockKey('payments/production'), 6 * 3_600_000 - 61_000);
    const index = `${world.prefix}:reqs:by-time`;
    await world.redis.zadd(index, Date.now() - 31 * 86_400_000, 'rb-ancient');
    await sweep();
    expect(await world.redis.get(lockKey('payments/production'))).toBeNull();
    expect(await world.redis.get(lockKey('ledger/production'))).toBe('rb-0filing');
    expect(await world.redis.zscore(index, 'rb-ancient')).toBeNull();
    expect(await world.redis.zcard(index)).toBeGreaterThan(0);
  });

  it('an approved request whose job was never queued (the process died between the two) is queued by the sweep and runs once', async () => {
    const cardsBefore = world.slack.messages(PEOPLE.checkout).filter((m) => !m.thread_ts).length;
    await run(world, bot, '/rollback', 'checkout-api');
    const card = await cardIn(world, PEOPLE.checkout, cardsBefore);
    const id = requestIdOf(card);
    const patchesBefore = deploymentPatches(world.prod).length;
    // What the approval script leaves, had the process died before queue.add: approved, run 1,
    // recorded a minute ago, and no job.
    await timers.remove(`expire-${id}`);
    await world.redis.hset(`${world.prefix}:req:${id}`, {
      state: 'approved',
      approver: PEOPLE.sre1,
      approvedAt: String(Date.now() - 60_000),
      updatedAt: String(Date.now() - 60_000),
      run: '1',
    });
    expect(await jobs.getJob(id)).toBeUndefined();
    await sweep();
    const text = await waitCard(world, card, /Done/);
    expect(text).toContain('Done');
    expect(deploymentPatches(world.prod)).toHaveLength(patchesBefore + 1);
    expect(await world.redis.hget(`${world.prefix}:req:${id}`, 'state')).toBe('succeeded');
    // A second sweep finds nothing more to queue.
    await sweep();
    expect(deploymentPatches(world.prod)).toHaveLength(patchesBefore + 1);
  });

  it('an outbox whose drain job was lost is delivered by the sweep', async () => {
    // Queued as backout queues it, but its drain job went to a queue nobody works (as if lost).
    const nowhere = new Queue('nowhere', { connection: world.redis, prefix: world.prefix });
    try {
      await new QueueNotifier(world.redis, nowhere, world.prefix).post('lost.drain.card', PEOPLE.checkout, {
        text: 'queued before the drain job was lost',
      });
    } finally {
      await nowhere.obliterate({ force: true });
      await nowhere.close();
    }
    expect(await world.redis.sismember(`${world.prefix}:notify:backlog`, PEOPLE.checkout)).toBe(1);
    await sweep();
    await waitFor(
      () =>
        world.slack.messages(PEOPLE.checkout).some((m) => m.text === 'queued before the drain job was lost'),
      { what: 'the lost outbox entry to be delivered' },
    );
    await waitFor(
      async () => (await world.redis.sismember(`${world.prefix}:notify:backlog`, PEOPLE.checkout)) === 0,
      { what: 'the channel to leave the backlog index' },
    );
  });
});
