// Label and field selectors as they appear in list and watch query strings.
import { ApiError } from './status.js';

type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

export type Selector = (labels: Record<string, string> | undefined) => boolean;

/** Splits on commas that are not inside a `(…)` value set. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseTerm(term: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (set) {
    const [, key = '', op, list = ''] = set;
    const values = list
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return { op: op as 'in' | 'notin', key, values };
  }
  const cmp = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (cmp) {
    const [, key = '', op, value = ''] = cmp;
    return { op: op === '!=' ? 'neq' : 'eq', key, value };
  }
  if (/^![^!=\s()]+$/.test(term)) return { op: 'notexists', key: term.slice(1) };
  if (/^[^!=\s()]+$/.test(term)) return { op: 'exists', key: term };
  throw new ApiError(
    400,
    `unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`,
  );
}

function matches(req: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.op) {
    case 'eq':
      return has && value === req.value;
    case 'neq':
      return !has || value !== req.value;
    case 'in':
      return has && value !== undefined && req.values.includes(value);
    case 'notin':
      return !has || value === undefined || !req.values.includes(value);
    case 'exists':
      return has;
    case 'notexists':
      return !has;
  }
}

/** Equality (`a=b`, `a==b`, `a!=b`), set (`a in (x,y)`, `a notin (x)`) and existence (`a`, `!a`) terms. */
export function parseLabelSelector(text: string | undefined): Selector {
  const requirements = text ? splitTerms(text).map(parseTerm) : [];
  return (labels) => requirements.every((r) => matches(r, labels ?? {}));
}

/** Field selectors support `metadata.name` and `metadata.namespace`, with `=`, `==` and `!=`. */
export function parseFieldSelector(
  text: string | undefined,
): (meta: { name: string; namespace: string }) => boolean {
  const terms = text ? splitTerms(text) : [];
  const checks = terms.map((term) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (!m) throw new ApiError(400, `invalid selector: '${term}'; can't understand '${term}'`);
    const [, field, op, value] = m;
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw new ApiError(
        400,
        `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    }
    const key = field === 'metadata.name' ? 'name' : 'namespace';
    return (meta: { name: string; namespace: string }) =>
      op === '!=' ? meta[key] !== value : meta[key] === value;
  });
  return (meta) => checks.every((check) => check(meta));
}
