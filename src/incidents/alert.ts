/** One alert, the same whichever source sent it (Alertmanager, or the signed generic webhook). */
export interface Alert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Epoch ms. */
  startsAt: number;
  /** Epoch ms; set when resolved. */
  endsAt?: number;
  generatorUrl?: string;
}

/** A notification about one group of alerts; repeated notifications share `groupKey`. */
export interface AlertGroup {
  source: 'alertmanager' | 'webhook';
  groupKey: string;
  status: 'firing' | 'resolved';
  alerts: Alert[];
  /** Labels every alert of the group shares. */
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
}

/** The labels a rule is matched against: the group's common labels over its first firing alert's. */
export function groupLabels(group: AlertGroup): Record<string, string> {
  const first = group.alerts.find((a) => a.status === 'firing') ?? group.alerts[0];
  return { ...(first?.labels ?? {}), ...group.commonLabels };
}

/** When the group began firing: its earliest alert's start. */
export function firingSince(group: AlertGroup): number | undefined {
  const starts = group.alerts.map((a) => a.startsAt).filter((t) => Number.isFinite(t) && t > 0);
  return starts.length ? Math.min(...starts) : undefined;
}

/** The alert's value for people: the rule's annotation, else a label of that name. */
export function valueOf(group: AlertGroup, from: string): string | undefined {
  const first = group.alerts.find((a) => a.status === 'firing') ?? group.alerts[0];
  return first?.annotations[from] ?? group.commonAnnotations[from] ?? first?.labels[from];
}
