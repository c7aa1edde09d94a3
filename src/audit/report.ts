import { csvRow } from './csv.js';
import type { AuditRecord } from './record.js';

/**
 * The report's columns, in order: what an auditor asks for (SPEC §6), plus seq, request id
 * and the requester's reason (also inside details) in a column of its own.
 */
export const REPORT_COLUMNS = [
  'seq',
  'event_id',
  'timestamp',
  'event_type',
  'request_id',
  'service',
  'environment',
  'release_tag',
  'revision',
  'actor',
  'approver',
  'plan_hash',
  'outcome',
  'reason',
  'details',
] as const;

export type ReportRow = Record<(typeof REPORT_COLUMNS)[number], string | number | undefined>;

export interface ReportSummary {
  events: number;
  byType: Record<string, number>;
  byOutcome: Record<string, number>;
  /** Requests created in the window, and how many of them reached job.succeeded or job.failed. */
  requests: number;
  done: number;
  /** Median time from request.created to the request's last job.succeeded/job.failed. */
  medianRequestToDoneSeconds: number | null;
}

export interface Report {
  since: string;
  until: string;
  service?: string;
  rows: ReportRow[];
  summary: ReportSummary;
}

const DONE = new Set(['job.succeeded', 'job.failed']);

/** One row per record in [since, until), optionally for one service, oldest first. */
export function buildReport(
  records: readonly AuditRecord[],
  opts: { since: Date; until: Date; service?: string },
): Report {
  const from = opts.since.getTime();
  const to = opts.until.getTime();
  const chosen = [...records]
    .filter((r) => {
      const t = Date.parse(r.ts);
      return t >= from && t < to && (opts.service === undefined || r.service === opts.service);
    })
    .sort((a, b) => a.seq - b.seq);

  const byType: Record<string, number> = {};
  const byOutcome: Record<string, number> = {};
  const created = new Map<string, number>();
  const done = new Map<string, number>();
  for (const r of chosen) {
    byType[r.type] = (byType[r.type] ?? 0) + 1;
    if (r.outcome !== undefined) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    if (!r.requestId) continue;
    if (r.type === 'request.created') created.set(r.requestId, Date.parse(r.ts));
    if (DONE.has(r.type)) done.set(r.requestId, Date.parse(r.ts));
  }
  const durations = [...created]
    .filter(([id]) => done.has(id))
    .map(([id, t]) => (done.get(id)! - t) / 1000)
    .sort((a, b) => a - b);

  return {
    since: opts.since.toISOString(),
    until: opts.until.toISOString(),
    ...(opts.service !== undefined ? { service: opts.service } : {}),
    rows: chosen.map(toRow),
    summary: {
      events: chosen.length,
      byType: sortedKeys(byType),
      byOutcome: sortedKeys(byOutcome),
      requests: created.size,
      done: durations.length,
      medianRequestToDoneSeconds: median(durations),
    },
  };
}

function toRow(r: AuditRecord): ReportRow {
  return {
    seq: r.seq,
    event_id: r.id,
    timestamp: new Date(r.ts).toISOString(),
    event_type: r.type,
    request_id: r.requestId,
    service: r.service,
    environment: r.environment,
    release_tag: r.releaseTag,
    revision: r.revision,
    actor: r.actor,
    approver: r.approver,
    plan_hash: r.planHash,
    outcome: r.outcome,
    reason: typeof r.details?.reason === 'string' ? r.details.reason : undefined,
    details: r.details && Object.keys(r.details).length > 0 ? JSON.stringify(r.details) : undefined,
  };
}

/**
 * The report as CSV: the events table, an empty line, then the summary as
 * `section,key,value` rows (counts by type, by outcome, requests, median).
 */
export function reportCsv(report: Report): string {
  const out = [csvRow(REPORT_COLUMNS)];
  for (const row of report.rows) out.push(csvRow(REPORT_COLUMNS.map((c) => row[c])));
  out.push('\r\n', csvRow(['section', 'key', 'value']));
  const s = report.summary;
  out.push(csvRow(['window', 'since', report.since]), csvRow(['window', 'until', report.until]));
  if (report.service !== undefined) out.push(csvRow(['window', 'service', report.service]));
  out.push(csvRow(['total', 'events', s.events]));
  for (const [type, n] of Object.entries(s.byType)) out.push(csvRow(['count_by_type', type, n]));
  for (const [outcome, n] of Object.entries(s.byOutcome)) out.push(csvRow(['count_by_outcome', outcome, n]));
  out.push(
    csvRow(['requests', 'created', s.requests]),
    csvRow(['requests', 'done', s.done]),
    csvRow(['requests', 'median_request_to_done_seconds', s.medianRequestToDoneSeconds ?? '']),
  );
  return out.join('');
}

export function reportJson(report: Report): string {
  const events = report.rows.map((row) =>
    Object.fromEntries(
      REPORT_COLUMNS.filter((c) => row[c] !== undefined).map((c) => [
        c,
        c === 'details' ? (JSON.parse(String(row[c])) as unknown) : row[c],
      ]),
    ),
  );
  return `${JSON.stringify({ since: report.since, until: report.until, ...(report.service !== undefined ? { service: report.service } : {}), events, summary: report.summary }, null, 2)}\n`;
}

function median(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return Math.round(value * 1000) / 1000;
}

function sortedKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
