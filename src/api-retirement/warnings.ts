import type { DeprecationEntry } from './entry.js';

/** One reminder: `leadMs` before a brownout window starts or before the sunset. */
export interface ApiWarning {
  service: string;
  entryId: string;
  target: 'brownout' | 'sunset';
  /** When the brownout starts or the sunset falls (ISO). */
  targetAt: string;
  leadMs: number;
  /** When the reminder is due (epoch ms). */
  dueAt: number;
}

/**
 * The reminders still ahead for an entry: for the sunset and each brownout window, one per lead
 * time that has not passed yet (a reminder whose moment has passed is covered by the announcement).
 */
export function warningsFor(entry: DeprecationEntry, leadsMs: readonly number[], now: number): ApiWarning[] {
  const targets: { target: ApiWarning['target']; at: string }[] = [
    ...entry.brownouts.map((window) => ({ target: 'brownout' as const, at: window.start })),
    { target: 'sunset', at: entry.sunset },
  ];
  const warnings: ApiWarning[] = [];
  for (const { target, at } of targets) {
    for (const leadMs of leadsMs) {
      const dueAt = Date.parse(at) - leadMs;
      if (dueAt <= now) continue;
      warnings.push({ service: entry.service, entryId: entry.id, target, targetAt: at, leadMs, dueAt });
    }
  }
  return warnings.sort((a, b) => a.dueAt - b.dueAt);
}

/** Whether a reminder still applies to the entry as it is now (it may have been changed or removed). */
export function warningStillApplies(warning: ApiWarning, entry: DeprecationEntry | undefined): boolean {
  if (!entry) return false;
  if (warning.target === 'sunset') return entry.sunset === warning.targetAt;
  return entry.brownouts.some((window) => window.start === warning.targetAt);
}

/** A stable id per reminder, so scheduling twice (a retried job step) adds it once. */
export function warningId(warning: ApiWarning): string {
  return ['api-warning', warning.service, warning.entryId, warning.target, warning.targetAt, warning.leadMs]
    .join('|')
    .replace(/:/g, '_');
}
