// metadata.managedFields as the API server keeps them for Update operations: each write's manager
// (the `fieldManager` query parameter, else the User-Agent's product name) takes ownership of the
// fields it changed, in FieldsV1 form (`f:<field>`, `k:{"name":…}` for keyed list items), with the
// time of the write; the same fields are taken away from every other manager.
import { deepEqual, isObject, type JsonObject } from './json.js';
import type { KObject } from './resources.js';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Update' | 'Apply';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

/** Metadata the server owns; never part of a manager's fields. */
const SERVER_METADATA = new Set([
  'managedFields',
  'resourceVersion',
  'generation',
  'uid',
  'creationTimestamp',
  'name',
  'namespace',
]);

/** The User-Agent's product token (`kubectl/v1.31 …` → `kubectl`), as the API server derives a manager. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const product = userAgent?.split('/')[0]?.trim();
  return product ? product.slice(0, 128) : 'unknown';
}

/** The fields that differ from `before` to `after`, as a FieldsV1 tree (removed fields are not owned). */
function changedFields(before: unknown, after: unknown): JsonObject {
  const tree: JsonObject = {};
  if (isObject(after)) {
    const prev = isObject(before) ? before : {};
    for (const [key, value] of Object.entries(after)) {
      if (deepEqual(prev[key], value)) continue;
      tree[`f:${key}`] = changedFields(prev[key], value);
    }
    return tree;
  }
  if (Array.isArray(after) && after.every((item) => isObject(item) && typeof item.name === 'string')) {
    const prev: unknown[] = Array.isArray(before) ? before : [];
    for (const item of after as JsonObject[]) {
      const old: unknown = prev.find((p) => isObject(p) && p.name === item.name);
      if (deepEqual(old, item)) continue;
      tree[`k:${JSON.stringify({ name: item.name })}`] = {
        '.': {},
        ...changedFields(old, item),
      };
    }
    return tree;
  }
  return tree;
}

function objectFields(obj: KObject, subresource: string | undefined): JsonObject {
  if (subresource === 'status') return { status: obj.status ?? {} };
  const meta = Object.fromEntries(Object.entries(obj.metadata).filter(([k]) => !SERVER_METADATA.has(k)));
  const { apiVersion: _a, kind: _k, status: _s, metadata: _m, ...rest } = obj;
  return { metadata: meta, ...rest };
}

/** Merges `add` into `into` (both FieldsV1 trees). */
function merge(into: JsonObject, add: JsonObject): JsonObject {
  const out: JsonObject = { ...into };
  for (const [k, v] of Object.entries(add)) {
    out[k] = isObject(out[k]) && isObject(v) ? merge(out[k], v) : v;
  }
  return out;
}

/** Removes from `tree` the leaves that `taken` names; parents left empty go too. */
function subtract(tree: JsonObject, taken: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(tree)) {
    const t = taken[k];
    if (t === undefined || !isObject(v)) {
      out[k] = v;
      continue;
    }
    if (!isObject(t) || Object.keys(t).length === 0) continue;
    const rest = subtract(v, t);
    if (Object.keys(rest).length > 0) out[k] = rest;
  }
  return out;
}

function timestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The managedFields after `manager` wrote `next` over `prev` (undefined on create): its entry gains
 * the changed fields and the write's time; other entries lose them. Unchanged when nothing changed.
 */
export function recordWrite(
  prev: KObject | undefined,
  next: KObject,
  manager: string,
  subresource?: string,
  now = new Date(),
): ManagedFieldsEntry[] {
  const entries = ((prev?.metadata.managedFields ?? []) as ManagedFieldsEntry[]).map((e) => ({ ...e }));
  const changed = changedFields(prev ? objectFields(prev, subresource) : {}, objectFields(next, subresource));
  if (Object.keys(changed).length === 0) return entries;
  const kept = entries
    .map((e) => ({ ...e, fieldsV1: subtract(e.fieldsV1, changed) }))
    .filter((e) => Object.keys(e.fieldsV1).length > 0);
  const own = kept.find(
    (e) => e.manager === manager && e.operation === 'Update' && e.subresource === subresource,
  );
  if (own) {
    own.fieldsV1 = merge(own.fieldsV1, changed);
    own.time = timestamp(now);
    return kept;
  }
  return [
    ...kept,
    {
      manager,
      operation: 'Update',
      apiVersion: next.apiVersion,
      time: timestamp(now),
      fieldsType: 'FieldsV1',
      fieldsV1: changed,
      ...(subresource ? { subresource } : {}),
    },
  ];
}
