import { z } from 'zod';

/**
 * `alerts:` in backout.yml: which alerts propose which mitigation. Rules are tried in order;
 * the first whose `match` fits the alert's labels wins. An alert no rule matches is answered
 * and logged, and nothing is filed.
 */
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a Prometheus label name');

export const alertRuleSchema = z.strictObject({
  /** Named in logs, the audit and the card. */
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a lower-case name of letters, digits and dashes'),
  /** Label values the alert must carry exactly (alertname, severity, service, environment, or any other). */
  match: z.record(labelName, z.string()).default({}),
  /** Label values the alert must carry as a whole-string regular expression (Alertmanager's `=~`). */
  matchRe: z
    .record(
      labelName,
      z.string().refine((re) => {
        try {
          new RegExp(`^(?:${re})$`);
          return true;
        } catch {
          return false;
        }
      }, 'expected a regular expression'),
    )
    .default({}),
  /**
   * What to propose: `rollback` to the revision before the current one (kubectl's `rollout undo`),
   * `flag-off`: turn the service's kill switch off (`flag`, default its first `flags.killSwitches`),
   * or `canary-abort`: abort the environment's running canary (its job returns all traffic to
   * stable), or with no canary job but traffic still on the canary, set its weight to 0. Nothing
   * is proposed for a canary still waiting for approval, or when all traffic is on stable.
   */
  propose: z.enum(['rollback', 'flag-off', 'canary-abort']).default('rollback'),
  flag: z.string().min(1).optional(),
  /** The service; default: the alert's `service` label. */
  service: z.string().optional(),
  /** The environment; default: the alert's `environment` label, else the service's default. */
  environment: z.string().optional(),
  /** Annotation (or label) that carries the alert's value for the card; default `value`. */
  valueFrom: z.string().default('value'),
  /**
   * Silence the service's alerts in Alertmanager (`alerts.alertmanager.url`) while the mitigation
   * rolls out and through its stability window; expired when the job ends. Without matchers:
   * `service` and `environment` equal to the target's.
   */
  silence: z
    .strictObject({
      matchers: z.record(labelName, z.string()).default({}),
      matchersRe: z.record(labelName, z.string()).default({}),
    })
    .optional(),
  /**
   * Post to the status page (`alerts.statusPage.pageId`, STATUSPAGE_API_KEY) when the job starts,
   * update it as it ends, resolve it when verified healthy. `{service}`, `{environment}`,
   * `{alertname}` and `{value}` in name and body are filled in.
   */
  statusPage: z
    .strictObject({
      /** true: when the job starts; false: a "Post to status page" button in the card's thread. */
      auto: z.boolean().default(true),
      components: z.record(
        z.string().min(1),
        z.enum(['degraded_performance', 'partial_outage', 'major_outage']),
      ),
      name: z.string().min(1).max(200).default('{service} is degraded'),
      body: z
        .string()
        .min(1)
        .max(2_000)
        .default(
          'We are rolling {service} back after elevated errors ({alertname}). Next update when it is verified.',
        ),
    })
    .optional(),
});

export const alertsSchema = z
  .strictObject({
    rules: z.array(alertRuleSchema).max(200).default([]),
    /** The Alertmanager silences are created in (API v2), e.g. http://alertmanager.monitoring:9093. */
    alertmanager: z.strictObject({ url: z.url({ error: 'expected an http(s) URL' }) }).optional(),
    /** The Atlassian Statuspage page incidents are posted to. */
    statusPage: z.strictObject({ pageId: z.string().min(1) }).optional(),
  })
  .default({ rules: [] });

export type AlertRule = z.infer<typeof alertRuleSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
