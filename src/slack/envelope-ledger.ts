import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import { REMEMBER_MS } from './replay-guard.js';

/** How long a claimed envelope is someone's before a redelivery may take it over (a replica that died mid-way). */
const WORKING_MS = 5_000;
const WORKING = 'working';

/** What Slack sends in one Socket Mode envelope, as far as recognising it again goes. */
export interface EnvelopeIdentity {
  envelopeId: string;
  payload: Record<string, unknown>;
}

export type Claim =
  | { first: true }
  /** Seen before: `settled` carries the ack given then, `undefined` while another delivery is still at work. */
  | { first: false; settled?: { payload?: Record<string, unknown> } };

/**
 * Socket Mode's counterpart of the replay guard: Slack delivers an envelope again when its ack was
 * late or lost (same envelope_id), and a payload must not run twice either (same event_id or
 * trigger_id under a new envelope). The first delivery claims both keys across every replica;
 * a later one is answered with the ack the first gave, and runs nothing.
 */
export class EnvelopeLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async claim(e: EnvelopeIdentity): Promise<Claim> {
    const [byEnvelope, byPayload] = this.keys(e);
    const taken = await this.redis.set(byEnvelope!, WORKING, 'PX', WORKING_MS, 'NX');
    if (taken !== 'OK') return this.seen(byEnvelope!);
    if (!byPayload) return { first: true };
    const payloadTaken = await this.redis.set(byPayload, WORKING, 'PX', WORKING_MS, 'NX');
    if (payloadTaken === 'OK') return { first: true };
    const seen = await this.seen(byPayload);
    if (seen.first === false && seen.settled)
      await this.redis.set(byEnvelope!, JSON.stringify(seen.settled), 'PX', REMEMBER_MS);
    else await this.redis.del(byEnvelope!);
    return seen;
  }

  /** Records the ack given, so a redelivery gets the same answer. */
  async settle(e: EnvelopeIdentity, payload: Record<string, unknown> | undefined): Promise<void> {
    const value = JSON.stringify(payload === undefined ? {} : { payload });
    await Promise.all(this.keys(e).map((key) => this.redis.set(key, value, 'PX', REMEMBER_MS)));
  }

  private async seen(key: string): Promise<Claim> {
    const value = await this.redis.get(key);
    if (value === null || value === WORKING) return { first: false };
    return { first: false, settled: JSON.parse(value) as { payload?: Record<string, unknown> } };
  }

  private keys(e: EnvelopeIdentity): string[] {
    const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
    const { event_id: eventId, trigger_id: triggerId } = e.payload;
    const identity = typeof eventId === 'string' ? eventId : typeof triggerId === 'string' ? triggerId : '';
    return [
      `${this.prefix}:envelope:${digest(`id\n${e.envelopeId}`)}`,
      ...(identity ? [`${this.prefix}:envelope:${digest(`payload\n${identity}`)}`] : []),
    ];
  }
}
