import { parseRRule, parseWall } from '../policy/rrule.js';
import type { ChangeWindow } from '../policy/windows.js';
import type {
  CanaryConfig,
  FlagsConfig,
  GatesConfig,
  HealthConfig,
  Principals,
  RawConfig,
  RawPolicy,
} from './schema.js';
import type { AlertRule } from './alerts-schema.js';

/** A policy with every field decided (nearest block wins, field by field). */
export interface Policy {
  requesters: Principals;
  approvers: Principals;
  approval: 'required' | 'not-required';
  twoPerson: boolean;
  approvalTtlMs: number;
  /** Approval for `/flag … off` (the safe direction); absent: as `approval`. */
  flagOff?: 'required' | 'not-required';
  /** Distinct approvers a request needs (1: a single Approve). */
  minApprovals: number;
  /** At least one of these must be among the approvers; empty: no such requirement. */
  requiredApprovers: Principals;
}

export interface Freeze {
  name: string;
  from: Date;
  to: Date;
  environments?: string[];
  services?: string[];
}

export interface EnvironmentConfig {
  name: string;
  service: string;
  isDefault: boolean;
  kubernetes: { context: string; namespace: string; deployment: string };
  channel?: string;
  health?: HealthConfig;
  rolloutTimeoutMs: number;
  /** A rollback of a Deployment a GitOps controller syncs by itself: suspend its sync, refuse, or ignore it. */
  gitops: 'suspend' | 'refuse' | 'ignore';
  canary?: CanaryConfig;
  /** The flag provider's name for this environment. */
  flagEnvironment: string;
  /** CronJobs `/flag <service> cronjobs off` suspends. */
  cronJobs: string[];
  /** Argo Rollouts whose indefinite pauses get an approval card (absent: none). */
  rolloutGates?: { rollouts: string[]; every: number };
  /** Gates before forward moves (absent: only change windows apply). */
  gates?: GatesConfig;
  policy: Policy;
}

export interface ServiceConfig {
  name: string;
  github?: { owner: string; repo: string; fullName: string };
  channel?: string;
  flags?: FlagsConfig;
  environments: Map<string, EnvironmentConfig>;
  /** The service-level policy (for actions that are not per environment, such as retracting a release). */
  policy: Policy;
}

export interface Config {
  incidentChannel?: string;
  freezes: Freeze[];
  /** Recurring allow/deny windows for forward moves. */
  windows: ChangeWindow[];
  auditRetentionMs: number;
  /** Reminders before each API brownout and sunset (`apiRetirement.warnBefore`), longest first. */
  apiWarnBeforeMs: number[];
  services: Map<string, ServiceConfig>;
  /** Ordered groups for `/rollback <group>`: members in the order they are rolled back. */
  groups: Map<string, { service: string; environment: string }[]>;
  /** Every channel named in the file: commands run in one of these keep their thread there. */
  knownChannels: Set<string>;
  /** Alert rules (`alerts.rules`), in the order they are tried. */
  alertRules: AlertRule[];
  /** Where silences go and which status page incidents go to (`alerts.alertmanager`, `alerts.statusPage`). */
  alertmanagerUrl?: string;
  statusPageId?: string;
}

/** Built-in policy: anyone may request, anyone else must approve within 15 minutes. */
export const DEFAULT_POLICY: Policy = {
  requesters: { users: [], usergroups: [] },
  approvers: { users: [], usergroups: [] },
  approval: 'required',
  twoPerson: true,
  approvalTtlMs: 15 * 60_000,
  minApprovals: 1,
  requiredApprovers: { users: [], usergroups: [] },
};

/** Applies policy blocks from farthest to nearest; each field present in a nearer block wins. */
export function mergePolicy(base: Policy, ...blocks: (RawPolicy | undefined)[]): Policy {
  let out = base;
  for (const block of blocks) {
    if (!block) continue;
    const flagOff = block.flagOff ?? out.flagOff;
    out = {
      requesters: block.requesters ?? out.requesters,
      approvers: block.approvers ?? out.approvers,
      approval: block.approval ?? out.approval,
      twoPerson: block.twoPerson ?? out.twoPerson,
      approvalTtlMs: block.approvalTtl ?? out.approvalTtlMs,
      minApprovals: block.minApprovals ?? out.minApprovals,
      requiredApprovers: block.requiredApprovers ?? out.requiredApprovers,
      ...(flagOff ? { flagOff } : {}),
    };
  }
  return out;
}

/** Turns the validated file into the model the rest of backout uses. */
export function buildConfig(raw: RawConfig): Config {
  const services = new Map<string, ServiceConfig>();
  const knownChannels = new Set<string>();
  if (raw.slack.incidentChannel) knownChannels.add(raw.slack.incidentChannel);
  for (const [svcName, svc] of Object.entries(raw.services)) {
    const environments = new Map<string, EnvironmentConfig>();
    for (const [envName, env] of Object.entries(svc.environments)) {
      const channel = env.channel ?? svc.channel;
      if (channel) knownChannels.add(channel);
      environments.set(envName, {
        name: envName,
        service: svcName,
        isDefault: env.default,
        kubernetes: env.kubernetes,
        ...(channel ? { channel } : {}),
        ...(env.health ? { health: env.health } : {}),
        rolloutTimeoutMs: env.rollout.timeout,
        gitops: env.gitops,
        ...(env.canary ? { canary: env.canary } : {}),
        flagEnvironment: env.flags?.environment ?? envName,
        cronJobs: env.cronJobs ?? [],
        ...(env.gates ? { gates: env.gates } : {}),
        ...(env.rolloutGates ? { rolloutGates: env.rolloutGates } : {}),
        policy: mergePolicy(DEFAULT_POLICY, raw.policy, svc.policy, env.policy),
      });
    }
    const [owner = '', repo = ''] = svc.github?.repo.split('/') ?? [];
    services.set(svcName, {
      name: svcName,
      ...(svc.github ? { github: { owner, repo, fullName: svc.github.repo } } : {}),
      ...(svc.channel ? { channel: svc.channel } : {}),
      ...(svc.flags ? { flags: svc.flags } : {}),
      environments,
      policy: mergePolicy(DEFAULT_POLICY, raw.policy, svc.policy),
    });
  }
  return {
    ...(raw.slack.incidentChannel ? { incidentChannel: raw.slack.incidentChannel } : {}),
    freezes: raw.freezes.map((f) => ({
      name: f.name,
      from: new Date(f.from),
      to: new Date(f.to),
      ...(f.environments ? { environments: f.environments } : {}),
      ...(f.services ? { services: f.services } : {}),
    })),
    windows: raw.windows.map((w) => ({
      name: w.name,
      kind: w.kind,
      rrule: w.rrule,
      recurrence: {
        rule: parseRRule(w.rrule),
        start: parseWall(w.dtstart),
        zone: w.timeZone,
        durationMs: w.duration,
      },
      automated: w.automated,
      ...(w.environments ? { environments: w.environments } : {}),
      ...(w.services ? { services: w.services } : {}),
    })),
    auditRetentionMs: raw.audit.retention,
    apiWarnBeforeMs: [...new Set(raw.apiRetirement.warnBefore)].sort((a, b) => b - a),
    services,
    groups: new Map(Object.entries(raw.groups)),
    knownChannels,
    alertRules: raw.alerts.rules,
    ...(raw.alerts.alertmanager ? { alertmanagerUrl: raw.alerts.alertmanager.url } : {}),
    ...(raw.alerts.statusPage ? { statusPageId: raw.alerts.statusPage.pageId } : {}),
  };
}

/**
 * The environment a command acts on: the one named, else the service's default, else
 * its only environment. Undefined when the choice is ambiguous (callers explain).
 */
export function pickEnvironment(service: ServiceConfig, named?: string): EnvironmentConfig | undefined {
  if (named) return service.environments.get(named);
  const all = [...service.environments.values()];
  return all.find((e) => e.isDefault) ?? (all.length === 1 ? all[0] : undefined);
}
