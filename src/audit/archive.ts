import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RedisClient } from '../redis/client.js';
import { formatDuration } from '../config/duration.js';
import { serialise, writeFileAtomically } from './file.js';
import { ARCHIVE_DIR, auditKeys, type RedisAuditLog } from './log.js';
import { checkpointOf, type AuditRecord, type CheckpointDetails } from './record.js';
import { verifyLive } from './verify.js';
import { runScript } from '../redis/script.js';

export interface ArchiveResult {
  archived: number;
  fromSeq?: number;
  throughSeq?: number;
  /** Path of the archive file written. */
  file?: string;
  checkpoint?: AuditRecord;
  cutoff: string;
}

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
const LOCK_TTL_MS = 5 * 60_000;

/**
 * Holds the prefix's archive lock while `work` runs, waiting up to `waitMs` for a holder
 * to let go. An archive moves records from the stream to a file in several writes, so an
 * archive and a verify exclude each other: a verify that read in between would report a
 * chain that is whole as broken. Throws when the lock stays held past the wait.
 */
export async function withArchiveLock<T>(
  redis: RedisClient,
  prefix: string,
  waitMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const lockKey = auditKeys(prefix).archiveLock;
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  while ((await redis.set(lockKey, token, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
    if (Date.now() >= deadline) {
      throw new Error(
        'another audit archive or verify has held the audit archive lock for this prefix throughout the wait; nothing was changed, try again in a few minutes',
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await work();
  } finally {
    await runScript(redis, RELEASE, 1, lockKey, token).catch(() => 0);
  }
}

/**
 * Moves records older than the retention out of the live chain: writes them to
 * `<dir>/archive/audit-archive-<date>-seq<from>-<through>.jsonl`, appends an
 * `audit.checkpoint` record naming the last archived record (seq and hash) and the
 * archive's SHA-256, then trims them from the Redis stream. The live chain verifies on
 * its own from the checkpoint, and archives + live verify together from the first record.
 * A run cut short is finished by the next one (the checkpoint is written before the trim).
 */
export async function archiveAudit(opts: {
  audit: RedisAuditLog;
  redis: RedisClient;
  prefix: string;
  dir: string;
  retentionMs: number;
  now?: Date;
  /** How long to wait for a verify or another archive to finish first. */
  lockWaitMs?: number;
}): Promise<ArchiveResult> {
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - opts.retentionMs);
  return withArchiveLock(opts.redis, opts.prefix, opts.lockWaitMs ?? 30_000, async () => {
    let stream = await opts.audit.readStream();
    // Finish a run that wrote its checkpoint but was stopped before trimming.
    const unfinished = [...stream]
      .reverse()
      .map(checkpointOf)
      .find((cp) => cp?.archive);
    if (unfinished && stream[0] && stream[0].seq <= unfinished.throughSeq) {
      await opts.audit.trimStream(unfinished.throughSeq);
      stream = await opts.audit.readStream();
    }
    const verified = verifyLive(stream);
    if (!verified.ok) {
      throw new Error(
        `the live audit chain does not verify, so nothing was archived: ${verified.problem}. Run \`backout audit verify\`.`,
      );
    }
    const old: AuditRecord[] = [];
    for (const r of stream) {
      if (!(Date.parse(r.ts) < cutoff.getTime())) break;
      old.push(r);
    }
    const first = old[0];
    const last = old[old.length - 1];
    if (!first || !last) return { archived: 0, cutoff: cutoff.toISOString() };

    const name = `audit-archive-${now.toISOString().slice(0, 10)}-seq${first.seq}-${last.seq}.jsonl`;
    const file = join(opts.dir, ARCHIVE_DIR, name);
    const sha = await writeFileAtomically(file, serialise(old));
    const details: CheckpointDetails = {
      throughSeq: last.seq,
      throughHash: last.hash,
      fromSeq: first.seq,
      count: old.length,
      archive: name,
      archiveSha256: sha,
      reason: `records older than the retention (${formatDuration(opts.retentionMs)}, before ${cutoff.toISOString()}) were archived`,
    };
    const checkpoint = await opts.audit.append({ type: 'audit.checkpoint', details: { ...details } });
    // The file must hold the checkpoint before the stream is trimmed (and before a CLI run exits).
    await opts.audit.flush();
    await opts.audit.trimStream(last.seq);
    return {
      archived: old.length,
      fromSeq: first.seq,
      throughSeq: last.seq,
      file,
      checkpoint,
      cutoff: cutoff.toISOString(),
    };
  });
}
