import type { AuditRecord } from '../audit/record.js';
import { formatDuration } from '../config/duration.js';

export interface TimelineEntry {
  at: number;
  /** Plain text: renderers escape it. */
  what: string;
  /** A Slack user id when a person did it. */
  who?: string;
  requestId?: string;
}

export type Stage =
  'alert_to_proposal' | 'proposal_to_approval' | 'approval_to_applied' | 'applied_to_verified';
export const STAGES: Stage[] = [
  'alert_to_proposal',
  'proposal_to_approval',
  'approval_to_applied',
  'applied_to_verified',
];

export interface Timeline {
  /** The requests asked for, then the children they filed (a retraction's rollbacks, a group's members). */
  requestIds: string[];
  entries: TimelineEntry[];
  /** Seconds per stage, where both ends were recorded. */
  stages: Partial<Record<Stage, number>>;
  /** Set when the records read were capped: later ones may be missing. */
  partial?: boolean;
  /** The Slack users who requested, approved or decided these requests: named in outcomes, they stay mentions. */
  people: string[];
}

/** Steps after which a job's change is in place, most telling first (a rollback's `wait` follows its `apply`). */
export const APPLIED_STEPS = ['wait', 'apply', 'abort', 'restore', 'write', 'remove'];
/** Steps that check the change took (a rollback's `verify`, a flag's `confirm`). */
export const VERIFIED_STEPS = ['verify', 'confirm'];

const ms = (r: AuditRecord) => Date.parse(r.ts);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function entryOf(r: AuditRecord): TimelineEntry[] {
  const d = r.details ?? {};
  const base = { at: ms(r), ...(r.requestId ? { requestId: r.requestId } : {}) };
  switch (r.type) {
    case 'alert.received': {
      const started = Date.parse(str(d.startsAt) ?? '');
      const name = str(d.alertname) ?? 'alert';
      const value = str(d.value);
      return [
        ...(Number.isFinite(started)
          ? [{ ...base, at: started, what: `Alert ${name} fired${value ? ` (value ${value})` : ''}` }]
          : []),
        {
          ...base,
          what: `Alert ${name} received from ${r.actor ?? 'a webhook'} (rule ${str(d.rule) ?? '?'})`,
        },
      ];
    }
    case 'alert.resolved':
      return [{ ...base, what: 'Alert resolved' }];
    case 'request.created':
      return [{ ...base, what: `Proposal posted: ${str(d.title) ?? r.requestId}` }];
    case 'request.approved':
      return [
        r.approver
          ? { ...base, what: 'Approved', who: r.approver }
          : {
              ...base,
              what: d.coveredBy
                ? `Covered by the approval of ${str(d.coveredBy)}`
                : 'Started without approval (policy)',
            },
      ];
    case 'request.rejected':
      return [{ ...base, what: 'Rejected', ...(str(d.by) ? { who: str(d.by)! } : {}) }];
    case 'request.expired':
      return [{ ...base, what: 'Expired without approval' }];
    case 'step.finished':
      return [
        {
          ...base,
          what: `Step ${str(d.step) ?? '?'} ${str(d.verdict) ? `ended ${str(d.verdict)}` : 'done'}${typeof d.durationMs === 'number' ? ` in ${formatDuration(d.durationMs)}` : ''}`,
        },
      ];
    case 'job.succeeded':
      return [{ ...base, what: `Finished: ${r.outcome ?? 'succeeded'}` }];
    case 'job.failed':
      return [{ ...base, what: `Failed: ${r.outcome ?? 'failed'}` }];
    case 'incident.silenced':
      return [
        {
          ...base,
          what: `Alertmanager silence ${str(d.silenceId) ?? ''} created until ${str(d.endsAt) ?? '?'}`,
        },
      ];
    case 'incident.unsilenced':
      return [{ ...base, what: `Alertmanager silence ${str(d.silenceId) ?? ''} expired` }];
    case 'statuspage.call':
      return [
        {
          ...base,
          what: `Status page: ${str(d.action) ?? 'call'} ${d.ok === true ? 'done' : `failed (${str(d.error) ?? 'no answer'})`}`,
        },
      ];
    default:
      return [];
  }
}

/**
 * The records, of the JSON texts given in chain order, that belong to one of `requestIds` or to a
 * request filed under one of them (its request.created names its parent): only those are parsed,
 * since a busy stream holds thousands of other requests' records between a request's first and last.
 */
export function relatedRecords(texts: readonly string[], requestIds: readonly string[]): AuditRecord[] {
  const quoted = requestIds.map((id) => JSON.stringify(id));
  const related: AuditRecord[] = [];
  for (const text of texts) {
    if (!quoted.some((q) => text.includes(q))) continue;
    const record = JSON.parse(text) as AuditRecord;
    related.push(record);
    const parent = str(record.details?.parentId);
    if (
      record.type === 'request.created' &&
      record.requestId &&
      parent &&
      quoted.includes(JSON.stringify(parent))
    ) {
      const child = JSON.stringify(record.requestId);
      if (!quoted.includes(child)) quoted.push(child);
    }
  }
  return related;
}

/**
 * The incident's timeline from backout's own audit records (never from Slack), with its stage
 * durations. Children the requests filed (request.created naming a parent) are part of it: a
 * group is applied and verified when its last member is.
 */
export function buildTimeline(
  records: readonly AuditRecord[],
  requestIds: readonly string[],
  opts: { partial?: boolean } = {},
): Timeline {
  const ids = new Set(requestIds);
  // Records are in chain order, so a child's request.created comes after its parent's.
  for (const r of records) {
    const parent = str(r.details?.parentId);
    if (r.type === 'request.created' && r.requestId && parent && ids.has(parent)) ids.add(r.requestId);
  }
  const mine = records.filter((r) => r.requestId !== undefined && ids.has(r.requestId));
  const entries = mine.flatMap(entryOf).sort((a, b) => a.at - b.at);
  const first = (type: string) => {
    const r = mine.find((x) => x.type === type);
    return r ? ms(r) : undefined;
  };
  const received = mine.find((r) => r.type === 'alert.received');
  const fired = received ? Date.parse(str(received.details?.startsAt) ?? '') : NaN;
  const created = first('request.created');
  const approved = first('request.approved');
  const stages: Partial<Record<Stage, number>> = {};
  const span = (stage: Stage, from?: number, to?: number) => {
    if (from !== undefined && to !== undefined && Number.isFinite(from) && to >= from)
      stages[stage] = (to - from) / 1000;
  };
  const applied = lastOfEach(mine, APPLIED_STEPS);
  span('alert_to_proposal', Number.isFinite(fired) ? fired : undefined, created);
  span('proposal_to_approval', created, approved);
  span('approval_to_applied', approved, applied);
  span('applied_to_verified', applied, lastOfEach(mine, VERIFIED_STEPS));
  // Actors that are not people (an alert source) never match a mention, so they need no filtering.
  const people = new Set(mine.flatMap((r) => [r.actor, r.approver]).filter((u): u is string => !!u));
  return {
    requestIds: [...ids],
    entries,
    stages,
    people: [...people],
    ...(opts.partial ? { partial: true } : {}),
  };
}

/** Per request, when the first of `steps` it finished (by preference) was done; the latest of those. */
function lastOfEach(records: readonly AuditRecord[], steps: readonly string[]): number | undefined {
  const done = new Map<string, Map<string, number>>();
  for (const r of records) {
    const step = str(r.details?.step);
    if (r.type !== 'step.finished' || !step || !steps.includes(step)) continue;
    const byStep = done.get(r.requestId!) ?? new Map<string, number>();
    if (!byStep.has(step)) byStep.set(step, ms(r));
    done.set(r.requestId!, byStep);
  }
  let latest: number | undefined;
  for (const byStep of done.values()) {
    const at = steps.map((s) => byStep.get(s)).find((t) => t !== undefined)!;
    latest = latest === undefined ? at : Math.max(latest, at);
  }
  return latest;
}

const STAGE_WORDS: Record<Stage, string> = {
  alert_to_proposal: 'alert → proposal',
  proposal_to_approval: 'proposal → approval',
  approval_to_applied: 'approval → applied',
  applied_to_verified: 'applied → verified',
};

/** Markdown for a post-incident review (UTC times). */
export function timelineMarkdown(t: Timeline): string {
  const lines = [`# Timeline of ${t.requestIds.join(', ')}`, ''];
  for (const e of t.entries) {
    lines.push(
      `- ${new Date(e.at).toISOString().replace('T', ' ').slice(0, 19)} UTC — ${whose(t, e)}${e.what}${e.who ? ` by ${e.who}` : ''}`,
    );
  }
  if (t.partial) lines.push('- … (more records than were read; the rest are in the audit log)');
  lines.push('', '## Time to mitigate', '');
  for (const s of STAGES) {
    const v = t.stages[s];
    lines.push(
      `- ${STAGE_WORDS[s]}: ${v === undefined ? 'not recorded' : formatDuration(Math.round(v * 1000))}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function stageWords(s: Stage): string {
  return STAGE_WORDS[s];
}

/** In a timeline of several requests, which one an entry is about ("rb-7kq2m9x4: "). */
export function whose(t: Timeline, e: TimelineEntry): string {
  return t.requestIds.length > 1 && e.requestId ? `${e.requestId}: ` : '';
}
