import { createHash, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../observability/logger.js';
import {
  appendAuditRecords,
  fileIdentity,
  lastAuditRecord,
  readAuditFile,
  serialise,
  writeFileAtomically,
} from './file.js';
import {
  GENESIS_HASH,
  checkpointOf,
  hashRecord,
  type AuditEvent,
  type AuditRecord,
  type CheckpointDetails,
} from './record.js';
import { runScript } from '../redis/script.js';

export { readAuditFile } from './file.js';

/** Appends only if the chain head is still what the caller hashed against. */
const APPEND = `
local head = redis.call('GET', KEYS[1])
local expected = ARGV[1]
if head then
  local sep = string.find(head, ' ')
  if string.sub(head, sep + 1) ~= expected then return 0 end
elseif expected ~= ARGV[4] then
  return 0
end
redis.call('XADD', KEYS[2], ARGV[2] .. '-0', 'record', ARGV[3])
redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. ARGV[5])
return 1
`;

/**
 * Writes the checkpoint that continues a lost chain, only while there is no head and no stream.
 * KEYS: head, stream. ARGV: seq, record JSON, record hash.
 */
const ADOPT = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('XADD', KEYS[2], ARGV[1] .. '-0', 'record', ARGV[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[3])
return 1
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface AuditLog {
  append(event: AuditEvent): Promise<AuditRecord>;
}

/**
 * The next link of the chain, for a caller that writes it in its own Lua script together with
 * another change (a request's transition): the script starts with CHAIN_CHECK and writes with
 * CHAIN_WRITE, so the record and the change land together or not at all.
 */
export interface ChainLink {
  /** head key, stream key: pass them as KEYS[1] and KEYS[2]. */
  keys: [string, string];
  /** expected previous hash, seq, record JSON, genesis hash, record hash: ARGV[1..5]. */
  args: [string, string, string, string, string];
}

/** What the script that carried a link answered: `head-moved` asks for a fresh link. */
export type LinkOutcome<R> = { written: true; result: R } | { written: false; result: R } | 'head-moved';

export interface ChainedAuditLog extends AuditLog {
  /**
   * Builds the next record for `event` and hands its link to `write`, which runs one script that
   * writes the record (CHAIN_WRITE) only if its own change is made too. Retried while another
   * writer moves the head. Resolves with the record when it was written.
   */
  appendWith<R>(
    event: AuditEvent,
    write: (link: ChainLink) => Promise<LinkOutcome<R>>,
  ): Promise<{ record?: AuditRecord; result: R }>;
}

/**
 * Lua, first thing in a script carrying a ChainLink (KEYS[1] head, KEYS[2] stream, ARGV[1..5]):
 * returns {'head-moved'} when another record came first, and refuses (before any write) a
 * stream key that is not a stream, so a broken audit stream changes nothing.
 */
export const CHAIN_CHECK = `
local head = redis.call('GET', KEYS[1])
if head then
  local sep = string.find(head, ' ')
  if string.sub(head, sep + 1) ~= ARGV[1] then return {'head-moved', ''} end
elseif ARGV[1] ~= ARGV[4] then
  return {'head-moved', ''}
end
local streamType = redis.call('TYPE', KEYS[2])['ok']
if streamType ~= 'stream' and streamType ~= 'none' then
  return redis.error_reply('the audit stream ' .. KEYS[2] .. ' is a ' .. streamType .. ', not a stream')
end
`;

/** Lua: the first write of a script carrying a ChainLink (an XADD that fails leaves nothing written). */
export const CHAIN_WRITE = `
redis.call('XADD', KEYS[2], ARGV[2] .. '-0', 'record', ARGV[3])
redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. ARGV[5])
`;

export const AUDIT_FILE = 'audit.jsonl';
export const ARCHIVE_DIR = 'archive';

export const auditKeys = (prefix: string) => ({
  head: `${prefix}:audit:head`,
  stream: `${prefix}:audit:stream`,
  archiveLock: `${prefix}:audit:archive-lock`,
});

/**
 * The tamper-evident log (SPEC §6): each record carries the SHA-256 of the one before.
 * Records go to a Redis stream (stream id = `<seq>-0`, so order is the chain's order) and
 * are mirrored, in order, into `AUDIT_LOG_DIR/audit.jsonl`, which survives Redis.
 *
 * Every process that writes the file (backout itself, `backout audit archive`) does so
 * under a short Redis lock and re-reads the file's end when the file changed under it,
 * so two writers never duplicate or lose a line. When it writes a checkpoint that
 * archived records, it drops those records from the file (they are in the archive).
 */
export class RedisAuditLog implements ChainedAuditLog {
  private readonly headKey: string;
  private readonly streamKey: string;
  private readonly lockKey: string;
  private fileState: { ino: number; size: number; lastSeq: number } | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /**
   * A flush queued behind the running one and not started yet: it will copy every record written
   * before it starts, so a flush asked for meanwhile is this one.
   */
  private queuedFlush: Promise<void> | undefined;
  private appending: Promise<unknown> = Promise.resolve();
  /**
   * The chain head as this process last wrote it (`<seq> <hash>`). Appends here take turns, so
   * while no other process writes, it is the head in Redis and a record needs no read first; the
   * write's own check catches a head another process moved, and the append then reads it afresh.
   */
  private lastWritten: string | undefined;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly dir: string | undefined,
    private readonly log: Logger,
  ) {
    const keys = auditKeys(prefix);
    this.headKey = keys.head;
    this.streamKey = keys.stream;
    this.lockKey = `${prefix}:audit:file-lock:${
      dir
        ? createHash('sha256')
            .update(`${hostname()}:${resolve(dir)}`)
            .digest('hex')
            .slice(0, 16)
        : 'none'
    }`;
  }

  get filePath(): string | undefined {
    return this.dir ? join(this.dir, AUDIT_FILE) : undefined;
  }

  /**
   * Prepares the file and, when Redis has lost the chain (a restart without persistence),
   * continues it from the file's last record rather than starting a second chain: a
   * checkpoint record anchors the new stream to the records kept in the file.
   */
  async init(): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true });
    if (await this.continueFromFile()) await this.flush();
  }

  /**
   * When Redis has no chain head but the file has records (Redis restarted without persistence,
   * at start-up or while running): continues the chain from the file's last record behind a
   * checkpoint, written only while there is still no head. Starting a second chain instead would
   * leave its records out of the file (their seqs are already there) and fail verification.
   * Returns whether this call wrote the checkpoint.
   */
  private async continueFromFile(): Promise<boolean> {
    if (!this.dir) return false;
    const last = await lastAuditRecord(this.filePath!);
    if (!last) return false;
    const details: CheckpointDetails = {
      throughSeq: last.seq,
      throughHash: last.hash,
      reason: `Redis had lost the audit stream; records up to seq ${last.seq} are in ${AUDIT_FILE}`,
    };
    const checkpoint = recordAfter(
      { type: 'audit.checkpoint', details: { ...details } },
      last.seq,
      last.hash,
    );
    const adopted = await runScript(
      this.redis,
      ADOPT,
      2,
      this.headKey,
      this.streamKey,
      String(checkpoint.seq),
      JSON.stringify(checkpoint),
      checkpoint.hash,
    );
    if (adopted !== 1) return false;
    this.log.warn(
      { seq: last.seq },
      'audit log: Redis had no chain head; continuing the chain from the JSON-lines file',
    );
    this.logStateChange(checkpoint);
    return true;
  }

  /**
   * Appends one record. Appends from this process take turns (so they never race each
   * other for the chain head); a race with another process is retried after a short random
   * pause. The record is durable in Redis when this resolves; the JSON-lines copy follows in
   * the background (`flush()` waits for it).
   */
  append(event: AuditEvent): Promise<AuditRecord> {
    return this.appendWith(event, async (link) =>
      (await runScript(this.redis, APPEND, 2, ...link.keys, ...link.args)) === 1
        ? { written: true, result: undefined }
        : 'head-moved',
    ).then(({ record }) => record!);
  }

  appendWith<R>(
    event: AuditEvent,
    write: (link: ChainLink) => Promise<LinkOutcome<R>>,
  ): Promise<{ record?: AuditRecord; result: R }> {
    const turn = this.appending.then(() => this.appendWithNow(event, write));
    this.appending = turn.catch(() => undefined);
    return turn;
  }

  private async appendWithNow<R>(
    event: AuditEvent,
    write: (link: ChainLink) => Promise<LinkOutcome<R>>,
  ): Promise<{ record?: AuditRecord; result: R }> {
    const deadline = Date.now() + 10_000;
    for (let attempt = 0; ; attempt++) {
      const { record, remembered } = await this.nextRecord(event);
      const outcome = await write({
        keys: [this.headKey, this.streamKey],
        args: [record.prevHash, String(record.seq), JSON.stringify(record), GENESIS_HASH, record.hash],
      });
      if (outcome !== 'head-moved') {
        if (!outcome.written) return { result: outcome.result };
        this.written(record);
        // A file failure is logged by flush() and caught up on the next record; the record is in Redis.
        void this.flush().catch(() => undefined);
        return { record, result: outcome.result };
      }
      // Only the remembered head was stale: read the current one straight away.
      if (remembered) continue;
      if (Date.now() > deadline) {
        throw new Error(
          `audit log: could not append after ${attempt + 1} attempts in 10 s (another writer kept moving the chain head)`,
        );
      }
      // Another process appended first: step back for a moment so we do not collide again.
      await new Promise((resolve) =>
        setTimeout(resolve, 1 + Math.random() * Math.min(50, 2 * (attempt + 1))),
      );
    }
  }

  private written(record: AuditRecord): void {
    this.lastWritten = `${record.seq} ${record.hash}`;
    this.logStateChange(record);
  }

  /** The record that would follow the current head (`remembered`: the head was not read from Redis). */
  private async nextRecord(event: AuditEvent): Promise<{ record: AuditRecord; remembered: boolean }> {
    // Used once: a write that fails or throws leaves it unset, so the next append reads Redis.
    const known = this.lastWritten;
    this.lastWritten = undefined;
    let head = known ?? (await this.redis.get(this.headKey));
    if (!head && known === undefined && this.dir) {
      // No head in Redis: a new log, or Redis lost its data. In the second case the file goes on.
      await this.continueFromFile();
      head = await this.redis.get(this.headKey);
    }
    const [seqText, prevHash] = head ? head.split(' ') : ['0', GENESIS_HASH];
    return { record: recordAfter(event, Number(seqText), prevHash!), remembered: known !== undefined };
  }

  /** Reads records from the stream, in chain order. */
  async readStream(fromSeq = 1): Promise<AuditRecord[]> {
    const entries = await this.redis.xrange(this.streamKey, `${fromSeq}-0`, '+');
    return entries.map(([, fields]) => JSON.parse(fields[1]!) as AuditRecord);
  }

  /**
   * The records' JSON text from `fromSeq`, in chain order, at most `limit`: read in chunks, so that a
   * long stretch of the stream is not decoded in one turn of the event loop.
   */
  async readStreamText(fromSeq: number, limit: number, chunk = 500): Promise<string[]> {
    const texts: string[] = [];
    let next = fromSeq;
    while (texts.length < limit) {
      const count = Math.min(chunk, limit - texts.length);
      const entries = await this.redis.xrange(this.streamKey, `${next}-0`, '+', 'COUNT', count);
      for (const [, fields] of entries) texts.push(fields[1]!);
      if (entries.length < count) break;
      next = Number(entries[entries.length - 1]![0].split('-')[0]) + 1;
    }
    return texts;
  }

  /** The last `count` records of the stream, in chain order. */
  async readLast(count: number): Promise<AuditRecord[]> {
    const entries = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', count);
    return entries.reverse().map(([, fields]) => JSON.parse(fields[1]!) as AuditRecord);
  }

  /** The chain head as Redis records it: the last seq and its hash. */
  async head(): Promise<{ seq: number; hash: string } | undefined> {
    const head = await this.redis.get(this.headKey);
    if (!head) return undefined;
    const [seq, hash] = head.split(' ');
    return { seq: Number(seq), hash: hash ?? '' };
  }

  /** Removes stream entries up to and including `throughSeq` (they are archived). */
  async trimStream(throughSeq: number): Promise<number> {
    return this.redis.xtrim(this.streamKey, 'MINID', `${throughSeq + 1}-0`);
  }

  /**
   * Copies records the file does not have yet, in order. Serialised within the process; a flush
   * asked for while one is already waiting its turn is that one (it reads every record written
   * before it starts), so a burst of records costs one lock, read and fsync, not one each.
   */
  flush(): Promise<void> {
    if (!this.dir) return Promise.resolve();
    if (this.queuedFlush) return this.queuedFlush;
    const run = this.flushing.then(() => {
      this.queuedFlush = undefined;
      return this.withFileLock(() => this.flushOnce());
    });
    this.queuedFlush = run;
    this.flushing = run.catch((err: unknown) => {
      this.log.error(
        { err },
        'audit log: writing the JSON-lines file failed; it will catch up on the next record',
      );
    });
    return run;
  }

  /** One line per state change, with the request and job ids (the job id is the request id). */
  private logStateChange(r: AuditRecord): void {
    const step = typeof r.details?.step === 'string' ? r.details.step : undefined;
    const isJob = r.type.startsWith('job.') || r.type.startsWith('step.');
    this.log.info(
      {
        event: r.type,
        seq: r.seq,
        ...(r.requestId ? { requestId: r.requestId } : {}),
        ...(r.requestId && isJob ? { jobId: r.requestId } : {}),
        ...(r.service ? { service: r.service } : {}),
        ...(r.environment ? { environment: r.environment } : {}),
        ...(step ? { step } : {}),
        ...(r.outcome ? { outcome: r.outcome } : {}),
        ...(r.actor ? { actor: r.actor } : {}),
        ...(r.approver ? { approver: r.approver } : {}),
      },
      `audit: ${r.type}`,
    );
  }

  private async flushOnce(): Promise<void> {
    const path = this.filePath!;
    await mkdir(this.dir!, { recursive: true });
    const lastSeq = await this.fileLastSeq(path);
    const missing = await this.readStream(lastSeq + 1);
    const first = missing[0];
    if (!first) return;
    if (lastSeq > 0 && first.seq > lastSeq + 1) {
      // The stream was cut past the file's end (archived while this file was behind).
      const anchor = missing.find((r) => checkpointOf(r)?.throughSeq === first.seq - 1);
      if (anchor && checkpointOf(anchor)?.archive) {
        this.log.warn(
          { fileLastSeq: lastSeq, streamFirstSeq: first.seq },
          'audit log: the file was behind an archive cut; starting it again from the checkpoint',
        );
        await writeFileAtomically(path, serialise(missing));
        await this.rememberFile(path, missing[missing.length - 1]!.seq);
        return;
      }
      this.log.error(
        { fileLastSeq: lastSeq, streamFirstSeq: first.seq },
        'audit log: the stream no longer has the records the file lacks; the file will show a gap',
      );
    }
    const identity = await appendAuditRecords(path, missing);
    this.fileState = { ...identity, lastSeq: missing[missing.length - 1]!.seq };
    for (const record of missing) {
      const cp = checkpointOf(record);
      if (cp?.archive) await this.compact(path, cp);
    }
  }

  /** Drops the archived records from the file, after checking the file agrees with the checkpoint. */
  private async compact(path: string, cp: CheckpointDetails): Promise<void> {
    const records = await readAuditFile(path);
    if (!records.some((r) => r.seq <= cp.throughSeq)) return;
    const boundary = records.find((r) => r.seq === cp.throughSeq);
    if (!boundary || boundary.hash !== cp.throughHash) {
      this.log.error(
        { throughSeq: cp.throughSeq, archive: cp.archive },
        'audit log: the file does not agree with the archive checkpoint; keeping the archived records in it (run `backout audit verify`)',
      );
      return;
    }
    const kept = records.filter((r) => !(r.seq <= cp.throughSeq));
    await writeFileAtomically(path, serialise(kept));
    await this.rememberFile(path, kept[kept.length - 1]?.seq ?? cp.throughSeq);
    this.log.info(
      { throughSeq: cp.throughSeq, archive: cp.archive, kept: kept.length },
      'audit log: archived records removed from the live file',
    );
  }

  private async rememberFile(path: string, lastSeq: number): Promise<void> {
    const identity = await fileIdentity(path);
    this.fileState = identity ? { ...identity, lastSeq } : undefined;
  }

  /** The last seq in the file: from memory when the file is as this process left it, else read. */
  private async fileLastSeq(path: string): Promise<number> {
    const identity = await fileIdentity(path);
    if (!identity) {
      this.fileState = undefined;
      return 0;
    }
    const known = this.fileState;
    if (known && known.ino === identity.ino && known.size === identity.size) return known.lastSeq;
    const last = await lastAuditRecord(path);
    const lastSeq = typeof last?.seq === 'number' ? last.seq : 0;
    this.fileState = { ...identity, lastSeq };
    return lastSeq;
  }

  /** Serialises file writers across processes on this host (backout and the CLI). */
  private async withFileLock<T>(fn: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    const deadline = Date.now() + 10_000;
    while ((await this.redis.set(this.lockKey, token, 'PX', 15_000, 'NX')) !== 'OK') {
      if (Date.now() > deadline) {
        throw new Error('audit log: another process has held the audit file lock for more than 10 s');
      }
      await delay(20);
    }
    try {
      return await fn();
    } finally {
      await runScript(this.redis, RELEASE, 1, this.lockKey, token).catch(() => 0);
    }
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The record for `event` that follows the record `seq` whose hash is `prevHash`. */
function recordAfter(event: AuditEvent, seq: number, prevHash: string): AuditRecord {
  const body: Omit<AuditRecord, 'hash'> = {
    ...stripUndefined(event),
    seq: seq + 1,
    id: randomUUID(),
    ts: new Date().toISOString(),
    prevHash,
  };
  return { ...body, hash: hashRecord(body) };
}
