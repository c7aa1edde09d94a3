import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { GENESIS_HASH, hashRecord, type AuditEvent, type AuditRecord } from './record.js';

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

export interface AuditLog {
  append(event: AuditEvent): Promise<AuditRecord>;
}

export const AUDIT_FILE = 'audit.jsonl';

/**
 * The tamper-evident log (SPEC §6): each record carries the SHA-256 of the one before.
 * Records go to a Redis stream (stream id = `<seq>-0`, so order is the chain's order) and
 * are mirrored, in order, into `AUDIT_LOG_DIR/audit.jsonl`, which survives Redis.
 */
export class RedisAuditLog implements AuditLog {
  private readonly headKey: string;
  private readonly streamKey: string;
  private fileSeq: number | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly dir: string | undefined,
    private readonly log: Logger,
  ) {
    this.headKey = `${prefix}:audit:head`;
    this.streamKey = `${prefix}:audit:stream`;
  }

  get filePath(): string | undefined {
    return this.dir ? join(this.dir, AUDIT_FILE) : undefined;
  }

  /**
   * Prepares the file and, when Redis has lost the chain (a restart without persistence),
   * continues it from the file's last record rather than starting a second chain.
   */
  async init(): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true });
    const last = await this.lastFileRecord();
    this.fileSeq = last?.seq ?? 0;
    if (last) await this.redis.set(this.headKey, `${last.seq} ${last.hash}`, 'NX');
  }

  async append(event: AuditEvent): Promise<AuditRecord> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const head = await this.redis.get(this.headKey);
      const [seqText, prevHash] = head ? head.split(' ') : ['0', GENESIS_HASH];
      const seq = Number(seqText) + 1;
      const body: Omit<AuditRecord, 'hash'> = {
        ...stripUndefined(event),
        seq,
        id: randomUUID(),
        ts: new Date().toISOString(),
        prevHash: prevHash!,
      };
      const record: AuditRecord = { ...body, hash: hashRecord(body) };
      const ok = await this.redis.eval(
        APPEND,
        2,
        this.headKey,
        this.streamKey,
        prevHash!,
        String(seq),
        JSON.stringify(record),
        GENESIS_HASH,
        record.hash,
      );
      if (ok === 1) {
        await this.flush();
        return record;
      }
    }
    throw new Error('audit log: could not append after 50 attempts (too much contention on the chain head)');
  }

  /** Reads records from the stream, in chain order. */
  async readStream(fromSeq = 1): Promise<AuditRecord[]> {
    const entries = await this.redis.xrange(this.streamKey, `${fromSeq}-0`, '+');
    return entries.map(([, fields]) => JSON.parse(fields[1]!) as AuditRecord);
  }

  /** Copies records the file does not have yet, in order. Serialised within the process. */
  flush(): Promise<void> {
    if (!this.dir) return Promise.resolve();
    const run = this.flushing.then(() => this.flushOnce());
    this.flushing = run.catch((err: unknown) => {
      this.log.error(
        { err },
        'audit log: writing the JSON-lines file failed; it will catch up on the next record',
      );
    });
    return run;
  }

  private async flushOnce(): Promise<void> {
    if (this.fileSeq === undefined) await this.init();
    const missing = await this.readStream((this.fileSeq ?? 0) + 1);
    if (missing.length === 0) return;
    const handle = await open(this.filePath!, 'a');
    try {
      await handle.write(missing.map((r) => JSON.stringify(r)).join('\n') + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.fileSeq = missing[missing.length - 1]!.seq;
  }

  private async lastFileRecord(): Promise<AuditRecord | undefined> {
    const path = this.filePath!;
    try {
      if ((await stat(path)).size === 0) return undefined;
    } catch {
      return undefined;
    }
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    const last = lines[lines.length - 1];
    return last ? (JSON.parse(last) as AuditRecord) : undefined;
  }
}

/** Reads a JSON-lines audit file; a line that is not JSON is reported by the verifier as edited. */
export async function readAuditFile(path: string): Promise<AuditRecord[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as AuditRecord;
      } catch {
        return { seq: Number.NaN, id: `line ${i + 1}`, hash: '', prevHash: '' } as unknown as AuditRecord;
      }
    });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
