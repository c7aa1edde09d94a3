import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditFile } from '../../src/audit/file.js';
import { auditKeys, RedisAuditLog } from '../../src/audit/log.js';
import { verifyLive } from '../../src/audit/verify.js';
import { createLogger } from '../../src/observability/logger.js';
import { FlushedAuditLog, auditKit, rollbackHistory, type AuditKit } from './kit.js';

describe('the audit log', () => {
  let kit: AuditKit;
  beforeAll(async () => {
    kit = await auditKit();
  });
  afterAll(async () => {
    await kit.close();
  });

  it('two processes writing the same file (backout and the CLI) neither lose nor duplicate a line', async () => {
    const other = new FlushedAuditLog(
      kit.redis,
      kit.prefix,
      kit.env.AUDIT_LOG_DIR,
      createLogger({ level: 'silent', secrets: [] }),
    );
    await Promise.all(
      [kit.audit, other].map(async (log, n) => {
        for (const e of rollbackHistory(`rb-${n}`, 'x').concat(rollbackHistory(`rb-${n}b`, 'y')))
          await log.append(e);
      }),
    );
    await Promise.all([kit.audit.flush(), other.flush()]);
    const file = await readAuditFile(join(kit.env.AUDIT_LOG_DIR!, 'audit.jsonl'));
    expect(file.map((r) => r.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(verifyLive(file).ok).toBe(true);
  });

  it('a burst of 200 concurrent appends from two writers all land, in one unbroken chain', async () => {
    const other = new FlushedAuditLog(
      kit.redis,
      kit.prefix,
      kit.env.AUDIT_LOG_DIR,
      createLogger({ level: 'silent', secrets: [] }),
    );
    const before = (await kit.audit.readStream()).length;
    const events = Array.from({ length: 200 }, (_, i) => ({
      type: 'step.started' as const,
      requestId: `rb-burst${String(i).padStart(3, '0')}`,
    }));
    const records = await Promise.all(events.map((e, i) => (i % 2 ? other : kit.audit).append(e)));
    expect(new Set(records.map((r) => r.seq)).size).toBe(200);
    const stream = await kit.audit.readStream();
    expect(stream).toHaveLength(before + 200);
    expect(verifyLive(stream).ok).toBe(true);
  });

  it('a burst of records is copied to the file by the flushes already waiting their turn, every record once, in order', async () => {
    const records = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        kit.audit.append({ type: 'step.started', requestId: `rb-flush${String(i).padStart(3, '0')}` }),
      ),
    );
    // Asked for while one waits its turn: the same flush, which reads every record written before it starts.
    const first = kit.audit.flush();
    expect(kit.audit.flush()).toBe(first);
    await first;
    const file = await readAuditFile(join(kit.env.AUDIT_LOG_DIR!, 'audit.jsonl'));
    const seqs = file.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const r of records) expect(seqs).toContain(r.seq);
    expect(verifyLive(file).ok).toBe(true);
  });

  it('logs one line per state change with the request id, and the job id for job and step events', async () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      secrets: [],
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    const audit = new RedisAuditLog(kit.redis, kit.prefix, undefined, log);
    for (const e of rollbackHistory('rb-logged', 'x')) await audit.append(e);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => e.event)).toEqual([
      'request.created',
      'request.approved',
      'job.started',
      'step.started',
      'step.finished',
      'job.succeeded',
    ]);
    for (const e of entries) expect(e.requestId).toBe('rb-logged');
    expect(entries.filter((e) => e.jobId === 'rb-logged').map((e) => e.event)).toEqual([
      'job.started',
      'step.started',
      'step.finished',
      'job.succeeded',
    ]);
    expect(entries[3]).toMatchObject({ step: 'apply', msg: 'audit: step.started', service: 'checkout-api' });
  });

  it('reads the chain head from Redis only when another writer has moved it since its own last record', async () => {
    const prefix = kit.otherPrefix();
    const { head } = auditKeys(prefix);
    let headReads = 0;
    // The same connection, counting the reads of the chain head.
    const counted = new Proxy(kit.redis, {
      get(target, name) {
        if (name === 'get')
          return (key: string) => {
            if (key === head) headReads += 1;
            return target.get(key);
          };
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const silent = createLogger({ level: 'silent', secrets: [] });
    const mine = new RedisAuditLog(counted, prefix, undefined, silent);
    const other = new RedisAuditLog(kit.redis, prefix, undefined, silent);
    const event = (n: number) => ({ type: 'step.started' as const, requestId: `rb-head${n}` });
    for (const n of [1, 2, 3]) await mine.append(event(n));
    expect(headReads).toBe(1);
    await other.append(event(4));
    // Its remembered head is stale now: the write is refused, the head read, the record written.
    const fifth = await mine.append(event(5));
    expect(headReads).toBe(2);
    expect(fifth.seq).toBe(5);
    const stream = await mine.readStream();
    expect(stream.map((r) => r.requestId)).toEqual([1, 2, 3, 4, 5].map((n) => `rb-head${n}`));
    expect(verifyLive(stream).ok).toBe(true);
  });

  it('reads a stretch of the stream as text in chunks, from a seq, up to a limit', async () => {
    const prefix = kit.otherPrefix();
    const audit = new RedisAuditLog(
      kit.redis,
      prefix,
      undefined,
      createLogger({ level: 'silent', secrets: [] }),
    );
    for (let n = 1; n <= 12; n++) await audit.append({ type: 'step.started', requestId: `rb-text${n}` });
    const seqs = (texts: string[]) => texts.map((t) => (JSON.parse(t) as { seq: number }).seq);
    expect(seqs(await audit.readStreamText(3, 7, 3))).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(seqs(await audit.readStreamText(10, 100, 2))).toEqual([10, 11, 12]);
    expect(await audit.readStreamText(13, 100)).toEqual([]);
  });
});
