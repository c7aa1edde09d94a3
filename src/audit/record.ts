import { createHash } from 'node:crypto';

export type AuditEventType =
  | 'request.created'
  | 'request.approved'
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
  | 'audit.checkpoint';

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
