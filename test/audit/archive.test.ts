import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveAudit } from '../../src/audit/archive.js';
import { scheduleAuditArchive } from '../../src/audit/retention.js';
import { readAuditFile } from '../../src/audit/file.js';
import { auditKeys } from '../../src/audit/log.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { auditVerify } from '../../src/cli/audit-verify.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureIo, runCli } from '../cli/kit.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';
import { FlushedAuditLog, auditKit, rollbackHistory, type AuditKit } from './kit.js';

const DAY = 86_400_000;

/** The `now` that makes records before `first` older than a one-day retention. */
function nowCutting(records: AuditRecord[], first: number): Date {
  return new Date(Date.parse(records[first]!.ts) + DAY);
}

describe('audit retention: archive with a checkpoint', () => {
  let kit: AuditKit;
  let archiveDir: string;

  beforeAll(async () => {
    kit = await auditKit();
    archiveDir = join(kit.env.AUDIT_LOG_DIR!, 'archive');
    for (const e of [
      ...rollbackHistory('rb-1', 'a'),
      ...rollbackHistory('rb-2', 'b'),
      ...rollbackHistory('rb-3', 'c'),
    ]) {
      await kit.audit.append(e);
    }
  });
  afterAll(async () => {
    await kit.close();
  });

  it('moves old records to an archive file, trims the stream and the file, and both still verify', async () => {
    const before = await kit.audit.readStream();
    const now = nowCutting(before, 6);
    const result = await archiveAudit({
      audit: kit.audit,
      redis: kit.redis,
      prefix: kit.prefix,
      dir: kit.env.AUDIT_LOG_DIR!,
      retentionMs: DAY,
      now,
    });
    const archived = before.filter((r) => Date.parse(r.ts) < Date.parse(before[6]!.ts));
    expect(result.archived).toBe(archived.length);
    expect(result.throughSeq).toBe(archived[archived.length - 1]!.seq);

    const [name] = await readdir(archiveDir);
    expect(name).toMatch(/^audit-archive-\d{4}-\d{2}-\d{2}-seq1-\d+\.jsonl$/);
    expect((await readAuditFile(join(archiveDir, name!))).map((r) => r.id)).toEqual(
      archived.map((r) => r.id),
    );

    const stream = await kit.audit.readStream();
    expect(stream[0]!.seq).toBe(result.throughSeq! + 1);
    const checkpoint = stream[stream.length - 1]!;
    expect(checkpoint).toMatchObject({
      type: 'audit.checkpoint',
      details: {
        throughSeq: result.throughSeq,
        throughHash: archived[archived.length - 1]!.hash,
        archive: name,
      },
    });
    const file = await readAuditFile(join(kit.env.AUDIT_LOG_DIR!, 'audit.jsonl'));
    expect(file.map((r) => r.seq)).toEqual(stream.map((r) => r.seq));

    const cap = captureIo(kit.env);
    expect(await auditVerify([], cap.io)).toBe(0);
    expect(cap.stdout()).toContain(
      `anchored by checkpoint seq ${checkpoint.seq} (seq 1–${result.throughSeq} archived to ${name})`,
    );
    expect(cap.stdout()).toMatch(
      /✓ archive .*\(1 file\) \+ live: 19 records from the first one \(seq 1–19\), archives intact/,
    );
  });

  it('archives again across the first cut; archives and live verify together from the first record', async () => {
    const stream = await kit.audit.readStream();
    const result = await archiveAudit({
      audit: kit.audit,
      redis: kit.redis,
      prefix: kit.prefix,
      dir: kit.env.AUDIT_LOG_DIR!,
      retentionMs: DAY,
      now: nowCutting(stream, 6),
    });
    expect(result.archived).toBeGreaterThan(0);
    expect(await readdir(archiveDir)).toHaveLength(2);
    const cap = captureIo(kit.env);
    expect(await auditVerify([], cap.io)).toBe(0);
    expect(cap.stdout()).toMatch(/✓ archive .*\(2 files\) \+ live: 20 records from the first one/);
    expect(await auditVerify(['--no-stream'], captureIo(kit.env).io)).toBe(0);
  });

  it('nothing older than the retention: nothing archived', async () => {
    const result = await archiveAudit({
      audit: kit.audit,
      redis: kit.redis,
      prefix: kit.prefix,
      dir: kit.env.AUDIT_LOG_DIR!,
      retentionMs: DAY,
    });
    expect(result.archived).toBe(0);
  });

  it('an archive edited afterwards is named', async () => {
    const [first] = (await readdir(archiveDir)).sort();
    const path = join(archiveDir, first!);
    const text = await readFile(path, 'utf8');
    try {
      await writeFile(path, text.replace('"actor":"U0REQUEST"', '"actor":"U0NOBODY"'));
      const cap = captureIo(kit.env);
      expect(await auditVerify([], cap.io)).toBe(1);
      expect(cap.stdout()).toMatch(/✗ archive .*record seq 1 \(.*\) was edited/);
      expect(cap.stdout()).toMatch(/✓ stream/);
    } finally {
      await writeFile(path, text);
    }
  });

  it('`backout audit archive` from the real CLI entry archives everything older than --older-than', async () => {
    const { code, stdout } = await runCli(['audit', 'archive', '--older-than', '0ms'], kit.env);
    expect(stdout).toMatch(
      /^Archived \d+ records \(seq \d+–\d+, older than .*\) to .*audit-archive-.*\.jsonl\.\nCheckpoint seq \d+ anchors the live chain/,
    );
    expect(code).toBe(0);
    const verify = await runCli(['audit', 'verify'], kit.env);
    expect(verify.stdout).toContain('The audit chain holds.');
    expect(verify.code).toBe(0);
  });

  it('when Redis lost the stream, the chain continues from the file behind a checkpoint and verifies', async () => {
    const keys = auditKeys(kit.prefix);
    await kit.redis.del(keys.head, keys.stream);
    const restarted = new FlushedAuditLog(
      kit.redis,
      kit.prefix,
      kit.env.AUDIT_LOG_DIR,
      createLogger({ level: 'silent', secrets: [] }),
    );
    await restarted.init();
    await restarted.append(rollbackHistory('rb-4', 'after the loss')[0]!);
    const stream = await restarted.readStream();
    expect(stream[0]?.type).toBe('audit.checkpoint');
    expect(stream[0]?.details?.reason).toContain('Redis had lost the audit stream');
    const cap = captureIo(kit.env);
    expect(await auditVerify([], cap.io)).toBe(0);
    expect(cap.stdout()).toMatch(/✓ stream .*2 records .*anchored by checkpoint/);
  });

  it('when Redis loses the stream while the same process goes on appending, the file keeps every record and verifies', async () => {
    const fresh = await auditKit();
    try {
      for (const e of rollbackHistory('rb-1', 'before')) await fresh.audit.append(e);
      await fresh.audit.flush();
      // Redis restarted without persistence (or was flushed); this process remembers the old head.
      await deleteKeys(fresh.redis, fresh.prefix);
      for (const e of rollbackHistory('rb-2', 'after')) await fresh.audit.append(e);
      await fresh.audit.flush();
      const file = await readAuditFile(fresh.audit.filePath!);
      expect(file.map((r) => r.seq)).toEqual(file.map((_, i) => i + 1));
      expect(file.filter((r) => r.type === 'job.succeeded').map((r) => r.requestId)).toEqual([
        'rb-1',
        'rb-2',
      ]);
      const stream = await fresh.audit.readStream();
      expect(stream[0]).toMatchObject({ type: 'audit.checkpoint', seq: 7, details: { throughSeq: 6 } });
      const cap = captureIo(fresh.env);
      expect(await auditVerify([], cap.io)).toBe(0);
      expect(cap.stdout()).toMatch(/✓ file .*13 records .*the same records as the stream/);
    } finally {
      await fresh.close();
    }
  });
});

describe('the worker archives on a schedule', () => {
  it('archives records older than the retention without anyone running the CLI, and stops on shutdown', async () => {
    const kit = await auditKit();
    const stop = new AbortController();
    let schedule: ReturnType<typeof scheduleAuditArchive> | undefined;
    try {
      for (const e of rollbackHistory('rb-1', 'a')) await kit.audit.append(e);
      schedule = scheduleAuditArchive({
        audit: kit.audit,
        redis: kit.redis,
        prefix: kit.prefix,
        dir: kit.env.AUDIT_LOG_DIR!,
        retentionMs: 0,
        log: createLogger({ level: 'silent', secrets: [] }),
        signal: stop.signal,
        everyMs: 50,
      });
      const stream = await waitFor(
        async () => {
          const s = await kit.audit.readStream();
          return s[0]?.type === 'audit.checkpoint' ? s : undefined;
        },
        { what: 'the scheduled archive' },
      );
      expect(stream[0]?.details?.throughSeq).toBeGreaterThanOrEqual(6);
      stop.abort();
      await schedule.settled();
      const names = await readdir(join(kit.env.AUDIT_LOG_DIR!, 'archive'));
      expect(names.some((n) => n.endsWith('-seq1-6.jsonl'))).toBe(true);
      const cap = captureIo(kit.env);
      expect(await auditVerify([], cap.io)).toBe(0);
    } finally {
      stop.abort();
      // A run that began before the stop finishes writing before the directory goes.
      await schedule?.settled();
      await kit.close();
    }
  });

  it('a verify that runs while archives run waits for each one and never reports a whole chain as broken', async () => {
    const kit = await auditKit();
    let verifying = true;
    let archives = 0;
    // Archives back to back, each of the record appended just before, for as long as the verifies run.
    const archiving = (async () => {
      let round = 0;
      while (verifying) {
        await kit.audit.append(rollbackHistory(`rb-${round++}`, 'a')[0]!);
        const result = await archiveAudit({
          audit: kit.audit,
          redis: kit.redis,
          prefix: kit.prefix,
          dir: kit.env.AUDIT_LOG_DIR!,
          retentionMs: 0,
        });
        archives += result.archived > 0 ? 1 : 0;
      }
    })();
    try {
      for (let i = 0; i < 5 || archives < 10; i++) {
        const caps = [captureIo(kit.env), captureIo(kit.env)];
        const codes = await Promise.all(caps.map((c) => auditVerify([], c.io)));
        expect(codes, caps.map((c) => c.stdout()).join('\n')).toEqual([0, 0]);
      }
    } finally {
      verifying = false;
      await archiving;
      await kit.close();
    }
    expect(archives).toBeGreaterThanOrEqual(10);
  });
});
