import { z } from 'zod';
import type { AlertGroup } from '../incidents/alert.js';
import type { AlertIntake } from '../incidents/intake.js';
import type { HookRoute } from './router.js';

const labels = z.record(z.string(), z.string());
/** Alertmanager writes `0001-01-01T00:00:00Z` for "not ended": read it as no time at all. */
const instant = z.string().transform((s) => {
  const ms = Date.parse(s);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
});

/** Alertmanager's webhook payload, version 4 (prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export const alertmanagerPayload = z.object({
  version: z.literal('4'),
  groupKey: z.string().min(1).max(10_000),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labels,
  commonLabels: labels,
  commonAnnotations: labels,
  externalURL: z.string(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels,
        annotations: labels,
        startsAt: instant,
        endsAt: instant.optional(),
        generatorURL: z.string().optional(),
        fingerprint: z.string().optional(),
      }),
    )
    .min(1),
});

export function toAlertGroup(p: z.infer<typeof alertmanagerPayload>): AlertGroup {
  return {
    source: 'alertmanager',
    groupKey: p.groupKey,
    status: p.status,
    commonLabels: p.commonLabels,
    commonAnnotations: p.commonAnnotations,
    alerts: p.alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt ?? 0,
      ...(a.endsAt !== undefined && a.status === 'resolved' ? { endsAt: a.endsAt } : {}),
      ...(a.generatorURL ? { generatorUrl: a.generatorURL } : {}),
    })),
  };
}

/** `POST /hooks/alertmanager`: Alertmanager's webhook receiver, authenticated with the bearer token. */
export function alertmanagerRoute(intake: Pick<AlertIntake, 'receive'>): HookRoute {
  return {
    method: 'POST',
    path: '/hooks/alertmanager',
    auth: 'bearer',
    async handle(body) {
      const parsed = alertmanagerPayload.safeParse(parseJson(body));
      if (!parsed.success) {
        return {
          status: 400,
          body: {
            error: 'not an Alertmanager webhook (version 4) payload; nothing was filed',
            problems: parsed.error.issues
              .slice(0, 10)
              .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
          },
        };
      }
      return { status: 200, body: { ...(await intake.receive(toAlertGroup(parsed.data))) } };
    },
  };
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
