import type { EnvironmentConfig, ServiceConfig } from '../src/config/model.js';
import { plural } from '../src/text/plural.js';
import { evaluateGates, type GateDeps } from '../src/gates/gates.js';
import { gateLine, type GateResult } from '../src/gates/types.js';
import { formatDuration } from '../src/config/duration.js';
import { NotFoundError, PolicyError, UsageError } from '../src/errors.js';
import type {
  DeploymentHistory,
  Deployments,
  KubeTarget,
  RevisionEntry,
} from '../src/integrations/kubernetes/types.js';
import { planUndo, templateFingerprint } from '../src/integrations/kubernetes/undo.js';
import type { SyncOwners } from '../src/integrations/kubernetes/owners.js';
import { planOwnership } from './rollback-owners.js';
import { checkRequester, describePrincipals, isEmpty } from '../src/policy/policy.js';
import type { ChildOf, RequestFlow } from '../src/requests/flow.js';
import type { BackoutRequest } from '../src/requests/types.js';
import { ephemeral, esc, type HelpSection } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { Config } from '../src/config/model.js';
import { parseArgs } from '../src/text/args.js';
import { tokenize } from '../src/text/tokenize.js';
import { QUICK } from '../src/queue/lanes.js';
import type { SlashCommand } from './command.js';
import type { RollbackPlan } from '../jobs/rollback.js';
import { migrationLines, migrationsCrossed } from './rollback-migrations.js';
import {
  checkReason,
  isHelp,
  noExtra,
  placeFor,
  resolveEnvironment,
  resolveService,
  serviceToken,
  wordValue,
  type Invocation,
  kubernetesLane,
} from './shared.js';

export const USAGE =
  '/rollback <service> [--env <env>] [--to <revision>] [--reason "<text>"] [--across-migration]  ·  /rollback <service> [--env <env>] history';

export const help: HelpSection = {
  command: '/rollback',
  usage: [
    '/rollback <service> [--env <env>] [--to <revision>] [--reason "<text>"]',
    '/rollback <service> [--env <env>] history',
    '/rollback   (no arguments: pick service, environment and revision in a dialog)',
  ],
  examples: [
    '/rollback checkout-api --reason "5xx spike after 1.4.2"',
    '/rollback checkout-api --env staging --to 4',
    '/rollback checkout-api history',
  ],
  notes: [
    'Rolls the Deployment back exactly like `kubectl rollout undo`: to the previous revision, or to `--to`. Then waits for the rollout and verifies health.',
    'A rollback to before a revision marked `backout.dev/irreversible-migration` is refused; with `--across-migration` it needs a break-glass approval.',
  ],
};

export type RollbackCommand =
  | { kind: 'help' }
  | { kind: 'modal' }
  | { kind: 'history'; service: string; env?: string }
  | {
      kind: 'rollback';
      service: string;
      env?: string;
      to?: number;
      reason?: string;
      /** Roll back across an irreversible migration anyway (break-glass approval). */
      acrossMigration?: boolean;
    };

/** Pure: command text → typed command, or a UsageError that says what was wrong. */
export function parse(text: string): RollbackCommand {
  const tokens = tokenize(text);
  if (tokens.length === 0) return { kind: 'modal' };
  if (isHelp(tokens)) return { kind: 'help' };
  const { positionals, flags } = parseArgs(
    tokens,
    { env: 'string', to: 'string', reason: 'string', 'across-migration': 'boolean' },
    USAGE,
  );
  const service = serviceToken(positionals[0], USAGE);
  const env = flags.get('env') as string | undefined;
  if (wordValue(positionals[1])?.toLowerCase() === 'history') {
    noExtra(positionals, 2, USAGE);
    if (flags.has('to') || flags.has('reason') || flags.has('across-migration'))
      throw new UsageError('`history` takes only --env.', { hint: USAGE });
    return { kind: 'history', service, ...(env ? { env } : {}) };
  }
  noExtra(positionals, 1, USAGE);
  const toText = flags.get('to') as string | undefined;
  let to: number | undefined;
  if (toText !== undefined) {
    if (!/^\d{1,9}$/.test(toText) || Number(toText) === 0) {
      throw new UsageError(`--to takes a revision number such as 4; "${toText.slice(0, 40)}" is not one.`, {
        hint: `See the revisions with \`/rollback ${service} history\`.`,
      });
    }
    to = Number(toText);
  }
  const reason = checkReason(flags.get('reason') as string | undefined);
  return {
    kind: 'rollback',
    service,
    ...(env ? { env } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(reason ? { reason } : {}),
    ...(flags.has('across-migration') ? { acrossMigration: true } : {}),
  };
}

export interface RollbackDeps {
  config: Config;
  deployments: Deployments;
  owners: SyncOwners;
  directory: Directory;
  flow: RequestFlow;
}

/** Synchronous checks against the config, so the acknowledgement itself can carry the error. */
export function resolve(
  cmd: { service: string; env?: string },
  config: Config,
): { service: ServiceConfig; env: EnvironmentConfig } {
  const service = resolveService(config, cmd.service);
  return { service, env: resolveEnvironment(service, cmd.env) };
}

export function targetOf(env: EnvironmentConfig): KubeTarget {
  return env.kubernetes;
}

function revisionLine(r: RevisionEntry, now: number): string {
  const age = r.createdAt ? formatDuration(now - Date.parse(r.createdAt)) : '?';
  return `${r.current ? '*→*' : '   '} *${r.revision}*  ${r.images.map((i) => `\`${i.image}\``).join(', ')}  · ${age} old${r.current ? '  _(current)_' : ''}`;
}

export function historyText(service: string, env: string, h: DeploymentHistory, now = Date.now()): string {
  if (h.revisions.length === 0) return `No rollout history found for ${service} in ${env}.`;
  return [
    `*Revisions of ${service} in ${env}* (Deployment \`${h.deployment.namespace}/${h.deployment.name}\`, newest first):`,
    ...h.revisions.map((r) => revisionLine(r, now)),
  ].join('\n');
}

export async function showHistory(
  cmd: { service: string; env?: string },
  deps: RollbackDeps,
): Promise<SlackMessage> {
  const { service, env } = resolve(cmd, deps.config);
  const h = await deps.deployments.history(targetOf(env));
  return ephemeral(historyText(service.name, env.name, h));
}

/**
 * Plans a rollback from live state with kubectl's algorithm and files the request.
 * Bad targets (missing revision, paused, already there) change nothing and say why.
 */
export async function requestRollback(
  cmd: { service: string; env?: string; to?: number; reason?: string; acrossMigration?: boolean },
  inv: Invocation,
  deps: RollbackDeps,
  opts: { rollForwardOf?: string; child?: ChildOf; gates?: GateDeps; alert?: { id: string } } = {},
): Promise<{ message: SlackMessage; request?: BackoutRequest }> {
  const { service, env } = resolve(cmd, deps.config);
  // An alert's proposal has no person behind it: approval decides, not the requester list.
  if (!opts.alert)
    await checkRequester(inv.user, env.policy, deps.directory, `roll back ${service.name} in ${env.name}`);
  const target = targetOf(env);
  const history = await deps.deployments.history(target);
  const undo = planUndo(history.deployment, history.revisions, cmd.to ?? 0);
  if (undo.kind === 'error') {
    const list = history.revisions.length ? `\n${historyText(service.name, env.name, history)}` : '';
    throw new NotFoundError(`${undo.message}. Nothing was changed.${list}`);
  }
  if (undo.kind === 'noop') {
    return {
      message: ephemeral(
        `:information_source: ${undo.message}. ${service.name} in ${env.name} already runs revision ${undo.target.revision}'s template, so nothing was changed.`,
      ),
    };
  }
  const crossed = migrationsCrossed(history, undo.target.revision);
  if (crossed.length > 0 && !cmd.acrossMigration) {
    throw new PolicyError(
      `Rolling ${service.name} in ${env.name} back to revision ${undo.target.revision} would cross an irreversible data migration, so it was refused. Nothing was changed.\n${migrationLines(crossed).join('\n')}`,
      {
        hint: 'Follow the compensation runbook. If the old revision is known to work on the migrated data, run the command again with --across-migration: it then needs a break-glass approval.',
      },
    );
  }
  const current = history.revisions.find((r) => r.current);
  const d = history.deployment;
  const ownership = await planOwnership(deps.owners, env, service.name, d);
  const plan: RollbackPlan = {
    service: service.name,
    environment: env.name,
    target,
    from: {
      revision: d.revision,
      images: current?.images ?? [],
      generation: d.generation,
      resourceVersion: d.resourceVersion,
      template: templateFingerprint(d.template),
    },
    to: {
      revision: undo.target.revision,
      replicaSet: undo.target.replicaSet,
      images: undo.target.images,
      template: templateFingerprint(undo.target.template),
    },
    requested: cmd.to ?? 0,
    timeoutMs: env.rolloutTimeoutMs,
    ...(env.health ? { health: env.health } : {}),
    ...(opts.rollForwardOf ? { rollForwardOf: opts.rollForwardOf } : {}),
    ...(ownership.owners.length ? { owners: ownership.owners } : {}),
    ...(ownership.managedBy.length ? { managedBy: ownership.managedBy } : {}),
    ...(ownership.pauseSync.length ? { pauseSync: ownership.pauseSync } : {}),
    ...(crossed.length ? { migrations: crossed } : {}),
    ...(service.flags && !opts.child && !opts.rollForwardOf
      ? { killSwitch: service.flags.killSwitches[0]! }
      : {}),
  };
  if (opts.rollForwardOf) {
    const gates = opts.gates ? await rollForwardGates(service, env, undo.target.images, opts.gates) : [];
    if (gates.length) plan.gates = gates;
  }
  const title = `${opts.rollForwardOf ? 'Roll forward' : 'Roll back'} ${service.name} in ${env.name} from revision ${d.revision} to revision ${undo.target.revision}`;
  const request = await deps.flow.file({
    kind: 'rollback',
    service: service.name,
    environment: env.name,
    target: `${service.name}/${env.name}`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason ? { reason: cmd.reason } : {}),
    plan,
    title,
    policy: env.policy,
    ...(crossed.length
      ? {
          irreversible: crossed.map(
            (m) => `rolling back across the irreversible migration of revision ${m.revision}`,
          ),
          breakGlass: 'irreversible migration',
        }
      : {}),
    slack: placeFor(deps.config, env, inv),
    ...(opts.child ? { child: opts.child } : {}),
    ...(opts.rollForwardOf ? { forward: `Rolling ${service.name} forward in ${env.name}` } : {}),
    ...(opts.alert ? { id: opts.alert.id, system: true } : {}),
  });
  return { message: ephemeral(filedText(request)), request };
}

export function filedText(request: BackoutRequest): string {
  const where = `<#${request.slack.channel}>`;
  if (request.state === 'pending') {
    const rule = request.approval;
    const who = isEmpty(rule.approvers)
      ? `anyone${rule.twoPerson ? ' other than you' : ''}`
      : describePrincipals(rule.approvers);
    return `:memo: Filed \`${request.id}\`: ${esc(request.title)}.${request.dryRun ? ' (DRY RUN: nothing will be changed.)' : ''}\nThe plan is in ${where} and needs approval by ${who}${rule.freeze ? ` — break-glass, the ${rule.freeze} freeze is in force` : ''}.`;
  }
  return `:arrow_forward: Started \`${request.id}\`: ${esc(request.title)} (no approval needed here).${request.dryRun ? ' DRY RUN: nothing will be changed.' : ''} Follow it in ${where}.`;
}

export interface RollbackCommandDeps extends RollbackDeps {
  views: { openRollbackModal(triggerId: string, inv: Invocation): Promise<void> };
}

export const rollbackCommand: SlashCommand<RollbackCommand, RollbackCommandDeps> = {
  name: '/rollback',
  help,
  parse,
  isHelp: (cmd) => cmd.kind === 'help',
  check(cmd, config) {
    if (cmd.kind === 'help' || cmd.kind === 'modal') return {};
    const { service, env } = resolve(cmd, config);
    if (cmd.kind === 'history')
      return { ack: `:mag: Reading the revision history of ${service.name} in ${env.name}…` };
    return {
      ack: `:hourglass_flowing_sand: Planning a rollback of ${service.name} in ${env.name}${cmd.to ? ` to revision ${cmd.to}` : ''}…`,
    };
  },
  needsQueue: (cmd) => cmd.kind === 'rollback',
  // The dialog must open within trigger_id's 3 s: never behind planning.
  lane: (cmd, config) =>
    cmd.kind === 'help' || cmd.kind === 'modal' ? QUICK : kubernetesLane(config, cmd.service, cmd.env),
  async run(cmd, inv, deps) {
    switch (cmd.kind) {
      case 'help':
        return undefined;
      case 'modal':
        if (!inv.triggerId)
          throw new UsageError('Slack did not send a trigger to open the dialog; name the service instead.', {
            hint: USAGE,
          });
        await deps.views.openRollbackModal(inv.triggerId, inv);
        return undefined;
      case 'history':
        return showHistory(cmd, deps);
      case 'rollback':
        return (await requestRollback(cmd, inv, deps)).message;
    }
  },
};

/**
 * A roll forward is a forward move: the environment's gates (CI of the image it goes back to,
 * downstream probes, change windows) must pass. It comes from a button, so there is no --ticket
 * to give and no --break-glass: a failing gate refuses it, saying what fails.
 */
async function rollForwardGates(
  service: ServiceConfig,
  env: EnvironmentConfig,
  images: { image: string }[],
  deps: GateDeps,
): Promise<GateResult[]> {
  const image = images[0]?.image;
  if (!env.gates || !image) return [];
  const gates = { ...env.gates, ticket: 'optional' as const };
  const results = await evaluateGates(deps, {
    service,
    env: { ...env, gates },
    image,
    now: Date.now(),
  });
  const failing = results.filter((r) => !r.ok);
  if (failing.length > 0)
    throw new PolicyError(
      `Rolling ${service.name} forward in ${env.name} is blocked by ${plural(failing.length, 'failing gate')}. Nothing was changed.\n${results.map(gateLine).join('\n')}`,
      { hint: 'Fix what fails and click Roll forward again.' },
    );
  return results;
}

/** "Roll forward" on a finished rollback: a new request back to the revision it left, with its own approval. */
export async function rollForward(
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
  deps: RollbackDeps & { gates?: GateDeps },
): Promise<{ ok: boolean; message: string }> {
  const plan = request.plan as RollbackPlan;
  const { message, request: filed } = await requestRollback(
    {
      service: plan.service,
      env: plan.environment,
      to: plan.from.revision,
      reason: `Roll forward: undo ${request.id}`,
    },
    {
      user,
      channel: place.channel,
      ...(place.responseUrl ? { responseUrl: place.responseUrl } : {}),
      ...(request.slack.threadTs ? { threadTs: request.slack.threadTs } : {}),
    },
    deps,
    { rollForwardOf: request.id, ...(deps.gates ? { gates: deps.gates } : {}) },
  );
  return { ok: filed !== undefined, message: message.text };
}
