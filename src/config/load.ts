import { readFile } from 'node:fs/promises';
import { isMap, isScalar, parseDocument, LineCounter } from 'yaml';
import type { z } from 'zod';
import { configSchema } from './schema.js';
import { buildConfig, type Config } from './model.js';
import { closest } from '../text/suggest.js';

/** On failure, `raw` is the document as parsed (when it is YAML at all), for checks that span file and environment. */
export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[]; raw?: unknown };

/** Reads and validates the YAML file; every problem names its path in the file (and line when known). */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : `the file cannot be read (${code ?? String(err)})`;
    // The caller names the path; this says what to do.
    return {
      ok: false,
      problems: [
        `${why}. Set BACKOUT_CONFIG to your config file, or write one with \`backout init\` (backout.example.yml shows every key).`,
      ],
    };
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, source = 'config'): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        return `${source}:${pos.line}:${pos.col}: YAML syntax error: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) return { ok: true, config: buildConfig(result.data) };
  const found: { line: number | undefined; text: string }[] = [];
  const add = (path: PropertyKey[], message: string, key?: string) => {
    const where = [...path, ...(key === undefined ? [] : [key])].map(String).join('.') || '(top level)';
    const text = `${where}: ${message}`;
    if (found.some((p) => p.text === text)) return;
    found.push({
      line: key === undefined ? lineOf(doc, lineCounter, path) : keyLine(doc, lineCounter, path, key),
      text,
    });
  };
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // One problem per key, on the key's own line.
      for (const k of issue.keys) add(issue.path, unknownKey(k), k);
    } else add(issue.path, describeIssue(issue));
  }
  // Cross-field rules run in the schema only once the shape is valid; report them anyway.
  for (const [path, message] of crossFieldProblems(raw)) add(path, message);
  // In the order of the file, as someone reading it top to bottom meets them.
  found.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return {
    ok: false,
    problems: found.map((p) => `${p.text}${p.line ? ` (line ${p.line})` : ''}`),
    raw,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema's cross-field rules, applied defensively to a document that may not have the right shape. */
function crossFieldProblems(raw: unknown): [(string | number)[], string][] {
  const out: [(string | number)[], string][] = [];
  if (!isRecord(raw) || !isRecord(raw.services)) return out;
  for (const [name, svc] of Object.entries(raw.services)) {
    if (!isRecord(svc) || !isRecord(svc.environments)) continue;
    const defaults = Object.entries(svc.environments).filter(([, e]) => isRecord(e) && e.default === true);
    if (defaults.length > 1) {
      out.push([
        ['services', name, 'environments'],
        `only one environment may be the default (${defaults.map(([n]) => n).join(', ')} all say default: true)`,
      ]);
    }
  }
  return out;
}

const KNOWN_KEYS: Record<string, string[]> = {
  top: ['slack', 'policy', 'freezes', 'windows', 'audit', 'services'],
  service: ['github', 'channel', 'environments', 'policy'],
  environment: [
    'default',
    'kubernetes',
    'channel',
    'health',
    'rollout',
    'canary',
    'gates',
    'rolloutGates',
    'policy',
  ],
  policy: [
    'requesters',
    'approvers',
    'approval',
    'twoPerson',
    'approvalTtl',
    'minApprovals',
    'requiredApprovers',
  ],
};

function unknownKey(k: string): string {
  const guess = closest(k, Object.values(KNOWN_KEYS).flat());
  return `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}`;
}

/** zod's words for a type, in the words of a YAML file. */
const KIND: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  array: 'a list',
  tuple: 'a list',
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  date: 'a date',
};
const kind = (expected: string) => KIND[expected] ?? expected;

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `required (${kind(issue.expected)})`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    return `expected ${kind(issue.expected)}, got ${describeInput(issue.input)}`;
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const bound = String(issue.code === 'too_small' ? issue.minimum : issue.maximum);
    const what =
      issue.origin === 'array' || issue.origin === 'set'
        ? `${bound} item${bound === '1' ? '' : 's'}`
        : issue.origin === 'string'
          ? `${bound} character${bound === '1' ? '' : 's'}`
          : bound;
    return `must be ${issue.code === 'too_small' ? 'at least' : 'at most'} ${what}`;
  }
  return issue.message;
}

function lineOf(
  doc: ReturnType<typeof parseDocument>,
  counter: LineCounter,
  path: PropertyKey[],
): number | undefined {
  // Walk up until a node that exists in the document (a missing key has no position).
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as { range?: [number] } | undefined;
    if (node && typeof node === 'object' && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** The line of `key` itself inside the mapping at `path` (not of its value, which may start a line later). */
function keyLine(
  doc: ReturnType<typeof parseDocument>,
  counter: LineCounter,
  path: PropertyKey[],
  key: string,
): number | undefined {
  const parent: unknown = path.length === 0 ? doc.contents : doc.getIn(path as (string | number)[], true);
  if (isMap(parent)) {
    const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
    const range = isScalar(pair?.key) ? pair.key.range : undefined;
    if (range) return counter.linePos(range[0]).line;
  }
  return lineOf(doc, counter, [...path, key]);
}

function describeInput(input: unknown): string {
  if (input === null) return 'nothing';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return `text ${JSON.stringify(input)}`;
  return `${typeof input === 'boolean' ? '' : `${typeof input} `}${JSON.stringify(input)}`;
}
