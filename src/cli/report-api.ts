import { writeFile } from 'node:fs/promises';
import { DeprecationRegistry } from '../api-retirement/registry.js';
import { csvRow } from '../audit/csv.js';
import { UsageError } from '../errors.js';
import { parseArgs, stringFlag } from './args.js';
import { connectRedis, readEnv, type CliIo } from './context.js';

/**
 * `backout report api`: the usage evidence behind a retirement, one row per endpoint and client
 * (CSV: totals, share, first and last seen, trend, then one column per day; JSON: the same as objects).
 */
export async function reportApi(argv: readonly string[], io: CliIo, now = new Date()): Promise<number> {
  const args = parseArgs(argv, { valued: ['service', 'days', 'format', 'out'] });
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const service = stringFlag(args, 'service');
  if (!service) throw new UsageError('--service is required: the service name in backout.yml');
  const daysText = stringFlag(args, 'days') ?? '30';
  const days = Number(daysText);
  // The middleware keeps daily counts for 35 days.
  if (!/^\d+$/.test(daysText) || days < 1 || days > 35)
    throw new UsageError(`--days must be a whole number from 1 to 35, got "${daysText}"`);
  const format = stringFlag(args, 'format') ?? 'csv';
  if (format !== 'csv' && format !== 'json')
    throw new UsageError(`--format must be csv or json, got "${format}"`);

  const env = readEnv(io.env, ['REDIS_URL', 'BACKOUT_PREFIX']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout report api: ${p}`);
    return 2;
  }
  const redis = await connectRedis(env.env.REDIS_URL);
  let usage;
  try {
    usage = await new DeprecationRegistry(redis, env.env.BACKOUT_PREFIX).usage(service, { days, now });
  } finally {
    redis.disconnect();
  }
  const grand = usage.reduce((sum, entry) => sum + entry.total, 0);
  let output: string;
  if (format === 'json') {
    output = `${JSON.stringify({ service, days, generatedAt: now.toISOString(), endpoints: usage.map((entry) => ({ ...entry, shareOfDeprecatedTraffic: grand ? entry.total / grand : 0 })) }, null, 2)}\n`;
  } else {
    const dayColumns = usage[0]?.days ?? [];
    const rows = [
      csvRow([
        'endpoint',
        'client',
        'requests',
        'share',
        'first_seen',
        'last_seen',
        'trend',
        'slope_per_day',
        ...dayColumns,
      ]),
    ];
    for (const entry of usage) {
      for (const client of entry.clients) {
        rows.push(
          csvRow([
            entry.id,
            client.client,
            client.count,
            client.share.toFixed(4),
            client.firstSeen,
            client.lastSeen,
            client.trend.direction,
            client.trend.slopePerDay,
            ...client.daily,
          ]),
        );
      }
    }
    output = rows.join('');
  }
  const out = stringFlag(args, 'out');
  if (out) await writeFile(out, output);
  else io.write(output);
  io.err(
    `${service}: ${usage.length} deprecated endpoint${usage.length === 1 ? '' : 's'}, ${grand} request${grand === 1 ? '' : 's'} over the last ${days} days${out ? `, written to ${out}` : ''}`,
  );
  return 0;
}
