import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';

/** Slack's replay window is 5 minutes; remember a little longer than that. */
export const REMEMBER_MS = 6 * 60_000;

/** Tells a first delivery of an interaction from a replay of it. */
export interface ReplayGuard {
  /** True the first time `parts` is seen (across every replica), false within the window after. */
  firstTime(parts: readonly string[]): Promise<boolean>;
}

/**
 * A signed interaction payload replayed within Slack's 5-minute window passes signature and
 * timestamp checks. Each click carries its own `action_ts`; the same action_ts, user and
 * action seen twice is the same click delivered again, and is ignored.
 */
export class RedisReplayGuard implements ReplayGuard {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async firstTime(parts: readonly string[]): Promise<boolean> {
    const digest = createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
    const set = await this.redis.set(`${this.prefix}:seen-action:${digest}`, '1', 'PX', REMEMBER_MS, 'NX');
    return set === 'OK';
  }
}
