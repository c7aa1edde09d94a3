// JSON helpers shared by the Kubernetes double: plain-object checks, structural equality, cloning,
// canonical serialisation (for hashing) and RFC 6902 / RFC 7386 / strategic-merge patch application.

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Structural equality of JSON values; object key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** JSON with sorted object keys, so equal values serialise identically. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A patch that cannot be applied. `malformed` patches are answered 400 BadRequest; patches that are
 * well-formed but do not apply (missing path, failed `test`) are answered 422 like the API server does.
 */
export class PatchError extends Error {
  constructor(
    message: string,
    readonly malformed: boolean,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// RFC 6902 JSON Patch (messages follow evanphx/json-patch, which the API server uses)

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`, true);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function decodeOperations(patch: unknown): Operation[] {
  if (!Array.isArray(patch))
    throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', true);
  return patch.map((raw): Operation => {
    if (!isObject(raw) || typeof raw.op !== 'string')
      throw new PatchError('Unexpected kind: missing op', true);
    const op = raw.op;
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op)) {
      throw new PatchError(`Unexpected kind: ${op}`, true);
    }
    if (typeof raw.path !== 'string') throw new PatchError(`${op} operation missing path`, true);
    if ((op === 'move' || op === 'copy') && typeof raw.from !== 'string') {
      throw new PatchError(`${op} operation missing from`, true);
    }
    if ((op === 'add' || op === 'replace' || op === 'test') && !('value' in raw)) {
      throw new PatchError(`${op} operation missing value`, true);
    }
    return {
      op: op as Operation['op'],
      path: raw.path,
      from: typeof raw.from === 'string' ? raw.from : undefined,
      value: raw.value,
    };
  });
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return -1;
  const index = Number(token);
  return index <= (allowEnd ? length : length - 1) ? index : -1;
}

function getAt(doc: unknown, tokens: string[]): { found: boolean; value: unknown } {
  let cur = doc;
  for (const token of tokens) {
    if (Array.isArray(cur)) {
      const i = arrayIndex(token, cur.length, false);
      if (i < 0) return { found: false, value: undefined };
      cur = cur[i];
    } else if (isObject(cur) && Object.hasOwn(cur, token)) {
      cur = cur[token];
    } else {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value: cur };
}

function parentOf(doc: unknown, tokens: string[], op: string, path: string): unknown {
  const parent = getAt(doc, tokens.slice(0, -1));
  if (!parent.found || (!isObject(parent.value) && !Array.isArray(parent.value))) {
    throw new PatchError(
      `${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`,
      false,
    );
  }
  return parent.value;
}

function addAt(doc: unknown, tokens: string[], value: unknown, path: string): unknown {
  const last = tokens.at(-1);
  if (last === undefined) return value;
  const parent = parentOf(doc, tokens, 'add', path);
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, true);
    if (i < 0)
      throw new PatchError(`Unable to access invalid index: ${last}: invalid index referenced`, false);
    parent.splice(i, 0, value);
  } else {
    (parent as JsonObject)[last] = value;
  }
  return doc;
}

function removeAt(doc: unknown, tokens: string[], path: string): unknown {
  const last = tokens.at(-1);
  if (last === undefined) throw new PatchError('Unable to remove the document root', false);
  const parent = parentOf(doc, tokens, 'remove', path);
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false);
    if (i < 0)
      throw new PatchError(`Unable to remove invalid index: ${last}: invalid index referenced`, false);
    parent.splice(i, 1);
  } else if (Object.hasOwn(parent as JsonObject, last)) {
    delete (parent as JsonObject)[last];
  } else {
    throw new PatchError(`Unable to remove nonexistent key: ${last}: missing value`, false);
  }
  return doc;
}

/** Applies an RFC 6902 patch atomically: on any error the input is left untouched. */
export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  let doc = clone(target);
  for (const op of decodeOperations(patch)) {
    const tokens = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        doc = addAt(doc, tokens, clone(op.value), op.path);
        break;
      case 'remove':
        doc = removeAt(doc, tokens, op.path);
        break;
      case 'replace':
        if (!getAt(doc, tokens).found) {
          throw new PatchError(
            `replace operation does not apply: doc is missing key: ${op.path}: missing value`,
            false,
          );
        }
        if (tokens.length > 0) removeAt(doc, tokens, op.path);
        doc = addAt(doc, tokens, clone(op.value), op.path);
        break;
      case 'move':
      case 'copy': {
        const fromTokens = parsePointer(op.from!);
        const source = getAt(doc, fromTokens);
        if (!source.found) {
          throw new PatchError(
            `${op.op} operation does not apply: doc is missing from path: ${op.from}: missing value`,
            false,
          );
        }
        const value = clone(source.value);
        if (op.op === 'move') doc = removeAt(doc, fromTokens, op.from!);
        doc = addAt(doc, tokens, value, op.path);
        break;
      }
      case 'test': {
        const current = getAt(doc, tokens);
        if (!current.found || !deepEqual(current.value, op.value)) {
          throw new PatchError(`testing value ${op.path} failed: test failed`, false);
        }
        break;
      }
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------------
// RFC 7386 JSON Merge Patch: objects merge recursively, null deletes, everything else (arrays included)
// replaces wholesale.

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Strategic merge patch, reduced to what Deployment patches use. It differs from a merge patch in one
// way that matters here: lists whose Go field carries `patchStrategy:"merge"` are merged element by
// element using the field's `patchMergeKey` (containers by name, so `{containers:[{name, image}]}`
// changes one image instead of replacing the whole container list). Elements carrying
// `{"$patch":"delete"}` are removed. Other directives (`$setElementOrder/…`, `$retainKeys`,
// `$deleteFromPrimitiveList/…`) are dropped, and primitive lists are replaced. The real API server
// derives the merge keys from the Go types; the table below lists the ones found in workload objects.

const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  ownerReferences: 'uid',
};

function mergeKeyedList(current: unknown, patch: unknown[], key: string): unknown[] {
  const result: unknown[] = Array.isArray(current) ? (current as unknown[]).map((item) => clone(item)) : [];
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = applyStrategicMergePatch(result[index], item);
    } else {
      result.push(applyStrategicMergePatch(undefined, item));
    }
  }
  return result;
}

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _directive, ...rest } = patch;
    return applyStrategicMergePatch(undefined, rest);
  }
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    const mergeKey = MERGE_KEYS[key];
    if (value === null) delete result[key];
    else if (mergeKey && Array.isArray(value)) result[key] = mergeKeyedList(result[key], value, mergeKey);
    else result[key] = applyStrategicMergePatch(result[key], value);
  }
  return result;
}
