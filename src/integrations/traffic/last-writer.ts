import { utcText } from '../../text/time.js';
import { FIELD_MANAGER } from '../kubernetes/types.js';

/** Who last wrote a field, as the API server's managedFields tell it. */
export interface Writer {
  manager: string;
  /** RFC 3339 time of that manager's last write, when recorded. */
  at?: string;
}

/** One `metadata.managedFields` entry, as the API server sends it. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  time?: string | Date;
  fieldsV1?: unknown;
  subresource?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a FieldsV1 tree owns the field at `path` (`['metadata', 'annotations', 'x']` → `f:metadata.f:annotations.f:x`). */
function owns(fields: unknown, path: string[]): boolean {
  let node = fields;
  for (const key of path) {
    if (!isObject(node)) return false;
    node = node[`f:${key}`];
    if (node === undefined) return false;
  }
  return true;
}

const timeOf = (e: ManagedFieldsEntry) => (e.time ? new Date(e.time).getTime() : 0);

function writer(e: ManagedFieldsEntry): Writer {
  return { manager: e.manager ?? 'unknown', ...(e.time ? { at: new Date(e.time).toISOString() } : {}) };
}

/**
 * Who changed one of `paths` last: the newest entry other than backout's that owns one of them;
 * failing that, the newest entry other than backout's on the main resource. Undefined when the
 * object carries no managedFields that say.
 */
export function lastWriter(entries: ManagedFieldsEntry[] | undefined, paths: string[][]): Writer | undefined {
  const others = (entries ?? []).filter((e) => e.manager && e.manager !== FIELD_MANAGER);
  const newest = (list: ManagedFieldsEntry[]) => [...list].sort((a, b) => timeOf(b) - timeOf(a))[0];
  const owner = newest(others.filter((e) => paths.some((p) => owns(e.fieldsV1, p))));
  if (owner) return writer(owner);
  const any = newest(others.filter((e) => !e.subresource));
  return any ? writer(any) : undefined;
}

/** "`kubectl-edit` at 12:03:04 UTC" — or what is known. */
export function writerInWords(w: Writer | undefined): string {
  if (!w) return 'someone else (the object records no field manager that says who)';
  return `\`${w.manager}\`${w.at ? ` at ${utcText(Date.parse(w.at), { seconds: true })}` : ''}`;
}
