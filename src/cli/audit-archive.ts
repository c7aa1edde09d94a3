import { Writable } from 'node:stream';
import { archiveAudit } from '../audit/archive.js';
import { RedisAuditLog } from '../audit/log.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { loadConfigFile } from '../config/load.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { connectOnce } from '../redis/connect-once.js';
import { parseArgs, stringFlag } from './args.js';
import { cliRedisSetup, REDIS_ENV, readEnv, type CliIo } from './context.js';

/**
 * `backout audit archive [--older-than <duration>]`: moves records older than the
 * retention (`audit.retention` in the config, default 400d) to
 * `AUDIT_LOG_DIR/archive/`, leaving a checkpoint record that anchors the live chain.
 * Safe to run while backout runs (a cron job, daily); a second run at once is refused.
 */
export async function auditArchive(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: ['older-than'] });
  const env = readEnv(io.env, [...REDIS_ENV, 'AUDIT_LOG_DIR', 'BACKOUT_CONFIG', 'LOG_LEVEL']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout audit archive: ${p}`);
    return 2;
  }
  const redisFound = cliRedisSetup(io.env, env.env);
  if (!redisFound.ok) {
    for (const p of redisFound.problems) io.err(`backout audit archive: ${p}`);
    return 2;
  }
  const { topology, prefix: BACKOUT_PREFIX } = redisFound.setup;
  const { AUDIT_LOG_DIR, BACKOUT_CONFIG } = env.env;
  const olderThan = stringFlag(args, 'older-than');
  let retentionMs: number;
  if (olderThan !== undefined) {
    const ms = parseDuration(olderThan);
    if (ms === undefined)
      throw new UsageError(`--older-than expects a duration such as 400d, got "${olderThan}"`);
    retentionMs = ms;
  } else {
    const config = await loadConfigFile(BACKOUT_CONFIG);
    if (!config.ok) {
      io.err(`backout audit archive: the retention comes from ${BACKOUT_CONFIG}, which has problems:`);
      for (const p of config.problems) io.err(`  ${p}`);
      io.err('Fix the file, or pass --older-than <duration>.');
      return 2;
    }
    retentionMs = config.config.auditRetentionMs;
  }

  const redis = await connectOnce(topology);
  try {
    const log = createLogger({
      level: env.env.LOG_LEVEL === 'info' ? 'warn' : env.env.LOG_LEVEL,
      secrets: [],
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          io.err(chunk.toString().trimEnd());
          cb();
        },
      }),
    });
    const audit = new RedisAuditLog(redis, BACKOUT_PREFIX, AUDIT_LOG_DIR, log);
    const result = await archiveAudit({
      audit,
      redis,
      prefix: BACKOUT_PREFIX,
      dir: AUDIT_LOG_DIR,
      retentionMs,
    });
    if (result.archived === 0) {
      io.out(
        `Nothing to archive: no record is older than ${result.cutoff} (retention ${formatDuration(retentionMs)}).`,
      );
      return 0;
    }
    io.out(
      `Archived ${result.archived} record${result.archived === 1 ? '' : 's'} (seq ${result.fromSeq}–${result.throughSeq}, older than ${result.cutoff}) to ${result.file}.`,
    );
    io.out(
      `Checkpoint seq ${result.checkpoint?.seq} anchors the live chain; \`backout audit verify\` checks the live chain alone and archives + live from the first record.`,
    );
    return 0;
  } finally {
    redis.disconnect();
  }
}
