/** Reads backout's own step-duration histogram from its /metrics endpoint. */
export type StepTotals = Map<string, { sum: number; count: number }>;

export async function stepTotals(metricsUrl: string, kind = 'rollback'): Promise<StepTotals> {
  const text = await (await fetch(metricsUrl)).text();
  const totals: StepTotals = new Map();
  const line = /^backout_step_duration_seconds_(sum|count)\{([^}]*)\} ([0-9.e+-]+)$/gm;
  for (const m of text.matchAll(line)) {
    const labels = new Map([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const step = labels.get('step');
    if (labels.get('type') !== kind || !step) continue;
    const entry = totals.get(step) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    totals.set(step, entry);
  }
  return totals;
}

/** Mean duration (ms) of each step between two readings, in first-seen order. */
export function stepMeans(
  before: StepTotals,
  after: StepTotals,
): { step: string; meanMs: number; n: number }[] {
  const out: { step: string; meanMs: number; n: number }[] = [];
  for (const [step, a] of after) {
    const b = before.get(step) ?? { sum: 0, count: 0 };
    const n = a.count - b.count;
    if (n > 0) out.push({ step, meanMs: ((a.sum - b.sum) / n) * 1000, n });
  }
  return out;
}
