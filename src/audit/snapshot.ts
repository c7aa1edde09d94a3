import { readAuditFile } from './file.js';
import { withArchiveLock } from './archive.js';
import type { RedisAuditLog } from './log.js';
import type { AuditRecord } from './record.js';
import type { RedisClient } from '../redis/client.js';
import { readArchives, type ArchiveFile } from './sources.js';

/** How long a read waits for a running archive to finish. */
const ARCHIVE_WAIT_MS = 60_000;
/** How long the file may trail the stream before the difference counts. */
export const FILE_SETTLE_MS = 5_000;

export interface AuditCopies {
  /** The stream and the chain head, read together (no append fell between the two reads). */
  stream: AuditRecord[];
  head: { seq: number; hash: string } | undefined;
  /** The stream through the file's last record: what the file is compared against. */
  streamThroughFile: AuditRecord[];
  /** Undefined when there is no file, or when it could not be read (read it again to say why). */
  file: AuditRecord[] | undefined;
  /** Undefined when the archive directory could not be read. */
  archives: ArchiveFile[] | undefined;
}

/**
 * Reads the stream, the JSON-lines file and the archives as one consistent picture of a
 * chain that a running backout keeps appending to. Under the archive lock, so no archive
 * moves records between the copies meanwhile. The file is written from the stream just
 * after each append, so it trails: it is read again until it reaches the stream's end as
 * first read (for up to `settleMs`, while it still grows), and the records appended since are read from the
 * stream too. A file that stays short, or holds records the stream does not, differs.
 */
export async function readAuditCopies(opts: {
  audit: RedisAuditLog;
  redis: RedisClient;
  prefix: string;
  filePath: string;
  fileExists: (path: string) => Promise<boolean>;
  archiveDir: string;
  settleMs?: number;
}): Promise<AuditCopies> {
  const readFile = async () =>
    (await opts.fileExists(opts.filePath)) ? await readAuditFile(opts.filePath) : undefined;
  return withArchiveLock(opts.redis, opts.prefix, ARCHIVE_WAIT_MS, async () => {
    let stream: AuditRecord[] = [];
    let head: AuditCopies['head'];
    for (let attempt = 0; attempt < 20; attempt++) {
      stream = await opts.audit.readStream();
      head = await opts.audit.head();
      if (!head || head.seq <= (stream.at(-1)?.seq ?? 0)) break;
    }
    const archives = await readArchives(opts.archiveDir).catch(() => undefined);
    const target = stream.at(-1)?.seq ?? 0;
    // A live backout copies a record within milliseconds; a file that stops growing short
    // of the stream for a second is not being caught up.
    const giveUpAt = Date.now() + (opts.settleMs ?? FILE_SETTLE_MS);
    let file = await readFile().catch(() => undefined);
    let grewAt = Date.now();
    while (file && (file.at(-1)?.seq ?? 0) < target && Date.now() < Math.min(giveUpAt, grewAt + 1_000)) {
      await new Promise((r) => setTimeout(r, 50));
      const before = file.length;
      file = await readFile().catch(() => undefined);
      if (file && file.length !== before) grewAt = Date.now();
    }
    const fileLast = file?.at(-1)?.seq ?? 0;
    const streamThroughFile =
      fileLast > target ? [...stream, ...(await opts.audit.readStream(target + 1))] : stream;
    return { stream, head, streamThroughFile, file, archives };
  });
}
