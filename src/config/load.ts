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
        const pos = e.linePos?.[0];
        return `${source}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return { ok: true, config: buildConfig(result.data) };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const where = issue.path.length ? issue.path.join('.') : '(top level)';
      const line = lineOf(doc, lineCounter, issue.path);
      return `${where}: ${describeIssue(issue)}${line ? ` (line ${line})` : ''}`;
    }),
  };
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
