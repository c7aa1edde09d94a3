import { z } from 'zod';
import { patternProblem } from './pattern.js';

/** Hard ceiling on the gradual delay, so a typo cannot hold requests (and sockets) for minutes. */
export const MAX_DELAY_MS = 30_000;

const isoDateTime = z.iso.datetime({ offset: true });
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const brownoutWindowSchema = z
  .object({
    start: isoDateTime,
    end: isoDateTime,
    share: z.number().gt(0).max(1),
    status: z.union([z.literal(410), z.literal(503)]),
  })
  .refine((w) => Date.parse(w.start) < Date.parse(w.end), { message: 'window must end after it starts' });

export type BrownoutWindow = z.infer<typeof brownoutWindowSchema>;

const versionHeaderSchema = z.object({
  name: z.string().regex(HEADER_NAME, 'not an HTTP header name').max(128),
  value: z.string().min(1).max(256),
});

/**
 * Any absolute http(s) URL, single-label internal hosts included (`https://x/v2`): zod's
 * `httpUrl()` insists on a dotted domain. Nothing that could break out of a `Link` target.
 */
const linkTarget = z.string().refine((text) => {
  if (/[\s<>"]/.test(text)) return false;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'an absolute http:// or https:// URL');

export const deprecationEntrySchema = z
  .object({
    id: z.string().min(1),
    service: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "_" or "-"'),
    method: z.string().regex(/^(\*|[A-Z]{1,20})$/, 'an upper-case HTTP method or "*"'),
    pattern: z
      .string()
      .superRefine((pattern, ctx) => {
        const problem = patternProblem(pattern);
        if (problem) ctx.addIssue({ code: 'custom', message: `path pattern ${problem}` });
      })
      .optional(),
    versionHeader: versionHeaderSchema.optional(),
    deprecatedAt: isoDateTime,
    sunset: isoDateTime,
    successor: linkTarget.optional(),
    policy: linkTarget.optional(),
    brownouts: z.array(brownoutWindowSchema).max(500),
    delay: z
      .object({ from: isoDateTime.optional(), maxMs: z.number().int().min(1).max(MAX_DELAY_MS) })
      .optional(),
    createdBy: z.string().min(1),
    requestId: z.string().min(1),
    createdAt: isoDateTime,
  })
  .superRefine((entry, ctx) => {
    const issue = (message: string, path: (string | number)[]) =>
      ctx.addIssue({ code: 'custom', message, path });
    if (entry.pattern === undefined && entry.versionHeader === undefined) {
      issue('an entry needs a path pattern, a version header, or both', ['pattern']);
    }
    if (entry.id !== entryId(entry)) issue(`id must be "${entryId(entry)}"`, ['id']);
    const sunset = Date.parse(entry.sunset);
    if (Date.parse(entry.deprecatedAt) > sunset)
      issue('deprecation date is after the sunset', ['deprecatedAt']);
    if (entry.delay?.from !== undefined && Date.parse(entry.delay.from) >= sunset) {
      issue('delay must start before the sunset', ['delay', 'from']);
    }
    const windows = [...entry.brownouts].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    windows.forEach((window, index) => {
      if (Date.parse(window.end) > sunset) issue('brownout window ends after the sunset', ['brownouts']);
      const previous = windows[index - 1];
      if (previous && Date.parse(window.start) < Date.parse(previous.end)) {
        issue('brownout windows overlap', ['brownouts']);
      }
    });
  });

export type DeprecationEntry = z.infer<typeof deprecationEntrySchema>;

/**
 * `${METHOD} ${pattern}`; an entry that also (or only) matches a version header gets the header
 * appended, e.g. `* /* [api-version=1]`, so one endpoint can carry one entry per version.
 */
export function entryId(entry: Pick<DeprecationEntry, 'method' | 'pattern' | 'versionHeader'>): string {
  const base = `${entry.method} ${entry.pattern ?? '/*'}`;
  return entry.versionHeader ? `${base} [${entry.versionHeader.name}=${entry.versionHeader.value}]` : base;
}

export interface EntryInput {
  service: string;
  method: string;
  pattern?: string | undefined;
  versionHeader?: { name: string; value: string } | undefined;
  deprecatedAt: Date | string;
  sunset: Date | string;
  successor?: string | undefined;
  policy?: string | undefined;
  brownouts?: BrownoutWindow[] | undefined;
  delay?: { from?: Date | string | undefined; maxMs: number } | undefined;
  createdBy: string;
  requestId: string;
  createdAt?: Date | undefined;
}

export type BuildEntryResult = { ok: true; entry: DeprecationEntry } | { ok: false; error: string };

/** Normalises what a command collected (method case, header-name case, ISO dates, id) and validates it. */
export function buildEntry(input: EntryInput): BuildEntryResult {
  const iso = (value: Date | string) => {
    const date = value instanceof Date ? value : new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
  };
  const method = input.method.trim().toUpperCase();
  const versionHeader = input.versionHeader && {
    name: input.versionHeader.name.trim().toLowerCase(),
    value: input.versionHeader.value.trim(),
  };
  const candidate = {
    service: input.service,
    method,
    ...(input.pattern !== undefined && { pattern: input.pattern }),
    ...(versionHeader && { versionHeader }),
    deprecatedAt: iso(input.deprecatedAt),
    sunset: iso(input.sunset),
    ...(input.successor !== undefined && { successor: input.successor }),
    ...(input.policy !== undefined && { policy: input.policy }),
    brownouts: [...(input.brownouts ?? [])].sort((a, b) => Date.parse(a.start) - Date.parse(b.start)),
    ...(input.delay && {
      delay: {
        ...(input.delay.from !== undefined && { from: iso(input.delay.from) }),
        maxMs: input.delay.maxMs,
      },
    }),
    createdBy: input.createdBy,
    requestId: input.requestId,
    createdAt: (input.createdAt ?? new Date()).toISOString(),
  };
  const parsed = deprecationEntrySchema.safeParse({
    id: entryId({ method, pattern: input.pattern, versionHeader }),
    ...candidate,
  });
  if (parsed.success) return { ok: true, entry: parsed.data };
  return { ok: false, error: z.prettifyError(parsed.error) };
}
