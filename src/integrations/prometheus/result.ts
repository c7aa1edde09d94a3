import { z } from 'zod';

/**
 * What a Prometheus instant query answered, judged against a check's bounds. Every series
 * counts: a check passes only when each sample is a number within the bounds.
 *
 * - scalar: its one value.
 * - vector: every sample.
 * - matrix (a range selector such as `up[5m]`): the last value of each series.
 * - an empty vector or matrix: no data, which fails (absence of evidence is not health; a
 *   query where "nothing matched" should mean 0 ends in `or vector(0)`).
 * - NaN (0/0, typically no traffic): fails whatever the bounds.
 * - `+Inf` / `-Inf`: compared as numbers: `+Inf` fails any `max` and passes any `min`,
 *   `-Inf` the other way round.
 * - a string result, or a native-histogram sample: not a number, fails.
 */

const sampleValue = z.tuple([z.number(), z.string()]);
const labels = z.record(z.string(), z.string());

export const queryResponseSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({ resultType: z.literal('scalar'), result: sampleValue }),
      z.object({ resultType: z.literal('string'), result: sampleValue }),
      z.object({
        resultType: z.literal('vector'),
        result: z.array(z.object({ metric: labels.default({}), value: sampleValue.optional() })),
      }),
      z.object({
        resultType: z.literal('matrix'),
        result: z.array(z.object({ metric: labels.default({}), values: z.array(sampleValue).default([]) })),
      }),
    ]),
  }),
  z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() }),
]);
export type QueryResponse = z.infer<typeof queryResponseSchema>;
type Success = Extract<QueryResponse, { status: 'success' }>;

export interface Bounds {
  max?: number | undefined;
  min?: number | undefined;
}

export interface SeriesValue {
  /** `http_errors{pod="a"}`, or `scalar` for a scalar result. */
  series: string;
  value: number;
  ok: boolean;
}

export interface Judgement {
  ok: boolean;
  /** Series (or the scalar) read; 0 when the query returned no data. */
  total: number;
  /** Series within the bounds. */
  passed: number;
  failing: SeriesValue[];
  /** The worst value read (for the number on the card), when there was one. */
  worst?: number;
  /** Why nothing could be judged (no data, a string result), when that is the case. */
  problem?: string;
}

/** Prometheus writes sample values as strings: "0.5", "NaN", "+Inf", "-Inf". */
export function parseSample(text: string): number {
  const t = text.trim();
  if (t === '+Inf' || t === 'Inf') return Infinity;
  if (t === '-Inf') return -Infinity;
  if (t === 'NaN' || t === '') return Number.NaN;
  return Number(t);
}

export function within(value: number, b: Bounds): boolean {
  if (Number.isNaN(value)) return false;
  return (b.max === undefined || value <= b.max) && (b.min === undefined || value >= b.min);
}

/** `name{a="1",b="2"}` as PromQL writes a series; `{}` for a series with no labels. */
export function seriesName(metric: Record<string, string>): string {
  const { __name__: name = '', ...rest } = metric;
  const inner = Object.keys(rest)
    .sort()
    .map((k) => `${k}=${JSON.stringify(rest[k])}`)
    .join(', ');
  return inner || !name ? `${name}{${inner}}` : name;
}

export function judge(data: Success['data'], bounds: Bounds): Judgement {
  let values: { series: string; raw: string | undefined }[];
  switch (data.resultType) {
    case 'scalar':
      values = [{ series: 'scalar', raw: data.result[1] }];
      break;
    case 'string':
      return {
        ok: false,
        total: 0,
        passed: 0,
        failing: [],
        problem: 'the query returned a string, not a number',
      };
    case 'vector':
      values = data.result.map((s) => ({ series: seriesName(s.metric), raw: s.value?.[1] }));
      break;
    case 'matrix':
      values = data.result.map((s) => ({ series: seriesName(s.metric), raw: s.values.at(-1)?.[1] }));
      break;
  }
  if (values.length === 0) {
    return {
      ok: false,
      total: 0,
      passed: 0,
      failing: [],
      problem:
        'no data (the query returned no series; is the service receiving traffic? end the query with `or vector(0)` if no series means 0)',
    };
  }
  const read: SeriesValue[] = values.map(({ series, raw }) => {
    const value = raw === undefined ? Number.NaN : parseSample(raw);
    return { series, value, ok: within(value, bounds) };
  });
  const failing = read.filter((r) => !r.ok);
  const worst = worstOf(
    read.map((r) => r.value),
    bounds,
  );
  return {
    ok: failing.length === 0,
    total: read.length,
    passed: read.length - failing.length,
    failing,
    ...(worst !== undefined ? { worst } : {}),
  };
}

/** NaN first, then the value furthest past (or nearest to) the bound that matters. */
function worstOf(values: number[], b: Bounds): number | undefined {
  if (values.length === 0) return undefined;
  if (values.some(Number.isNaN)) return Number.NaN;
  if (b.max === undefined && b.min !== undefined) return Math.min(...values);
  return Math.max(...values);
}
