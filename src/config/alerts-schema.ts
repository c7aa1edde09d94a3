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
  /** What to propose: a rollback to the revision before the current one (kubectl's `rollout undo`). */
  propose: z.enum(['rollback']).default('rollback'),
  /** The service; default: the alert's `service` label. */
  service: z.string().optional(),
  /** The environment; default: the alert's `environment` label, else the service's default. */
  environment: z.string().optional(),
  /** Annotation (or label) that carries the alert's value for the card; default `value`. */
  valueFrom: z.string().default('value'),
});

export const alertsSchema = z
  .strictObject({
    rules: z.array(alertRuleSchema).max(200).default([]),
  })
  .default({ rules: [] });

export type AlertRule = z.infer<typeof alertRuleSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
