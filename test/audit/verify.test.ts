import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditVerify } from '../../src/cli/audit-verify.js';
import { auditKeys } from '../../src/audit/log.js';
import { hashRecord, type AuditRecord } from '../../src/audit/record.js';
import { captureIo, runCli } from '../cli/kit.js';
import { auditKit, rollbackHistory, type AuditKit } from './kit.js';

/** Rewrites a copy of the file with `change` applied to its records, and verifies the copy. */
async function verifyTamperedFile(kit: AuditKit, change: (records: AuditRecord[]) => AuditRecord[]) {
  const original = (await readFile(join(kit.env.AUDIT_LOG_DIR!, 'audit.jsonl'), 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditRecord);
  const copy = join(kit.dir, `copy-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(
    copy,
    change(original.map((r) => ({ ...r })))
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  const cap = captureIo(kit.env);
  const code = await auditVerify(['--file', copy, '--no-stream'], cap.io);
  return { code, out: cap.stdout() };
}

/** Copies the stream under another prefix with `change` applied on the way (stream ids stay seq-0 in order), and verifies the copy. */
async function verifyTamperedStream(kit: AuditKit, change: (records: AuditRecord[]) => unknown[]) {
  const prefix = kit.otherPrefix();
  const keys = auditKeys(prefix);
  const records = await kit.audit.readStream();
  let id = 0;
  for (const r of change(records.map((x) => ({ ...x })))) {
    id = Math.max(id + 1, (r as AuditRecord).seq);
    await kit.redis.xadd(keys.stream, `${id}-0`, 'record', JSON.stringify(r));
  }
  const last = records[records.length - 1]!;
  await kit.redis.set(keys.head, `${last.seq} ${last.hash}`);
  const cap = captureIo({ ...kit.env, BACKOUT_PREFIX: prefix, AUDIT_LOG_DIR: join(kit.dir, 'nowhere') });
  const code = await auditVerify([], cap.io);
  return { code, out: cap.stdout() };
}

describe('backout audit verify', () => {
  let kit: AuditKit;
  let records: AuditRecord[];

  beforeAll(async () => {
    kit = await auditKit();
    for (const event of [...rollbackHistory('rb-1', 'first'), ...rollbackHistory('rb-2', 'second')]) {
      await kit.audit.append(event);
    }
    records = await kit.audit.readStream();
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
  afterAll(async () => {
    await kit.close();
  });

  it('says an untouched log holds, from the real CLI entry, and exits 0', async () => {
    const { code, stdout } = await runCli(['audit', 'verify'], kit.env);
    expect(stdout).toMatch(/✓ stream .*12 records \(seq 1–12\), chained from the first record/);
    expect(stdout).toMatch(/✓ file .*12 records \(seq 1–12\).*the same records as the stream/);
    expect(stdout).toContain('The audit chain holds.');
    expect(code).toBe(0);
  });

  it('names the edited record when a field of the file was changed', async () => {
    const r = await verifyTamperedFile(kit, (rs) => {
      rs[4]!.actor = 'U0SOMEONEELSE';
      return rs;
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`record seq 5 (${records[4]!.id}) was edited`);
  });

  it('names the edited record even when its hash was recomputed', async () => {
    const r = await verifyTamperedFile(kit, (rs) => {
      const edited = { ...rs[4]!, outcome: 'healthy' };
      rs[4] = { ...edited, hash: hashRecord(edited) };
      return rs;
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`record seq 5 (${records[4]!.id}) is not the record seq 6 was chained to`);
  });

  it('names the place of a removed record', async () => {
    const r = await verifyTamperedFile(kit, (rs) => rs.filter((x) => x.seq !== 7));
    expect(r.code).toBe(1);
    expect(r.out).toContain(`record seq 8 (${records[7]!.id}) follows seq 6: seq 7 was removed before it`);
  });

  it('names the first record when the ones before it were removed', async () => {
    const r = await verifyTamperedFile(kit, (rs) => rs.slice(2));
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `record seq 3 (${records[2]!.id}) is the first one, but no checkpoint accounts for seq 1–2`,
    );
  });

  it('names the first record out of place when two were swapped', async () => {
    const r = await verifyTamperedFile(kit, (rs) => [
      ...rs.slice(0, 3),
      rs[5]!,
      rs[4]!,
      rs[3]!,
      ...rs.slice(6),
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`record seq 6 (${records[5]!.id}) is out of order: it comes before seq 4`);
  });

  it('names a line that is not JSON', async () => {
    const copy = join(kit.dir, 'garbled.jsonl');
    await copyFile(join(kit.env.AUDIT_LOG_DIR!, 'audit.jsonl'), copy);
    const lines = (await readFile(copy, 'utf8')).split('\n');
    lines[3] = lines[3]!.slice(0, 40);
    await writeFile(copy, lines.join('\n'));
    const cap = captureIo(kit.env);
    expect(await auditVerify(['--file', copy, '--no-stream'], cap.io)).toBe(1);
    expect(cap.stdout()).toContain('record #4 is not an audit record');
  });

  it('notices a file that lost its last records, or differs from the stream', async () => {
    const file = join(kit.env.AUDIT_LOG_DIR!, 'audit.jsonl');
    const text = await readFile(file, 'utf8');
    try {
      await writeFile(file, text.split('\n').slice(0, 10).join('\n') + '\n');
      let cap = captureIo(kit.env);
      expect(await auditVerify([], cap.io)).toBe(1);
      expect(cap.stdout()).toMatch(
        /✗ file .*ends at seq 10 but the stream goes on to seq 12: seq 11–12 are missing/,
      );
      expect(cap.stdout()).toMatch(/✓ stream/);

      // A consistent forgery of the whole file (every hash recomputed) still differs from the stream.
      const forged: AuditRecord[] = [];
      let prevHash = '0'.repeat(64);
      for (const r of text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditRecord)) {
        const body = { ...r, prevHash, ...(r.seq === 2 ? { approver: 'U0FORGER' } : {}) };
        const hash = hashRecord(body);
        forged.push({ ...body, hash });
        prevHash = hash;
      }
      await writeFile(file, forged.map((r) => JSON.stringify(r)).join('\n') + '\n');
      cap = captureIo(kit.env);
      expect(await auditVerify([], cap.io)).toBe(1);
      expect(cap.stdout()).toContain(`record seq 2 (${records[1]!.id}) is not the stream's record seq 2`);
    } finally {
      await writeFile(file, text);
    }
  });

  it('names the first bad record of a tampered stream: edited, removed, reordered, cut at the end', async () => {
    let r = await verifyTamperedStream(kit, (rs) => {
      rs[3]!.outcome = 'fine';
      return rs;
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`✗ stream`);
    expect(r.out).toContain(`record seq 4 (${records[3]!.id}) was edited`);

    r = await verifyTamperedStream(kit, (rs) => rs.filter((x) => x.seq !== 9));
    expect(r.out).toContain(`record seq 10 (${records[9]!.id}) follows seq 8: seq 9 was removed before it`);

    r = await verifyTamperedStream(kit, (rs) => [...rs.slice(0, 3), rs[4]!, rs[3]!, ...rs.slice(5)]);
    expect(r.out).toContain(`record seq 5 (${records[4]!.id}) is out of order: it comes before seq 4`);

    r = await verifyTamperedStream(kit, (rs) => rs.slice(0, -1));
    expect(r.out).toContain(
      'the stream ends at seq 11 but the chain head is seq 12: seq 12–12 were removed from the end',
    );
    expect(r.code).toBe(1);
  });
});

describe('backout audit verify when Redis lost its data', () => {
  it('says the stream is empty and checks the file that is left', async () => {
    const kit = await auditKit();
    try {
      for (const e of rollbackHistory('rb-1', 'a')) await kit.audit.append(e);
      const keys = auditKeys(kit.prefix);
      await kit.redis.del(keys.head, keys.stream);
      const cap = captureIo(kit.env);
      expect(await auditVerify([], cap.io)).toBe(0);
      expect(cap.stdout()).toMatch(/^- stream .*: empty, but the file has 6 records: Redis lost its data/m);
      expect(cap.stdout()).toMatch(/^✓ file .*6 records \(seq 1–6\), chained from the first record$/m);
    } finally {
      await kit.close();
    }
  });
});
