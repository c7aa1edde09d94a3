import { createHash } from 'node:crypto';

export type AuditEventType =
  | 'request.created'
  | 'request.approved'
  | 'request.approval-added'
  | 'request.rejected'
  | 'request.expired'
  | 'request.cancelled'
  | 'job.started'
  | 'job.retried'
  | 'step.started'
  | 'step.finished'
  | 'job.succeeded'
  | 'job.failed'
  | 'job.undone'
  | 'release.snapshot'
  | 'registry.changed'
  | 'canary.weight'
  | 'canary.promotion-approved'
  | 'canary.aborted'
  | 'gitops.sync-paused'
  | 'audit.checkpoint'
  | 'alert.received'
  | 'alert.resolved'
  | 'incident.silenced'
  | 'incident.unsilenced'
  | 'statuspage.call';

/** What callers provide; the log adds seq, id, timestamp and the chain. */
export interface AuditEvent {
  type: AuditEventType;
  requestId?: string;
  service?: string;
  environment?: string;
  releaseTag?: string;
  revision?: number;
  actor?: string;
  approver?: string;
  planHash?: string;
  outcome?: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  id: string;
  ts: string;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, so the same record always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** SHA-256 over the previous hash and the record without its own hash. */
export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  const { ...body } = record as Omit<AuditRecord, 'hash'> & { hash?: string };
  delete body.hash;
  return createHash('sha256').update(record.prevHash).update('\n').update(canonicalJson(body)).digest('hex');
}

/**
 * What an `audit.checkpoint` record says: the records up to `throughSeq` (whose last hash
 * is `throughHash`) left the live chain — archived to `archive`, or kept only in the
 * JSON-lines file when Redis lost its stream — and the live chain continues from there.
 */
export interface CheckpointDetails {
  throughSeq: number;
  throughHash: string;
  /** The archive file's name (in `AUDIT_LOG_DIR/archive/`), when records were archived. */
  archive?: string;
  /** SHA-256 of the archive file's bytes. */
  archiveSha256?: string;
  fromSeq?: number;
  count?: number;
  reason?: string;
}

/** The checkpoint details of a record, or undefined when it is not a well-formed checkpoint. */
export function checkpointOf(record: AuditRecord): CheckpointDetails | undefined {
  if (record.type !== 'audit.checkpoint') return undefined;
  const d = record.details;
  if (!d || typeof d.throughSeq !== 'number' || typeof d.throughHash !== 'string') return undefined;
  return d as unknown as CheckpointDetails;
}

/**
 * The release tag and revision a request's plan is about, for its audit records (and so
 * the compliance report): a rollback plan's target revision (`to.revision`), a
 * retraction's release (`release.tag`, or `tag`). Plans of other shapes give nothing.
 */
export function planAuditFields(plan: unknown): { releaseTag?: string; revision?: number } {
  if (!plan || typeof plan !== 'object') return {};
  const p = plan as { to?: { revision?: unknown }; release?: { tag?: unknown }; tag?: unknown };
  const revision = p.to && typeof p.to.revision === 'number' ? p.to.revision : undefined;
  const tag =
    typeof p.release?.tag === 'string' ? p.release.tag : typeof p.tag === 'string' ? p.tag : undefined;
  return {
    ...(tag !== undefined ? { releaseTag: tag } : {}),
    ...(revision !== undefined ? { revision } : {}),
  };
}
