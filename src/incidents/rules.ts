import type { AlertRule } from '../config/alerts-schema.js';
import type { Config, EnvironmentConfig, ServiceConfig } from '../config/model.js';
import { pickEnvironment } from '../config/model.js';

export type RuleMatch =
  | { kind: 'matched'; rule: AlertRule; service: ServiceConfig; environment: EnvironmentConfig }
  /** A rule fits the labels but names no service or environment backout knows. */
  | { kind: 'unresolved'; rule: AlertRule; why: string }
  | { kind: 'none' };

function fits(rule: AlertRule, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(rule.match)) if (labels[k] !== v) return false;
  for (const [k, re] of Object.entries(rule.matchRe)) {
    if (!new RegExp(`^(?:${re})$`).test(labels[k] ?? '')) return false;
  }
  return true;
}

/** The first rule whose matchers fit the labels, with the service and environment it acts on. */
export function matchRule(config: Config, labels: Record<string, string>): RuleMatch {
  const rule = config.alertRules.find((r) => fits(r, labels));
  if (!rule) return { kind: 'none' };
  const serviceName = rule.service ?? labels.service;
  if (!serviceName)
    return {
      kind: 'unresolved',
      rule,
      why: 'the alert has no `service` label and the rule names no service',
    };
  const service = config.services.get(serviceName);
  if (!service) return { kind: 'unresolved', rule, why: `no service called ${serviceName} is configured` };
  const envName = rule.environment ?? labels.environment;
  const environment = pickEnvironment(service, envName);
  if (!environment)
    return {
      kind: 'unresolved',
      rule,
      why: envName
        ? `${service.name} has no environment called ${envName}`
        : `the alert has no \`environment\` label and ${service.name} has no default environment`,
    };
  return { kind: 'matched', rule, service, environment };
}
