import { join } from 'node:path';
import { readAuditFile } from '../audit/file.js';
import { ARCHIVE_DIR, AUDIT_FILE, RedisAuditLog } from '../audit/log.js';
import type { AuditRecord } from '../audit/record.js';
import { readArchives } from '../audit/sources.js';
import { UsageError } from '../errors.js';
import { buildTimeline, timelineMarkdown } from '../incidents/timeline.js';
import { createLogger } from '../observability/logger.js';
import type { RedisClient } from '../redis/client.js';
import { connectOnce } from '../redis/connect-once.js';
import { REQUEST_ID_PATTERN } from '../requests/ids.js';
import { RequestStore } from '../requests/store.js';
import { parseArgs, stringFlag } from './args.js';
import { cliRedisSetup, fileExists, readEnv, REDIS_ENV, type CliIo } from './context.js';
import { merge, when } from './report.js';

/**
 * `backout timeline <request-id> | --channel <C…> --since <duration|date> [--format md|json]`:
 * an incident's timeline and its time to mitigate, from the audit log (archives, file, stream) —
 * the same the thread shows when a job ends. With --channel, every request filed in that channel
 * in the window is one incident (their records merged in time order).
 */
export async function timeline(argv: readonly string[], io: CliIo, now = new Date()): Promise<number> {
  const args = parseArgs(argv, { valued: ['channel', 'since', 'format'] });
  const format = stringFlag(args, 'format') ?? 'md';
  if (format !== 'md' && format !== 'json')
    throw new UsageError(`--format must be md or json, got "${format}"`);
  const id = args.positionals[0];
  const channel = stringFlag(args, 'channel');
  if (id && channel) throw new UsageError('give a request id or --channel, not both');
  if (!id && !channel)
    throw new UsageError('give a request id (e.g. rb-7kq2m9x4) or --channel C… --since 24h');
  if (id && !REQUEST_ID_PATTERN.test(id))
    throw new UsageError(
      `"${id.slice(0, 40)}" is not a request id (two letters, a dash, eight letters or digits)`,
    );
  if (channel && !/^[CG][A-Z0-9]{2,}$/.test(channel))
    throw new UsageError(
      `--channel takes a Slack channel id such as C0123ABCD, got "${channel.slice(0, 40)}"`,
    );
  const since = when(stringFlag(args, 'since') ?? '24h', now, '--since');

  const env = readEnv(io.env, [...REDIS_ENV, 'AUDIT_LOG_DIR']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout timeline: ${p}`);
    return 2;
  }
  const found = cliRedisSetup(io.env, env.env);
  if (!found.ok) {
    for (const p of found.problems) io.err(`backout timeline: ${p}`);
    return 2;
  }
  const { topology, prefix } = found.setup;
  const sources: AuditRecord[][] = [];
  for (const archive of await readArchives(join(env.env.AUDIT_LOG_DIR, ARCHIVE_DIR)))
    sources.push(archive.records);
  const filePath = join(env.env.AUDIT_LOG_DIR, AUDIT_FILE);
  if (await fileExists(filePath)) sources.push(await readAuditFile(filePath));
  let ids: string[] = id ? [id] : [];
  let redis: RedisClient | undefined;
  try {
    redis = await connectOnce(topology);
    const log = createLogger({ level: 'silent', secrets: [] });
    sources.push(await new RedisAuditLog(redis, prefix, undefined, log).readStream());
    if (channel) {
      // Which requests were filed in the channel is kept with the requests (30 days), not in the audit.
      const store = new RequestStore(redis, prefix);
      const inWindow = await store.idsBetween(since.getTime(), now.getTime());
      const requests = await Promise.all(inWindow.map((r) => store.get(r)));
      ids = requests.filter((r) => r?.slack.channel === channel).map((r) => r!.id);
    }
  } catch (err) {
    if (channel) throw err;
    io.err(`backout timeline: ${(err as Error).message}; reading the audit files alone.`);
  } finally {
    redis?.disconnect();
  }
  const { records } = merge(sources);
  if (ids.length === 0 || !records.some((r) => r.requestId !== undefined && ids.includes(r.requestId))) {
    io.err(
      `backout timeline: no audit records for ${id ?? `requests in ${channel} since ${since.toISOString()}`}. Check the id (or the window), AUDIT_LOG_DIR and BACKOUT_PREFIX.`,
    );
    return 1;
  }
  const t = buildTimeline(records, ids);
  io.write(
    format === 'md'
      ? timelineMarkdown(t)
      : `${JSON.stringify({ ...t, entries: t.entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) }, null, 2)}\n`,
  );
  return 0;
}
