import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../observability/logger.js';
import { archiveAudit } from './archive.js';
import type { RedisAuditLog } from './log.js';

export const ARCHIVE_EVERY_MS = 6 * 3_600_000;
const FIRST_RUN_AFTER_MS = 60_000;

/**
 * Archives records older than the retention periodically (a minute after start, then every
 * six hours) from a worker process. Replicas race harmlessly: one holds the archive lock,
 * the others find nothing to do. `backout audit archive` does the same on demand.
 * Stops when `signal` aborts (backout's shutdown).
 */
export function scheduleAuditArchive(opts: {
  audit: RedisAuditLog;
  redis: RedisClient;
  prefix: string;
  dir: string;
  retentionMs: number;
  log: Logger;
  signal: AbortSignal;
  everyMs?: number;
}): { settled(): Promise<void> } {
  // One run at a time: a slow archive is not started again over itself.
  let running: Promise<void> | undefined;
  const run = () => {
    if (opts.signal.aborted || running) return;
    running = archiveAudit(opts)
      .then(
        (result) => {
          if (result.archived > 0) {
            opts.log.info(
              { archived: result.archived, throughSeq: result.throughSeq, file: result.file },
              'audit records older than the retention archived',
            );
          }
        },
        (err: unknown) => opts.log.warn({ err }, 'audit archive did not run; it will be tried again'),
      )
      .finally(() => (running = undefined));
  };
  const first = setTimeout(run, Math.min(FIRST_RUN_AFTER_MS, opts.everyMs ?? FIRST_RUN_AFTER_MS));
  const every = setInterval(run, opts.everyMs ?? ARCHIVE_EVERY_MS);
  first.unref();
  every.unref();
  opts.signal.addEventListener(
    'abort',
    () => {
      clearTimeout(first);
      clearInterval(every);
    },
    { once: true },
  );
  /** Resolves once no archive is running (after the signal, none starts again). */
  return { settled: async () => running };
}
