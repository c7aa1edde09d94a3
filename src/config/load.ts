import { readFile } from 'node:fs/promises';
import { parseDocument, LineCounter } from 'yaml';
import type { z } from 'zod';
import { configSchema } from './schema.js';
import { buildConfig, type Config } from './model.js';
import { closest } from '../text/suggest.js';

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Reads and validates the YAML file; every problem names its path in the file (and line when known). */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
    return {
      ok: false,
      problems: [
        `${path} ${why}. Set BACKOUT_CONFIG to your config file; backout.example.yml shows the shape.`,
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
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    const at =
      issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
        ? [...issue.path, issue.keys[0]]
        : issue.path;
    const line = lineOf(doc, lineCounter, at);
    return `${where}: ${describeIssue(issue)}${line ? ` (line ${line})` : ''}`;
  });
  // Cross-field rules run in the schema only once the shape is valid; report them anyway.
  for (const [path, message] of crossFieldProblems(raw)) {
    const text = `${path.join('.')}: ${message}`;
    const line = lineOf(doc, lineCounter, path);
    if (!problems.some((p) => p.startsWith(text))) problems.push(`${text}${line ? ` (line ${line})` : ''}`);
  }
  return { ok: false, problems };
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
  top: ['slack', 'policy', 'freezes', 'audit', 'services'],
  service: ['github', 'channel', 'environments', 'policy'],
  environment: ['default', 'kubernetes', 'channel', 'health', 'rollout', 'canary', 'policy'],
  policy: ['requesters', 'approvers', 'approval', 'twoPerson', 'approvalTtl'],
};

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `required (expected ${issue.expected})`;
  }
  if (issue.code === 'unrecognized_keys') {
    const all = Object.values(KNOWN_KEYS).flat();
    return issue.keys
      .map((k) => {
        const guess = closest(k, all);
        return `unknown key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`;
      })
      .join('; ');
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    return `expected ${issue.expected}, got ${describeInput(issue.input)}`;
  }
  return issue.message;
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return `${typeof input} ${JSON.stringify(input)}`;
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
