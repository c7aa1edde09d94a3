import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFY_QUEUE, QueueNotifier } from '../../src/slack/notifier.js';
import { SlackDouble } from '../doubles/slack.js';
import { testDrainer, UNPACED } from '../kit/drainer.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RUNS = 200;
/** Runs per child process: all killed at the same point of their own drain. */
const PER_CHILD = 10;
const PARALLEL = 2;
const LOCK_MS = 300;
/** Slack's latency for posts in `during` runs: the kill lands while Slack is still on the call. */
const SLOW_MS = 500;
/** Well beyond SLOW_MS (plus the time a call takes to reach Slack on a busy machine): an unanswered post may land until then. */
const SETTLE_MS = 2_500;
const POINTS = ['before-call', 'during', 'answered', 'recorded'] as const;

const channelOf = (i: number) => `C0KILL${String(i).padStart(4, '0')}`;

/**
 * SIGKILL at every point of a drain: before the call (the attempt recorded, nothing sent),
 * during it (Slack acting before or after the kill), after Slack's answer and before the
 * record, and after the record before the outbox moves on. Each run drains one channel in a
 * child process that kills itself at the chosen point of the chosen post; a fresh drainer
 * (the same job re-run, or another one once the lock lapses) then finishes the channel.
 */
describe('a drainer killed at any point of a delivery', () => {
  let slack: SlackDouble;
  let redis: Redis;
  let queue: Queue;
  let dir: string;
  let child: string;
  const prefix = `test-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    slack = await SlackDouble.start();
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    queue = new Queue(NOTIFY_QUEUE, { connection: redis, prefix });
    dir = await mkdtemp(join(tmpdir(), 'backout-kill-'));
    // One bundled file starts several times faster than TypeScript loaded module by module.
    child = join(dir, 'child.mjs');
    await build({
      entryPoints: [join(HERE, 'notifier-kill-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: child,
      minify: true,
      logLevel: 'error',
      banner: {
        js: "import { createRequire as __req } from 'node:module'; const require = __req(import.meta.url);",
      },
    });
  });
  afterAll(async () => {
    await queue.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await slack.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The drainer that finishes each channel after the kill, as any other worker would. */
  function recoveryDrainer() {
    return testDrainer(
      { redis, prefix, slackApiUrl: slack.apiUrl },
      { lockMs: LOCK_MS, settleMs: SETTLE_MS, pace: UNPACED },
    );
  }

  async function queueRun(i: number): Promise<void> {
    const notifier = new QueueNotifier(redis, queue, prefix);
    const k = `run${i}`;
    await notifier.post(`${k}.card`, channelOf(i), { text: `card ${i}` });
    await notifier.reply(`${k}.card`, `${k}.r1`, { text: `reply 1 of ${i}` });
    await notifier.update(`${k}.card`, { text: `card ${i}, edited` });
    await notifier.reply(`${k}.card`, `${k}.r2`, { text: `reply 2 of ${i}` });
  }

  /** Finishes run i's channel after the kill, then checks every message is there once, in order. */
  async function recoverAndCheck(
    i: number,
    drain: ReturnType<typeof testDrainer>,
    label: string,
  ): Promise<void> {
    const channel = channelOf(i);
    // Half the runs: BullMQ re-runs the same job (it takes its lock back at once); the others:
    // another drain job, which waits for the dead one's lock to lapse.
    const owner = i % 2 === 0 ? `drain-${channel}` : `drain-other-${channel}`;
    // Drives the drainer until the channel's outbox is empty (a drain asked to come back later,
    // or refused while the dead one's lock has not lapsed, is simply driven again at the next poll).
    await waitFor(
      async () => {
        const later = await drain(channel, owner).catch(() => 20);
        return later === undefined && (await redis.exists(`${prefix}:notify:lanes:${channel}`)) === 0;
      },
      { timeoutMs: 15_000, intervalMs: 30, what: `run ${i} (${label}): the outbox to empty` },
    );
    const top = slack.messages(channel).filter((m) => m.thread_ts === undefined);
    expect(
      top.map((m) => m.text),
      `run ${i} (${label})`,
    ).toEqual([`card ${i}, edited`]);
    expect(
      slack
        .thread(channel, top[0]!.ts)
        .slice(1)
        .map((m) => m.text),
      `run ${i} (${label})`,
    ).toEqual([`reply 1 of ${i}`, `reply 2 of ${i}`]);
    expect(await redis.hget(`${prefix}:notify:msg:run${i}.card`, 'ts')).toBe(top[0]!.ts);
  }

  /** One child process drains PER_CHILD channels and is killed with all of them at the same point. */
  async function oneGroup(g: number, drain: ReturnType<typeof testDrainer>): Promise<void> {
    const point = POINTS[g % POINTS.length]!;
    const at = 1 + (Math.floor(g / POINTS.length) % 3);
    const label = `${point} #${at}`;
    const runs = Array.from({ length: PER_CHILD }, (_, j) => g * PER_CHILD + j);
    for (const i of runs) {
      await queueRun(i);
      if (point === 'during') {
        const channel = channelOf(i);
        slack.delay({
          methods: ['chat.postMessage'],
          ms: SLOW_MS,
          count: 3,
          // Slack acting at once and answering late, or acting only when the wait is over.
          acts: i % 2 === 0 ? 'after' : 'before',
          when: (args) => args.channel === channel,
        });
      }
    }
    const proc = spawn(process.execPath, [child], {
      // Only what the drainers need: no loader hooks inherited from the test runner.
      env: {
        PATH: process.env.PATH ?? '',
        PREFIX: prefix,
        SLACK_API_URL: slack.apiUrl,
        CHANNELS: runs.map(channelOf).join(','),
        KILL_POINT: point,
        KILL_AT: String(at),
        LOCK_MS: String(LOCK_MS),
        SETTLE_MS: String(SETTLE_MS),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      proc.once('exit', (_c, s) => resolve(s)),
    );
    expect(signal, `child ${g} (${label}) should die by SIGKILL\n${stderr}`).toBe('SIGKILL');
    await Promise.all(runs.map((i) => recoverAndCheck(i, drain, label)));
  }

  it(
    `${RUNS} runs: no message lost or doubled, threads in order, edits applied`,
    { timeout: 120_000 },
    async () => {
      let next = 0;
      const drain = recoveryDrainer();
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < RUNS / PER_CHILD) await oneGroup(next++, drain);
        }),
      );
      // Every kill point was reached in earnest: some runs had to look Slack up, some found their post there.
      expect(
        slack.callsTo('conversations.history').length + slack.callsTo('conversations.replies').length,
      ).toBeGreaterThan(0);
    },
  );
});
