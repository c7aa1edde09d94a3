import { z } from 'zod';
import { durationSchema } from './duration.js';
import { checkTimeZone, parseRRule, parseWall } from '../policy/rrule.js';
import { alertsSchema } from './alerts-schema.js';

/**
 * The YAML file's shape (SPEC §5). Every key is documented here, where it is declared.
 * Policy blocks may appear at the top, under a service, or under an environment; the
 * nearest one wins field by field (see `resolve.ts`), so here every policy field is optional.
 */

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user id such as U0123ABCD');
const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'expected a Slack user group id such as S0123ABCD');
const slackChannelId = z
  .string()
  .regex(/^[CGD][A-Z0-9]{2,}$/, 'expected a Slack channel id such as C0123ABCD');
const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a lower-case name of letters, digits and dashes');
const isoInstant = z.iso.datetime({
  offset: true,
  error: 'expected an ISO 8601 date-time such as 2026-12-20T00:00:00Z',
});

/** Who: Slack user ids and user group ids. Empty lists mean "anyone in the workspace" for requesters. */
export const principalsSchema = z.strictObject({
  users: z.array(slackUserId).default([]),
  usergroups: z.array(slackGroupId).default([]),
});

export const policySchema = z.strictObject({
  /** Who may file requests. Empty: anyone in the workspace. */
  requesters: principalsSchema.optional(),
  /** Who may approve. Empty: anyone other than the requester (when twoPerson is on). */
  approvers: principalsSchema.optional(),
  /** Whether a request waits for an Approve click before its job runs. */
  approval: z.enum(['required', 'not-required']).optional(),
  /** The approver must be someone other than the requester. */
  twoPerson: z.boolean().optional(),
  /** How long a pending request can be approved. */
  approvalTtl: durationSchema.optional(),
  /**
   * Whether `/flag … off` (turning a kill switch off, suspending CronJobs: the safe direction)
   * waits for an Approve click. Absent: as `approval`. `not-required` makes the first
   * mitigation one action; turning things back on always follows `approval`.
   */
  flagOff: z.enum(['required', 'not-required']).optional(),
  /** Distinct approvers a request needs (Kargo's N-of-M); the requester never counts. Default 1. */
  minApprovals: z.number().int().min(1).max(10).optional(),
  /** At least one of these must be among the approvers (they may approve even when not in `approvers`). */
  requiredApprovers: principalsSchema.optional(),
});

export const freezeSchema = z.strictObject({
  name: z.string().min(1),
  from: isoInstant,
  to: isoInstant,
  /** Environments the freeze covers; absent: all. */
  environments: z.array(name).optional(),
  /** Services the freeze covers; absent: all. */
  services: z.array(name).optional(),
});

/** A change window: RFC 5545 RRULE (FREQ=DAILY|WEEKLY, INTERVAL, BYDAY, BYHOUR, BYMINUTE) plus a duration. */
export const windowSchema = z
  .strictObject({
    name: z.string().min(1),
    /** allow: forward moves only inside (when any allow window applies); deny: never inside. Deny wins. */
    kind: z.enum(['allow', 'deny']),
    /** e.g. `FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0` */
    rrule: z.string().min(1),
    /** The first occurrence as wall time in timeZone, e.g. `2026-01-05T09:00` (default: 2000-01-03T00:00, a Monday). */
    dtstart: z.string().default('2000-01-03T00:00'),
    /** How long each occurrence lasts. */
    duration: durationSchema,
    /** IANA time zone of dtstart and BYHOUR, e.g. Europe/Berlin. */
    timeZone: z.string().default('UTC'),
    /** Environments and services it covers; absent: all. */
    environments: z.array(name).optional(),
    services: z.array(name).optional(),
    /** Also hold back automated forward moves (a canary's next weight step), not only people's. */
    automated: z.boolean().default(false),
  })
  .superRefine((w, ctx) => {
    try {
      parseRRule(w.rrule);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['rrule'], message: (err as Error).message });
    }
    try {
      parseWall(w.dtstart);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['dtstart'], message: (err as Error).message });
    }
    try {
      checkTimeZone(w.timeZone);
    } catch {
      ctx.addIssue({
        code: 'custom',
        path: ['timeZone'],
        message: `unknown time zone "${w.timeZone}": expected an IANA name such as Europe/Berlin`,
      });
    }
  });

const probeSchema = z.strictObject({
  url: z.url({ error: 'expected an http(s) URL' }),
  expectStatus: z.number().int().min(100).max(599).default(200),
  timeout: durationSchema.default(5000),
});

const promCheckSchema = z.strictObject({
  name: z.string().min(1),
  query: z.string().min(1),
  /** The check fails when the value is above max or below min. */
  max: z.number().optional(),
  min: z.number().optional(),
});

const envName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'expected the name of an environment variable, such as PROMETHEUS_TOKEN',
  );
const secretFile = z.string().min(1, 'expected the path of a file holding the secret');

/** A header value: plain text (not secret, e.g. a tenant id), or read from a variable or file. */
const headerValue = z.union([
  z.string().min(1),
  z.strictObject({ env: envName }),
  z.strictObject({ file: secretFile }),
]);

export const prometheusSchema = z
  .strictObject({
    /** The base URL, without credentials (they go in tokenEnv/tokenFile/basicAuth). */
    url: z
      .url({ error: 'expected the Prometheus base URL, e.g. http://prometheus.monitoring:9090' })
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'expected an http:// or https:// URL')
      .refine((u) => {
        const parsed = new URL(u);
        return parsed.username === '' && parsed.password === '';
      }, 'must not carry credentials (user:password@): secrets never go in the config file; use basicAuth with passwordEnv or passwordFile, or tokenEnv/tokenFile for a bearer token'),
    checks: z.array(promCheckSchema).default([]),
    /** Bearer token from this variable (default: PROMETHEUS_TOKEN, when it is set). */
    tokenEnv: envName.optional(),
    /** Bearer token from this file, read at each query (rotating service-account tokens). */
    tokenFile: secretFile.optional(),
    /** Basic auth: the password from a variable or a file, never from here. */
    basicAuth: z
      .strictObject({
        username: z.string().min(1),
        passwordEnv: envName.optional(),
        passwordFile: secretFile.optional(),
      })
      .refine(
        (b) => (b.passwordEnv === undefined) !== (b.passwordFile === undefined),
        'give exactly one of passwordEnv or passwordFile',
      )
      .optional(),
    /** Extra headers on every query, e.g. `X-Scope-OrgID: tenant-a` for Mimir, Cortex or Thanos. */
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name'), headerValue)
      .refine(
        (h) => !Object.keys(h).some((k) => k.toLowerCase() === 'authorization'),
        'set Authorization through tokenEnv, tokenFile or basicAuth, not headers',
      )
      .default({}),
    /** PEM bundle of the CAs that sign the Prometheus server's certificate (https URLs). */
    caFile: secretFile.optional(),
    /** Deadline of one query, connection included. */
    timeout: durationSchema.default(10_000),
  })
  .superRefine((p, ctx) => {
    const bearer = p.tokenEnv !== undefined || p.tokenFile !== undefined;
    if (p.tokenEnv !== undefined && p.tokenFile !== undefined)
      ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'give tokenEnv or tokenFile, not both' });
    if (bearer && p.basicAuth)
      ctx.addIssue({
        code: 'custom',
        path: ['basicAuth'],
        message: 'give a bearer token (tokenEnv/tokenFile) or basicAuth, not both',
      });
    if (p.caFile && new URL(p.url).protocol !== 'https:')
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'a CA bundle needs an https:// url' });
  });

export const healthSchema = z.strictObject({
  probes: z.array(probeSchema).default([]),
  prometheus: prometheusSchema.optional(),
  /** How long the checks must hold after a rollout before it counts as healthy. */
  stabilityWindow: durationSchema.default(120_000),
  /** Time between two rounds of checks inside the window. */
  interval: durationSchema.default(10_000),
});

export const canarySchema = z
  .strictObject({
    provider: z.enum(['argo-rollouts', 'nginx-ingress', 'gateway-api']),
    /** nginx-ingress: the canary Ingress carrying the canary annotations. */
    ingress: z.string().min(1).optional(),
    /** argo-rollouts: the Rollout's name. */
    rollout: z.string().min(1).optional(),
    /** gateway-api: the HTTPRoute whose backendRefs weights split traffic. */
    httpRoute: z.string().min(1).optional(),
    /** gateway-api: backend names (default: the deployment and `<deployment>-canary`). */
    stableBackend: z.string().min(1).optional(),
    canaryBackend: z.string().min(1).optional(),
    /** nginx-ingress and gateway-api: the canary Deployment (default `<deployment>-canary`). */
    canaryDeployment: z.string().min(1).optional(),
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .default([5, 20, 50, 100])
      .refine((s) => s.every((w, i) => i === 0 || w > s[i - 1]!), 'steps must increase')
      .refine((s) => s[s.length - 1] === 100, 'the last step must be 100'),
    dwell: durationSchema.default(600_000),
    /** Time between two analysis rounds (the environment's health checks) during a dwell (Flagger's analysis.interval). */
    interval: durationSchema.default(60_000),
    /** Failed analysis rounds that abort the canary (Flagger's threshold: abort when reached). */
    maxFailedChecks: z.number().int().min(1).default(2),
  })
  .superRefine((c, ctx) => {
    const needed = {
      'argo-rollouts': 'rollout',
      'nginx-ingress': 'ingress',
      'gateway-api': 'httpRoute',
    } as const;
    const key = needed[c.provider];
    if (!c[key])
      ctx.addIssue({ code: 'custom', path: [key], message: `required for provider ${c.provider}` });
  });

const flagKey = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    'expected a flag key of letters, digits, dots, dashes and underscores',
  );

/** A service's feature-flag provider and the kill switches `/flag` may turn off (SPEC §1). */
export const flagsSchema = z
  .strictObject({
    provider: z.enum(['unleash', 'launchdarkly', 'flagd']),
    /** Unleash project id or LaunchDarkly project key. */
    project: z.string().min(1).default('default'),
    /** flagd: the OpenFeature Operator `FeatureFlag` resource holding the flags (in each environment's namespace). */
    featureFlag: z.string().min(1).optional(),
    /** flagd: the variants that mean off and on (`defaultVariant` is flipped between them). */
    offVariant: z.string().min(1).default('off'),
    onVariant: z.string().min(1).default('on'),
    /** The flags `/flag` may switch; `/rollback` cards offer turning the first one off instead. */
    killSwitches: z.array(flagKey).min(1),
  })
  .superRefine((f, ctx) => {
    if (f.provider === 'flagd' && !f.featureFlag)
      ctx.addIssue({ code: 'custom', path: ['featureFlag'], message: 'required for provider flagd' });
    for (const reserved of ['status', 'cronjobs', 'help'])
      if (f.killSwitches.includes(reserved))
        ctx.addIssue({
          code: 'custom',
          path: ['killSwitches'],
          message: `"${reserved}" is a /flag keyword and cannot be a flag's name here`,
        });
  });

/** Gates before forward moves (canary start, promotion to 100 %) in one environment. */
export const gatesSchema = z.strictObject({
  /** CI of the commit behind the image (its tag names a commit, branch or git tag in the service's repo). */
  ci: z
    .strictObject({
      /** `all` checks reported, `required` (the branch protection's required checks), or a list of names. */
      checks: z.union([z.enum(['all', 'required']), z.array(z.string().min(1)).min(1)]).default('required'),
      /** Checks that never count (flaky or informational). */
      ignore: z.array(z.string().min(1)).default([]),
      /** The protected branch whose required checks `required` reads (default: main). */
      branch: z.string().min(1).default('main'),
      /** Put before the image tag to make the git ref, e.g. `v` when image 1.4.0 is git tag v1.4.0. */
      tagPrefix: z.string().default(''),
    })
    .optional(),
  /** Downstream services that must answer before a forward move (HTTP GET, each with its deadline). */
  probes: z.array(probeSchema).default([]),
  /** `required`: forward moves need `--ticket <url>` naming the change ticket. */
  ticket: z.enum(['required', 'optional']).default('optional'),
  /** Who may override failing gates with `--break-glass "<reason>"` (empty: nobody). */
  breakGlass: principalsSchema.default({ users: [], usergroups: [] }),
});

export const environmentSchema = z.strictObject({
  /** The environment used when a command names none. */
  default: z.boolean().default(false),
  kubernetes: z.strictObject({
    /** A context name in KUBECONFIG. */
    context: z.string().min(1),
    namespace: z.string().min(1),
    deployment: z.string().min(1),
  }),
  /** The incident channel for this service and environment. */
  channel: slackChannelId.optional(),
  health: healthSchema.optional(),
  rollout: z.strictObject({ timeout: durationSchema.default(600_000) }).default({ timeout: 600_000 }),
  /**
   * What a rollback does when a GitOps controller (Argo CD, Flux) syncs the Deployment by itself:
   * `refuse` (default) says why and changes nothing, `suspend` pauses its sync as an approved step
   * first, `ignore` rolls back anyway (the controller may put its template back).
   */
  gitops: z.enum(['suspend', 'refuse', 'ignore']).default('refuse'),
  canary: canarySchema.optional(),
  /** The flag provider's name for this environment (default: this environment's name). */
  flags: z.strictObject({ environment: z.string().min(1) }).optional(),
  /** CronJobs (in this environment's namespace) that `/flag <service> cronjobs off` suspends. */
  cronJobs: z.array(z.string().min(1)).optional(),
  /**
   * Argo Rollouts run by their own pipelines: each Rollout named here that pauses at an indefinite
   * `pause: {}` step gets an approval card; Approve promotes it, Abort aborts it (plugin patches).
   */
  rolloutGates: z
    .strictObject({
      rollouts: z.array(z.string().min(1)).min(1),
      /** How often the Rollouts are read. */
      every: durationSchema.default(15_000),
    })
    .optional(),
  /** Gates before forward moves: CI, downstream probes, a change ticket, break-glass. */
  gates: gatesSchema.optional(),
  policy: policySchema.optional(),
});

export const serviceSchema = z.strictObject({
  github: z.strictObject({ repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name') }).optional(),
  /** The service's incident channel, used by environments that name none. */
  channel: slackChannelId.optional(),
  flags: flagsSchema.optional(),
  environments: z.record(name, environmentSchema).refine((envs) => Object.keys(envs).length > 0, {
    message: 'a service needs at least one environment',
  }),
  policy: policySchema.optional(),
});

export const configSchema = z
  .strictObject({
    slack: z
      .strictObject({
        /** Where threads go when a command is run outside any service channel. */
        incidentChannel: slackChannelId.optional(),
      })
      .default({}),
    policy: policySchema.optional(),
    freezes: z.array(freezeSchema).default([]),
    /** Recurring allow/deny windows for forward moves (canary start, promotion to 100 %, roll forward). */
    windows: z.array(windowSchema).default([]),
    audit: z
      .strictObject({
        /** Records older than this are archived (with a checkpoint) by `backout audit archive`. */
        retention: durationSchema.default(400 * 86_400_000),
      })
      .default({ retention: 400 * 86_400_000 }),
    apiRetirement: z
      .strictObject({
        /** How long before each brownout and the sunset the service's channel is reminded, with the current callers. */
        warnBefore: z
          .array(durationSchema)
          .max(10)
          .default([30 * 86_400_000, 7 * 86_400_000, 86_400_000]),
      })
      .default({ warnBefore: [30 * 86_400_000, 7 * 86_400_000, 86_400_000] }),
    services: z.record(name, serviceSchema).refine((s) => Object.keys(s).length > 0, {
      message: 'configure at least one service',
    }),
    /**
     * Ordered multi-service rollbacks: `/rollback <group>` rolls every member back, one after
     * another in this order, each verified before the next.
     */
    groups: z
      .record(
        name,
        z
          .array(z.strictObject({ service: name, environment: name }))
          .min(2, 'a group needs at least two members'),
      )
      .default({}),
    /** Alerts that propose a mitigation (see alerts-schema.ts). */
    alerts: alertsSchema,
  })
  .superRefine((cfg, ctx) => {
    cfg.alerts.rules.forEach((rule, i) => {
      if (rule.service && !cfg.services[rule.service])
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'rules', i, 'service'],
          message: `no service called ${rule.service}`,
        });
      if (rule.propose === 'flag-off' && !rule.flag && !(rule.service && cfg.services[rule.service]?.flags))
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'rules', i, 'flag'],
          message: 'flag-off needs the flag, or a service with flags.killSwitches',
        });
      const named = rule.service ? cfg.services[rule.service] : undefined;
      if (
        rule.propose === 'canary-abort' &&
        named &&
        !Object.values(named.environments).some((e) => e.canary)
      )
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'rules', i, 'propose'],
          message: `canary-abort needs a service with a canary: block; ${rule.service} has none`,
        });
      if (rule.silence && !cfg.alerts.alertmanager)
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'rules', i, 'silence'],
          message: 'silences need alerts.alertmanager.url',
        });
      if (rule.statusPage && !cfg.alerts.statusPage)
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'rules', i, 'statusPage'],
          message: 'status page posts need alerts.statusPage.pageId',
        });
    });
    for (const [svcName, svc] of Object.entries(cfg.services)) {
      const defaults = Object.entries(svc.environments).filter(([, e]) => e.default);
      if (defaults.length > 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', svcName, 'environments'],
          message: `only one environment may be the default (${defaults.map(([n]) => n).join(', ')} all say default: true)`,
        });
      }
    }
    for (const [groupName, members] of Object.entries(cfg.groups)) {
      if (cfg.services[groupName])
        ctx.addIssue({
          code: 'custom',
          path: ['groups', groupName],
          message: `a group cannot share its name with a service (/rollback ${groupName} would be ambiguous)`,
        });
      const seen = new Set<string>();
      members.forEach((m, i) => {
        const svc = cfg.services[m.service];
        if (!svc)
          ctx.addIssue({
            code: 'custom',
            path: ['groups', groupName, i, 'service'],
            message: `no service called ${m.service}`,
          });
        else if (!svc.environments[m.environment])
          ctx.addIssue({
            code: 'custom',
            path: ['groups', groupName, i, 'environment'],
            message: `${m.service} has no environment called ${m.environment}`,
          });
        const key = `${m.service}/${m.environment}`;
        if (seen.has(key))
          ctx.addIssue({ code: 'custom', path: ['groups', groupName, i], message: `${key} is listed twice` });
        seen.add(key);
      });
    }
    cfg.freezes.forEach((f, i) => {
      if (Date.parse(f.to) <= Date.parse(f.from)) {
        ctx.addIssue({ code: 'custom', path: ['freezes', i, 'to'], message: 'must be after from' });
      }
    });
  });

export type RawConfig = z.infer<typeof configSchema>;
export type RawPolicy = z.infer<typeof policySchema>;
export type Principals = z.infer<typeof principalsSchema>;
export type HealthConfig = z.infer<typeof healthSchema>;
export type PrometheusConfig = z.infer<typeof prometheusSchema>;
export type CanaryConfig = z.infer<typeof canarySchema>;
export type FlagsConfig = z.infer<typeof flagsSchema>;
export type GatesConfig = z.infer<typeof gatesSchema>;
