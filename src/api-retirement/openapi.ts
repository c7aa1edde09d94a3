import type { DeprecationEntry } from './entry.js';
import { deprecationHeaders } from './headers.js';
import { compileMatcher } from './match.js';

/** An OpenAPI 3.x document, as parsed from YAML or JSON; only the parts backout touches are typed. */
export type OpenApiDocument = Record<string, unknown> & {
  openapi?: unknown;
  paths?: Record<string, Record<string, unknown>>;
  servers?: { url?: string }[];
};

type Operation = Record<string, unknown> & {
  deprecated?: boolean;
  description?: string;
  responses?: Record<string, Record<string, unknown>>;
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Appended to an operation's description; replaced on every run, removed when the entry goes. */
const NOTE_START = '**Deprecated (backout):**';
const SUNSET_KEY = 'x-sunset';
const SIGNAL_HEADERS = ['Deprecation', 'Sunset', 'Link'] as const;
const GONE =
  'Gone: the endpoint is retired (after the sunset) or refused during a scheduled brownout; the body names the successor.';

export interface OperationRef {
  method: string;
  path: string;
}

export interface Mismatch extends OperationRef {
  problem: string;
}

/** Every operation with the registry entry that applies to it, as a request would be matched. */
function operations(doc: OpenApiDocument, entries: readonly DeprecationEntry[], basePath: string) {
  const match = compileMatcher(entries);
  const found: { ref: OperationRef; operation: Operation; entry: DeprecationEntry | undefined }[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    // A concrete request for the template: `{id}` becomes a value no literal segment uses.
    const url = `${basePath}${path}`.replace(/\{[^}/]+\}/g, '_param_');
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (!operation || typeof operation !== 'object') continue;
      const entry = match({ method: method.toUpperCase(), url, headers: {} });
      found.push({ ref: { method: method.toUpperCase(), path }, operation, entry });
    }
  }
  return found;
}

/** The path prefix the first server URL adds (`https://api.example.com/shop` → `/shop`). */
export function serverBasePath(doc: OpenApiDocument): string {
  const url = doc.servers?.[0]?.url;
  if (!url) return '';
  try {
    return new URL(url, 'http://placeholder').pathname.replace(/\/$/, '');
  } catch {
    return '';
  }
}

export function openApiProblem(doc: unknown): string | undefined {
  if (!doc || typeof doc !== 'object') return 'the file is not an OpenAPI document (no top-level object)';
  const version = (doc as OpenApiDocument).openapi;
  if (typeof version !== 'string' || !version.startsWith('3.'))
    return 'only OpenAPI 3.x documents are supported (the file has no `openapi: 3.x` field; Swagger 2.0 can be converted first)';
  return undefined;
}

/**
 * Marks every operation the registry deprecates: `deprecated: true`, `x-sunset`, the
 * `Deprecation`/`Sunset`/`Link` response headers documented, the successor linked in the
 * description, and a `410` answer. Operations backout marked before and the registry no longer
 * lists are unmarked. Returns what it could not express (entries keyed on a version header).
 */
export function annotateOpenApi(
  doc: OpenApiDocument,
  entries: readonly DeprecationEntry[],
  basePath = serverBasePath(doc),
): { notes: string[] } {
  const notes: string[] = [];
  for (const { operation, entry } of operations(doc, entries, basePath)) {
    if (entry) mark(operation, entry, notes);
    else if (SUNSET_KEY in operation) unmark(operation);
  }
  for (const entry of entries.filter((e) => e.versionHeader)) {
    notes.push(
      `${entry.id}: keyed on the ${entry.versionHeader!.name} header, which OpenAPI cannot express per operation; not marked`,
    );
  }
  return { notes };
}

/** Where the spec and the registry disagree; empty when they are in step. */
export function checkOpenApi(
  doc: OpenApiDocument,
  entries: readonly DeprecationEntry[],
  basePath = serverBasePath(doc),
): Mismatch[] {
  const mismatches: Mismatch[] = [];
  const used = new Set<string>();
  for (const { ref, operation, entry } of operations(doc, entries, basePath)) {
    if (entry) used.add(entry.id);
    if (entry && operation.deprecated !== true) {
      mismatches.push({
        ...ref,
        problem: `deprecated in the registry (sunset ${entry.sunset}) but not marked deprecated`,
      });
    } else if (entry && operation[SUNSET_KEY] !== entry.sunset) {
      mismatches.push({
        ...ref,
        problem: `x-sunset is ${JSON.stringify(operation[SUNSET_KEY] ?? null)}, the registry says ${entry.sunset}`,
      });
    } else if (!entry && operation.deprecated === true && SUNSET_KEY in operation) {
      mismatches.push({
        ...ref,
        problem: 'marked deprecated with an x-sunset, but the registry has no entry for it',
      });
    }
  }
  for (const entry of entries) {
    if (!entry.versionHeader && !used.has(entry.id)) {
      mismatches.push({
        method: entry.method,
        path: entry.pattern ?? '/*',
        problem: 'in the registry, but no operation in the spec matches it',
      });
    }
  }
  return mismatches;
}

function mark(operation: Operation, entry: DeprecationEntry, notes: string[]): void {
  operation.deprecated = true;
  operation[SUNSET_KEY] = entry.sunset;
  const note = [
    `${NOTE_START} since ${entry.deprecatedAt.slice(0, 10)}, retired on ${entry.sunset.slice(0, 10)}.`,
    entry.successor ? ` Use ${entry.successor} instead.` : '',
    entry.policy ? ` Policy: ${entry.policy}.` : '',
    entry.brownouts.length > 0 ? ` Scheduled brownouts before then refuse a share of requests with 410.` : '',
  ].join('');
  operation.description = [withoutNote(operation.description), note].filter(Boolean).join('\n\n');
  const example = deprecationHeaders(entry);
  const responses = (operation.responses ??= {});
  responses['410'] ??= {
    description: GONE,
    content: { 'application/problem+json': { schema: { type: 'object' } } },
  };
  for (const [status, response] of Object.entries(responses)) {
    if ('$ref' in response) {
      notes.push(
        `${status} response is a $ref: the Deprecation/Sunset/Link headers are not documented on it`,
      );
      continue;
    }
    const headers = ((response.headers as Record<string, unknown> | undefined) ??= {});
    for (const name of SIGNAL_HEADERS) {
      if (name === 'Link' && !example.Link) continue;
      headers[name] = headerDoc(name, example[name]);
    }
  }
}

function unmark(operation: Operation): void {
  delete operation.deprecated;
  delete operation[SUNSET_KEY];
  const description = withoutNote(operation.description);
  if (description) operation.description = description;
  else delete operation.description;
  const responses = operation.responses ?? {};
  if (responses['410']?.description === GONE) delete responses['410'];
  for (const response of Object.values(responses)) {
    const headers = response.headers as Record<string, unknown> | undefined;
    if (!headers) continue;
    for (const name of SIGNAL_HEADERS) delete headers[name];
    if (Object.keys(headers).length === 0) delete response.headers;
  }
}

function withoutNote(description: string | undefined): string {
  const text = description ?? '';
  const at = text.indexOf(NOTE_START);
  return (at === -1 ? text : text.slice(0, at)).trimEnd();
}

function headerDoc(name: (typeof SIGNAL_HEADERS)[number], example: string | undefined) {
  const description = {
    Deprecation: 'RFC 9745: when the endpoint was deprecated, as @<unix seconds>.',
    Sunset: 'RFC 8594: when the endpoint stops answering, as an HTTP date.',
    Link: 'RFC 8288: the successor (rel="successor-version") and the deprecation policy (rel="deprecation").',
  }[name];
  return { description, schema: { type: 'string' }, ...(example && { example }) };
}
