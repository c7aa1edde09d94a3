/**
 * Drainers in their own process, for the SIGKILL test. It drains each channel of CHANNELS
 * against the Slack double; each drain stops at the point named by KILL_POINT the KILL_AT-th
 * time it gets there, and once every channel has, the process kills itself with SIGKILL — so
 * each channel dies at exactly that point. `during`: the KILL_AT-th post has left and Slack
 * is still on it (the test makes those calls slow).
 */
import { Redis } from 'ioredis';
import { testDrainer, UNPACED } from '../kit/drainer.js';
import type { DrainPoint } from '../../src/slack/deliver.js';

const env = process.env;
const channels = (env.CHANNELS ?? '').split(',');
const point = env.KILL_POINT as DrainPoint | 'during';
const at = Number(env.KILL_AT ?? '1');
const seen = new Map<string, number>();
const stopped = new Set<string>();
const never = new Promise<void>(() => undefined);
const die = () => process.kill(process.pid, 'SIGKILL');
// Never linger: a child that cannot reach its point fails the run rather than hang it.
setTimeout(() => process.exit(3), 20_000).unref();

function reached(channel: string): void {
  stopped.add(channel);
  if (stopped.size < channels.length) return;
  if (point === 'during') setTimeout(die, Number(env.KILL_DURING_MS ?? '30'));
  else die();
}

const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const drain = testDrainer(
  { redis, prefix: env.PREFIX!, slackApiUrl: env.SLACK_API_URL! },
  {
    lockMs: Number(env.LOCK_MS),
    settleMs: Number(env.SETTLE_MS),
    pace: UNPACED,
    checkpoint: (p, { channel }) => {
      // A channel that got to its point goes no further until the kill.
      if (stopped.has(channel)) return never;
      const name = point === 'during' && p === 'before-call' ? 'during' : p;
      const n = (seen.get(`${channel}/${name}`) ?? 0) + 1;
      seen.set(`${channel}/${name}`, n);
      if (name !== point || n !== at) return undefined;
      reached(channel);
      return point === 'during' ? undefined : never;
    },
  },
);

// Drains like the notify queue would, until the kill.
await Promise.all(
  channels.map(async (channel) => {
    for (;;) {
      try {
        const later = await drain(channel, `drain-${channel}`);
        await new Promise((r) => setTimeout(r, later ?? 20));
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }),
);
