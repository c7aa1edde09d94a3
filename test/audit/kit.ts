import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisAuditLog } from '../../src/audit/log.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/record.js';
import { createLogger } from '../../src/observability/logger.js';

/**
 * The audit log as these tests use it: each append also waits for the JSON-lines copy, so a
 * test can read the file right after appending (backout itself writes the file in the background).
 */
export class FlushedAuditLog extends RedisAuditLog {
  override async append(event: AuditEvent): Promise<AuditRecord> {
    const record = await super.append(event);
    await this.flush();
    return record;
  }
}

export interface AuditKit {
  redis: Redis;
  prefix: string;
  dir: string;
  audit: RedisAuditLog;
  /** Env for the CLI: this Redis prefix and audit directory. */
  env: Record<string, string>;
  /** Another prefix (cleaned up with this kit), for copies of the stream. */
  otherPrefix(): string;
  close(): Promise<void>;
}

export async function auditKit(): Promise<AuditKit> {
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const prefix = `test-audit-${randomUUID().slice(0, 8)}`;
  const dir = await mkdtemp(join(tmpdir(), 'backout-audit-'));
  const audit = new FlushedAuditLog(
    redis,
    prefix,
    join(dir, 'audit'),
    createLogger({ level: 'silent', secrets: [] }),
  );
  const prefixes = [prefix];
  return {
    redis,
    prefix,
    dir,
    audit,
    env: {
      REDIS_URL: 'redis://127.0.0.1:6379',
      BACKOUT_PREFIX: prefix,
      AUDIT_LOG_DIR: join(dir, 'audit'),
    },
    otherPrefix() {
      const p = `${prefix}-copy${prefixes.length}`;
      prefixes.push(p);
      return p;
    },
    async close() {
      for (const p of prefixes) await deleteKeys(redis, p);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A rollback's life, as the flow and the step runner audit it. */
export function rollbackHistory(requestId: string, reason: string): AuditEvent[] {
  const base = {
    requestId,
    service: 'checkout-api',
    environment: 'production',
    actor: 'U0REQUEST',
    planHash: 'a'.repeat(64),
    revision: 2,
  };
  return [
    { type: 'request.created', ...base, details: { reason, title: 'Roll checkout-api back' } },
    { type: 'request.approved', ...base, approver: 'U0SRE1' },
    { type: 'job.started', ...base, approver: 'U0SRE1', details: { run: 1 } },
    { type: 'step.started', ...base, approver: 'U0SRE1', details: { step: 'apply', run: 1 } },
    {
      type: 'step.finished',
      ...base,
      approver: 'U0SRE1',
      details: { step: 'apply', run: 1, durationMs: 12 },
    },
    { type: 'job.succeeded', ...base, approver: 'U0SRE1', outcome: 'healthy', details: { run: 1 } },
  ];
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
