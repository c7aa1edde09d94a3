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
  requestIds: string[];
  entries: TimelineEntry[];
  /** Seconds per stage, where both ends were recorded. */
  stages: Partial<Record<Stage, number>>;
}

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
          what: `Step ${str(d.step) ?? '?'} done${typeof d.durationMs === 'number' ? ` in ${formatDuration(d.durationMs)}` : ''}`,
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

/** The incident's timeline from backout's own audit records (never from Slack), with its stage durations. */
export function buildTimeline(records: readonly AuditRecord[], requestIds: readonly string[]): Timeline {
  const ids = new Set(requestIds);
  const mine = records.filter((r) => r.requestId !== undefined && ids.has(r.requestId));
  const entries = mine.flatMap(entryOf).sort((a, b) => a.at - b.at);
  const first = (type: string, pred: (r: AuditRecord) => boolean = () => true) => {
    const r = mine.find((x) => x.type === type && pred(x));
    return r ? ms(r) : undefined;
  };
  const received = mine.find((r) => r.type === 'alert.received');
  const fired = received ? Date.parse(str(received.details?.startsAt) ?? '') : NaN;
  const created = first('request.created');
  const approved = first('request.approved');
  const stepDone = (name: string) => first('step.finished', (r) => r.details?.step === name);
  const applied = stepDone('wait') ?? stepDone('apply');
  const verified = stepDone('verify');
  const stages: Partial<Record<Stage, number>> = {};
  const span = (stage: Stage, from?: number, to?: number) => {
    if (from !== undefined && to !== undefined && Number.isFinite(from) && to >= from)
      stages[stage] = (to - from) / 1000;
  };
  span('alert_to_proposal', Number.isFinite(fired) ? fired : undefined, created);
  span('proposal_to_approval', created, approved);
  span('approval_to_applied', approved, applied);
  span('applied_to_verified', applied, verified);
  return { requestIds: [...ids], entries, stages };
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
      `- ${new Date(e.at).toISOString().replace('T', ' ').slice(0, 19)} UTC — ${e.what}${e.who ? ` by ${e.who}` : ''}`,
    );
  }
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
