// Object storage with the API server's bookkeeping: one global resourceVersion counter, uid and
// creationTimestamp on create, generation bumped only when something outside metadata and status
// changes, no-op writes left untouched (no new resourceVersion), schema validation before every write,
// and a bounded event history for watches.
import { randomBytes, randomUUID } from 'node:crypto';

import { applyDefaults } from './defaults.js';
import { clone, deepEqual } from './json.js';
import { recordWrite } from './managed-fields.js';
import { RESOURCES, immutableChecks, type KObject, type Kind } from './resources.js';
import { alreadyExists, invalid, notFound } from './status.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  kind: Kind;
  object: KObject;
  resourceVersion: number;
}

const HISTORY_LIMIT = 2000;

export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function specOf(obj: KObject): unknown {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/** What `list` may narrow its candidates by before filtering: one label's value, a controller owner's uid. */
export interface ListIndex {
  label?: { key: string; value: string };
  ownerUid?: string;
}

export class ObjectStore {
  private counter = 1000;
  private readonly objects = new Map<Kind, Map<string, KObject>>();
  /**
   * Keys of stored objects by kind and namespace, by kind, namespace and label `k=v`, and by kind
   * and controller owner uid, so that listing one Deployment's ReplicaSets among tens of thousands
   * touches only those.
   */
  private readonly index = new Map<string, Set<string>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  get resourceVersion(): string {
    return String(this.counter);
  }

  private bucket(kind: Kind): Map<string, KObject> {
    let map = this.objects.get(kind);
    if (!map) {
      map = new Map();
      this.objects.set(kind, map);
    }
    return map;
  }

  private indexEntries(kind: Kind, obj: KObject): string[] {
    const ns = obj.metadata.namespace;
    const entries = [`${kind}\0ns\0${ns}`];
    for (const [k, v] of Object.entries(obj.metadata.labels ?? {}))
      entries.push(`${kind}\0label\0${ns}\0${k}=${v}`);
    for (const o of obj.metadata.ownerReferences ?? [])
      if (o.controller === true && o.uid) entries.push(`${kind}\0owner\0${o.uid}`);
    return entries;
  }

  private indexAdd(kind: Kind, obj: KObject): void {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    for (const entry of this.indexEntries(kind, obj)) {
      let set = this.index.get(entry);
      if (!set) this.index.set(entry, (set = new Set()));
      set.add(k);
    }
  }

  private indexRemove(kind: Kind, obj: KObject): void {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    for (const entry of this.indexEntries(kind, obj)) {
      const set = this.index.get(entry);
      set?.delete(k);
      if (set?.size === 0) this.index.delete(entry);
    }
  }

  get(kind: Kind, namespace: string, name: string): KObject | undefined {
    const obj = this.bucket(kind).get(key(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  /**
   * Objects of a kind in one namespace (all namespaces when omitted), sorted like etcd keys. With
   * `by`, only those with that label value (in `namespace`) or that controller owner: the caller
   * still applies its full selector, this only narrows the candidates through the index.
   */
  list(kind: Kind, namespace?: string, by: ListIndex = {}): KObject[] {
    const bucket = this.bucket(kind);
    const entry = by.ownerUid
      ? `${kind}\0owner\0${by.ownerUid}`
      : by.label && namespace !== undefined
        ? `${kind}\0label\0${namespace}\0${by.label.key}=${by.label.value}`
        : namespace !== undefined
          ? `${kind}\0ns\0${namespace}`
          : undefined;
    const candidates =
      entry === undefined
        ? [...bucket.values()]
        : [...(this.index.get(entry) ?? [])].map((k) => bucket.get(k)!);
    return candidates
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) =>
        key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)),
      )
      .map((o) => clone(o));
  }

  /** `manager` (a field manager's name) is recorded in managedFields as the owner of what it set. */
  create(kind: Kind, input: KObject, opts: { dryRun?: boolean; manager?: string } = {}): KObject {
    const type = RESOURCES[kind];
    const obj = clone(input);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName)
      meta.name = `${meta.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    if (!meta.name)
      throw invalid(kind, { plural: type.plural, group: type.group, name: '' }, [
        { field: 'metadata.name', message: 'Required value: name or generateName is required' },
      ]);
    if (this.bucket(kind).has(key(meta.namespace, meta.name))) {
      throw alreadyExists({ plural: type.plural, group: type.group, name: meta.name });
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = meta.creationTimestamp ?? timestamp();
    meta.generation = 1;
    meta.resourceVersion = String(this.counter + 1);
    delete meta.managedFields;
    applyDefaults(kind, obj);
    if (opts.manager) meta.managedFields = recordWrite(undefined, obj, opts.manager);
    type.validate(obj);
    if (opts.dryRun) return obj;
    this.counter++;
    this.bucket(kind).set(key(meta.namespace, meta.name), clone(obj));
    this.indexAdd(kind, obj);
    this.emit('ADDED', kind, obj);
    return obj;
  }

  /**
   * Stores `next` in place of the current object. Server-managed metadata (uid, creationTimestamp,
   * generation, resourceVersion) is taken from the stored object; the caller has already checked any
   * resourceVersion precondition and applied subresource rules. managedFields are kept; with a
   * `manager`, the fields it changed become its own (on `subresource` when given).
   */
  replace(
    kind: Kind,
    next: KObject,
    opts: { dryRun?: boolean; manager?: string; subresource?: string } = {},
  ): KObject {
    const type = RESOURCES[kind];
    const { namespace, name } = next.metadata;
    const prev = this.bucket(kind).get(key(namespace, name));
    if (!prev) throw notFound({ plural: type.plural, group: type.group, name });
    const obj = clone(next);
    obj.apiVersion = prev.apiVersion;
    obj.kind = prev.kind;
    obj.metadata = {
      ...obj.metadata,
      name: prev.metadata.name,
      namespace: prev.metadata.namespace,
      uid: prev.metadata.uid,
      creationTimestamp: prev.metadata.creationTimestamp,
      generation: prev.metadata.generation,
      resourceVersion: prev.metadata.resourceVersion,
    };
    delete obj.metadata.managedFields;
    if (prev.metadata.managedFields) obj.metadata.managedFields = clone(prev.metadata.managedFields);
    applyDefaults(kind, obj);
    if (deepEqual(obj, prev)) return clone(prev);
    if (opts.manager) obj.metadata.managedFields = recordWrite(prev, obj, opts.manager, opts.subresource);
    const immutable = immutableChecks(prev, obj);
    if (immutable.length > 0)
      throw invalid(kind, { plural: type.plural, group: type.group, name }, immutable);
    if (!deepEqual(specOf(obj), specOf(prev))) obj.metadata.generation = (prev.metadata.generation ?? 1) + 1;
    obj.metadata.resourceVersion = String(this.counter + 1);
    type.validate(obj);
    if (opts.dryRun) return obj;
    this.counter++;
    this.bucket(kind).set(key(namespace, name), clone(obj));
    this.indexRemove(kind, prev);
    this.indexAdd(kind, obj);
    this.emit('MODIFIED', kind, obj);
    return obj;
  }

  remove(kind: Kind, namespace: string, name: string): KObject | undefined {
    const map = this.bucket(kind);
    const obj = map.get(key(namespace, name));
    if (!obj) return undefined;
    map.delete(key(namespace, name));
    this.indexRemove(kind, obj);
    this.counter++;
    const gone = {
      ...clone(obj),
      metadata: { ...clone(obj.metadata), resourceVersion: String(this.counter) },
    };
    this.emit('DELETED', kind, gone);
    return gone;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `resourceVersion`, or undefined when that version is older than the kept history. */
  eventsAfter(resourceVersion: number): StoreEvent[] | undefined {
    const oldest = this.history[0]?.resourceVersion ?? this.counter + 1;
    if (resourceVersion < oldest - 1 && this.history.length >= HISTORY_LIMIT) return undefined;
    return this.history
      .filter((e) => e.resourceVersion > resourceVersion)
      .map((e) => ({ ...e, object: clone(e.object) }));
  }

  private emit(type: WatchEventType, kind: Kind, obj: KObject): void {
    const event: StoreEvent = { type, kind, object: clone(obj), resourceVersion: this.counter };
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    for (const listener of this.listeners) listener({ ...event, object: clone(event.object) });
  }
}
