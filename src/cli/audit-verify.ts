import { join } from 'node:path';
import type { RedisClient } from '../redis/client.js';
import { connectOnce } from '../redis/connect-once.js';
import { readAuditFile } from '../audit/file.js';
import { ARCHIVE_DIR, AUDIT_FILE, RedisAuditLog, auditKeys } from '../audit/log.js';
import { checkpointOf, type AuditRecord } from '../audit/record.js';
import { readAuditCopies, type AuditCopies } from '../audit/snapshot.js';
import { compareCopies, readArchives, verifyFromGenesis } from '../audit/sources.js';
import { verifyLive, type VerifyResult } from '../audit/verify.js';
import { createLogger } from '../observability/logger.js';
import { parseArgs, stringFlag } from './args.js';
import { cliRedisSetup, REDIS_ENV, fileExists, readEnv, type CliIo } from './context.js';

interface Line {
  /** Undefined: not checked. */
  ok: boolean | undefined;
  source: string;
  text: string;
}

/**
 * `backout audit verify [--file <audit.jsonl>] [--archive <dir>] [--no-stream]`: walks the
 * hash chain in the Redis stream, the JSON-lines file and the archives, names the first
 * record that was edited, removed or reordered, and checks the file is a faithful copy of
 * the stream. Exit code 0 when every copy holds, 1 when one does not.
 */
export async function auditVerify(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: ['file', 'archive'], booleans: ['no-stream'] });
  const env = readEnv(io.env, [...REDIS_ENV, 'AUDIT_LOG_DIR']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout audit verify: ${p}`);
    return 2;
  }
  const redisFound = cliRedisSetup(io.env, env.env);
  if (!redisFound.ok) {
    for (const p of redisFound.problems) io.err(`backout audit verify: ${p}`);
    return 2;
  }
  const { topology, prefix: BACKOUT_PREFIX } = redisFound.setup;
  const { AUDIT_LOG_DIR } = env.env;
  const filePath = stringFlag(args, 'file') ?? join(AUDIT_LOG_DIR, AUDIT_FILE);
  const archiveDir = stringFlag(args, 'archive') ?? join(AUDIT_LOG_DIR, ARCHIVE_DIR);
  const lines: Line[] = [];

  let stream: AuditRecord[] | undefined;
  let copies: AuditCopies | undefined;
  if (!args.flags.has('no-stream')) {
    let redis: RedisClient | undefined;
    try {
      redis = await connectOnce(topology);
      const log = createLogger({ level: 'silent', secrets: [] });
      const audit = new RedisAuditLog(redis, BACKOUT_PREFIX, undefined, log);
      copies = await readAuditCopies({
        audit,
        redis,
        prefix: BACKOUT_PREFIX,
        filePath,
        fileExists,
        archiveDir,
      });
      stream = copies.stream;
      lines.push(describeStream(stream, copies.head, auditKeys(BACKOUT_PREFIX).stream));
    } catch (err) {
      lines.push({
        ok: false,
        source: 'stream',
        text: `${err instanceof Error ? err.message : String(err)} (pass --no-stream to verify the files alone)`,
      });
    } finally {
      redis?.disconnect();
    }
  }

  // Read here when the stream was not read with it, or when reading it failed (to say why).
  const file = copies?.file ?? ((await fileExists(filePath)) ? await readAuditFile(filePath) : undefined);
  if (file) {
    const streamLine = lines.find((l) => l.source === 'stream' && l.ok);
    if (streamLine && stream?.length === 0 && file.length > 0) {
      // Redis lost its data: the file is the copy that is left.
      streamLine.ok = undefined;
      streamLine.text = `${auditKeys(BACKOUT_PREFIX).stream}: empty, but the file has ${file.length} records: Redis lost its data (backout continues the chain from the file when a worker starts)`;
      lines.push(describeFile(file, undefined, filePath));
    } else {
      lines.push(describeFile(file, copies?.streamThroughFile, filePath));
    }
  } else if (stringFlag(args, 'file')) {
    lines.push({ ok: false, source: 'file', text: `${filePath} does not exist` });
  } else {
    lines.push({
      ok: undefined,
      source: 'file',
      text: `${filePath}: no file here (AUDIT_LOG_DIR); not checked`,
    });
  }

  const archives = copies?.archives ?? (await readArchives(archiveDir));
  if (archives.length > 0) {
    const live = file ?? stream ?? [];
    const result = verifyFromGenesis(archives, live);
    const label = `${archiveDir} (${archives.length} file${archives.length === 1 ? '' : 's'}) + live`;
    lines.push(
      result.ok
        ? {
            ok: true,
            source: 'archive',
            text: `${label}: ${'records' in result ? result.records : 0} records from the first one (seq 1–${'lastSeq' in result ? result.lastSeq : 0}), archives intact`,
          }
        : { ok: false, source: 'archive', text: `${label}: ${result.problem}` },
    );
  }

  for (const l of lines)
    io.out(`${l.ok === undefined ? '-' : l.ok ? '✓' : '✗'} ${l.source.padEnd(8)} ${l.text}`);
  const failed = lines.filter((l) => l.ok === false);
  io.out(
    failed.length === 0
      ? 'The audit chain holds.'
      : `The audit chain does NOT hold: ${failed.map((l) => l.source).join(', ')} failed (the first bad record is named above).`,
  );
  return failed.length === 0 ? 0 : 1;
}

function describeStream(
  records: AuditRecord[],
  head: { seq: number; hash: string } | undefined,
  key: string,
): Line {
  const source = 'stream';
  if (records.length === 0 && !head) return { ok: true, source, text: `${key}: empty (no records yet)` };
  const result = verifyLive(records);
  if (!result.ok) return { ok: false, source, text: `${key}: ${result.problem}` };
  const last = records[records.length - 1];
  if (head && (!last || last.seq !== head.seq || last.hash !== head.hash)) {
    const lastSeq = last?.seq ?? 0;
    const text =
      head.seq > lastSeq
        ? `the stream ends at seq ${lastSeq} but the chain head is seq ${head.seq}: seq ${lastSeq + 1}–${head.seq} were removed from the end`
        : `the chain head (seq ${head.seq}) is not the stream's last record (seq ${lastSeq}, ${last?.id}): the end of the stream was rewritten`;
    return { ok: false, source, text: `${key}: ${text}` };
  }
  return { ok: true, source, text: `${key}: ${summary(result, records)}` };
}

function describeFile(file: AuditRecord[], stream: AuditRecord[] | undefined, path: string): Line {
  const source = 'file';
  if (file.length === 0) {
    return stream && stream.length > 0
      ? { ok: false, source, text: `${path}: empty, but the stream has ${stream.length} records` }
      : { ok: true, source, text: `${path}: empty (no records yet)` };
  }
  const result = verifyLive(file);
  if (!result.ok)
    return {
      ok: false,
      source,
      text: `${path}: ${result.problem} (record #${result.index + 1} in the file)`,
    };
  if (stream) {
    const mismatch = compareCopies(file, stream);
    if (mismatch) return { ok: false, source, text: `${path}: ${mismatch.problem}` };
  }
  return {
    ok: true,
    source,
    text: `${path}: ${summary(result, file)}${stream ? ', the same records as the stream' : ''}`,
  };
}

function summary(result: VerifyResult & { checkpoint?: AuditRecord }, records: AuditRecord[]): string {
  if (!result.ok) return result.problem;
  const span = `${records.length} record${records.length === 1 ? '' : 's'} (seq ${result.firstSeq ?? 0}–${result.lastSeq ?? 0})`;
  const cp = result.checkpoint ? checkpointOf(result.checkpoint) : undefined;
  if (!cp) return `${span}, chained from the first record`;
  return `${span}, anchored by checkpoint seq ${result.checkpoint!.seq} (${cp.archive ? `seq ${cp.fromSeq ?? 1}–${cp.throughSeq} archived to ${cp.archive}` : `seq ${cp.throughSeq} and before kept elsewhere`})`;
}
