import { z } from 'zod';
import type { AlertGroup } from '../incidents/alert.js';
import type { AlertIntake } from '../incidents/intake.js';
import { hmacSignature, sameSecret } from './auth.js';
import { parseJson } from './alertmanager.js';
import type { HookRoute } from './router.js';

/** A signed request older (or further in the future) than this is refused as a possible replay. */
export const REPLAY_WINDOW_MS = 5 * 60_000;

const labels = z.record(z.string().max(200), z.string().max(2_000));
const instant = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

/**
 * The generic alert shape, for Grafana, Datadog or anything that can send JSON (README,
 * "Alerts"): one group per request; `groupKey` is what repeated notifications share.
 */
export const genericAlertPayload = z.strictObject({
  groupKey: z.string().min(1).max(1_000),
  status: z.enum(['firing', 'resolved']),
  alerts: z
    .array(
      z.strictObject({
        status: z.enum(['firing', 'resolved']).optional(),
        labels,
        annotations: labels.default({}),
        startsAt: instant,
        endsAt: instant.optional(),
        generatorURL: z.url().optional(),
      }),
    )
    .min(1)
    .max(500),
});

/**
 * `POST /hooks/alert`: `X-Backout-Timestamp: <unix seconds>` and
 * `X-Backout-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with BACKOUT_WEBHOOK_TOKEN>`.
 */
export function genericAlertRoute(
  intake: Pick<AlertIntake, 'receive'>,
  token: () => string | undefined,
  now = Date.now,
): HookRoute {
  return {
    method: 'POST',
    path: '/hooks/alert',
    auth: 'self',
    async handle(body, req) {
      const secret = token();
      const timestamp = header(req.headers['x-backout-timestamp']);
      const signature = header(req.headers['x-backout-signature']);
      if (!secret || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp))
        return refused('X-Backout-Timestamp (unix seconds) and X-Backout-Signature are required');
      if (!sameSecret(signature, hmacSignature(secret, timestamp, body)))
        return refused('the signature does not match the body');
      if (Math.abs(now() - Number(timestamp) * 1000) > REPLAY_WINDOW_MS)
        return refused('the timestamp is more than 5 minutes away from now (a replay?)');
      const parsed = genericAlertPayload.safeParse(parseJson(body));
      if (!parsed.success) {
        return {
          status: 400,
          body: {
            error: 'not a backout alert payload; nothing was filed',
            problems: parsed.error.issues
              .slice(0, 10)
              .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
          },
        };
      }
      const p = parsed.data;
      const alerts = p.alerts.map((a) => ({
        status: a.status ?? p.status,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: a.startsAt,
        ...(a.endsAt !== undefined ? { endsAt: a.endsAt } : {}),
        ...(a.generatorURL ? { generatorUrl: a.generatorURL } : {}),
      }));
      const group: AlertGroup = {
        source: 'webhook',
        groupKey: p.groupKey,
        status: p.status,
        alerts,
        commonLabels: common(alerts.map((a) => a.labels)),
        commonAnnotations: common(alerts.map((a) => a.annotations)),
      };
      return { status: 200, body: { ...(await intake.receive(group)) } };
    },
  };
}

function refused(why: string) {
  return { status: 401, body: { error: `${why}; nothing was filed` } };
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function common(sets: Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = sets;
  if (!first) return {};
  return Object.fromEntries(Object.entries(first).filter(([k, v]) => rest.every((s) => s[k] === v)));
}
