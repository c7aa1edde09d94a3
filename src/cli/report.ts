import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RedisClient } from '../redis/client.js';
import { connectOnce } from '../redis/connect-once.js';
import { readAuditFile } from '../audit/file.js';
import { ARCHIVE_DIR, AUDIT_FILE, RedisAuditLog } from '../audit/log.js';
import type { AuditRecord } from '../audit/record.js';
import { buildReport, reportCsv, reportJson } from '../audit/report.js';
import { readArchives } from '../audit/sources.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { parseArgs, stringFlag } from './args.js';
import { cliRedisSetup, REDIS_ENV, fileExists, readEnv, type CliIo } from './context.js';
import { plural } from '../text/plural.js';

/**
 * `backout report --since <duration|date> [--until <duration|date>] [--format csv|json]
 * [--service <name>] [--out <file>] [--no-stream]`: the compliance report, one row per
 * audit event in the window, from the archives, the JSON-lines file and the Redis stream
 * (merged by seq), with a summary at the end.
 */
export async function report(argv: readonly string[], io: CliIo, now = new Date()): Promise<number> {
  const args = parseArgs(argv, {
    valued: ['since', 'until', 'format', 'service', 'out'],
    booleans: ['no-stream'],
  });
  const sinceText = stringFlag(args, 'since');
  if (!sinceText) throw new UsageError('--since is required, e.g. --since 365d or --since 2026-01-01');
  const since = when(sinceText, now, '--since');
  const until = stringFlag(args, 'until') ? when(stringFlag(args, 'until')!, now, '--until') : now;
  if (until <= since)
    throw new UsageError(`--until (${until.toISOString()}) must be after --since (${since.toISOString()})`);
  const format = stringFlag(args, 'format') ?? 'csv';
  if (format !== 'csv' && format !== 'json')
    throw new UsageError(`--format must be csv or json, got "${format}"`);

  const env = readEnv(io.env, [...REDIS_ENV, 'AUDIT_LOG_DIR']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout report: ${p}`);
    return 2;
  }
  const redisFound = cliRedisSetup(io.env, env.env);
  if (!redisFound.ok) {
    for (const p of redisFound.problems) io.err(`backout report: ${p}`);
    return 2;
  }
  const { topology, prefix: BACKOUT_PREFIX } = redisFound.setup;
  const { AUDIT_LOG_DIR } = env.env;
  const sources: AuditRecord[][] = [];
  for (const archive of await readArchives(join(AUDIT_LOG_DIR, ARCHIVE_DIR))) sources.push(archive.records);
  const filePath = join(AUDIT_LOG_DIR, AUDIT_FILE);
  if (await fileExists(filePath)) sources.push(await readAuditFile(filePath));
  if (!args.flags.has('no-stream')) {
    let redis: RedisClient | undefined;
    try {
      redis = await connectOnce(topology);
      const audit = new RedisAuditLog(
        redis,
        BACKOUT_PREFIX,
        undefined,
        createLogger({ level: 'silent', secrets: [] }),
      );
      sources.push(await audit.readStream());
    } catch (err) {
      io.err(
        `backout report: ${err instanceof Error ? err.message : String(err)}; reporting from the files alone.`,
      );
    } finally {
      redis?.disconnect();
    }
  }
  const { records, conflicts } = merge(sources);
  if (conflicts.length > 0) {
    io.err(
      `backout report: ${plural(conflicts.length, 'seq')} differ between copies (first: seq ${conflicts[0]}); run \`backout audit verify\`.`,
    );
  }
  const service = stringFlag(args, 'service');
  const built = buildReport(records, { since, until, ...(service !== undefined ? { service } : {}) });
  const text = format === 'csv' ? `\uFEFF${reportCsv(built)}` : reportJson(built);
  const out = stringFlag(args, 'out');
  if (out) {
    await writeFile(out, text);
    const s = built.summary;
    io.err(
      `backout report: ${plural(s.events, 'event')} from ${built.since} to ${built.until} written to ${out}; median request → done ${s.medianRequestToDoneSeconds === null ? 'n/a' : formatDuration(s.medianRequestToDoneSeconds * 1000)}.`,
    );
  } else {
    io.write(text);
  }
  return 0;
}

/** A point in time: a duration before now (`365d`, `12h`) or an ISO 8601 date or date-time. */
export function when(text: string, now: Date, flag: string): Date {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new UsageError(
    `${flag} expects a duration before now (such as 365d, 12h) or an ISO 8601 date (2026-01-01 or 2026-01-01T00:00:00Z), got "${text}"`,
  );
}

/** Union of the copies by seq; seqs whose copies differ are reported (the first copy read wins). */
export function merge(sources: AuditRecord[][]): { records: AuditRecord[]; conflicts: number[] } {
  const bySeq = new Map<number, AuditRecord>();
  const conflicts: number[] = [];
  for (const source of sources) {
    for (const r of source) {
      if (typeof r.seq !== 'number' || Number.isNaN(r.seq)) continue;
      const seen = bySeq.get(r.seq);
      if (!seen) bySeq.set(r.seq, r);
      else if (seen.hash !== r.hash) conflicts.push(r.seq);
    }
  }
  return { records: [...bySeq.values()].sort((a, b) => a.seq - b.seq), conflicts };
}
