import type { Config, Policy } from '../src/config/model.js';
import { asBackoutError, NotFoundError, PolicyError, UsageError } from '../src/errors.js';
import type { Deployments } from '../src/integrations/kubernetes/types.js';
import { planUndo, templateFingerprint } from '../src/integrations/kubernetes/undo.js';
import { checkRequester, describePrincipals } from '../src/policy/policy.js';
import type { Decision, RequestFlow } from '../src/requests/flow.js';
import type { RequestStore } from '../src/requests/store.js';
import type { ApprovalRule, BackoutRequest } from '../src/requests/types.js';
import { ephemeral, renderError } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { GroupRollbackPlan, MemberRollbacks } from '../jobs/rollback-group.js';
import type { RollbackPlan } from '../jobs/rollback.js';
import { filedText, requestRollback, resolve, targetOf } from './rollback.js';
import { migrationLines, migrationsCrossed } from './rollback-migrations.js';
import { placeFor, type Invocation } from './shared.js';
import type { SyncOwners } from '../src/integrations/kubernetes/owners.js';
import { planOwnership } from './rollback-owners.js';

export interface GroupDeps {
  config: Config;
  deployments: Deployments;
  owners: SyncOwners;
  directory: Directory;
  flow: RequestFlow;
}

export function isGroup(config: Config, name: string): boolean {
  return config.groups.has(name.toLowerCase());
}

/** A member's plan from live state, with kubectl's undo algorithm (the rollback job does the work). */
async function planMember(
  service: string,
  environment: string,
  to: number,
  deps: GroupDeps,
): Promise<RollbackPlan> {
  const { service: svc, env } = resolve({ service, env: environment }, deps.config);
  const target = targetOf(env);
  const history = await deps.deployments.history(target);
  const undo = planUndo(history.deployment, history.revisions, to);
  if (undo.kind !== 'patch') {
    throw new NotFoundError(
      `${svc.name} in ${env.name}: ${undo.message}${undo.kind === 'noop' ? ' (already at the target)' : ''}. Nothing was changed for any member.`,
    );
  }
  const crossed = migrationsCrossed(history, undo.target.revision);
  if (crossed.length > 0) {
    throw new PolicyError(
      `${svc.name} in ${env.name} cannot go back to revision ${undo.target.revision} with its group: that crosses an irreversible data migration. Nothing was changed for any member.\n${migrationLines(crossed).join('\n')}`,
      {
        hint: `Follow the compensation runbook; roll that member back on its own with /rollback ${svc.name} --env ${env.name} --across-migration if it must go back (break-glass approval).`,
      },
    );
  }
  const d = history.deployment;
  const ownership = await planOwnership(deps.owners, env, svc.name, d);
  return {
    service: svc.name,
    environment: env.name,
    target,
    from: {
      revision: d.revision,
      images: history.revisions.find((r) => r.current)?.images ?? [],
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
    requested: to,
    timeoutMs: env.rolloutTimeoutMs,
    ...(env.health ? { health: env.health } : {}),
    ...(ownership.owners.length ? { owners: ownership.owners } : {}),
    ...(ownership.managedBy.length ? { managedBy: ownership.managedBy } : {}),
    ...(ownership.pauseSync.length ? { pauseSync: ownership.pauseSync } : {}),
  };
}

const sameList = (
  a: { users: string[]; usergroups: string[] },
  b: { users: string[]; usergroups: string[] },
) =>
  [...a.users].sort().join() === [...b.users].sort().join() &&
  [...a.usergroups].sort().join() === [...b.usergroups].sort().join();

/**
 * One policy for the whole group: approval when any member needs it, the two-person rule when any
 * has it, the shortest expiry; the first member's approvers, and every other member's approvers
 * that differ as further lists the one approver must also be on.
 */
function groupPolicy(policies: { label: string; policy: Policy }[]): {
  policy: Policy;
  also: ApprovalRule['also'];
} {
  const first = policies[0]!.policy;
  const also: NonNullable<ApprovalRule['also']> = [];
  for (const { label, policy } of policies.slice(1)) {
    if (sameList(policy.approvers, first.approvers)) continue;
    const same = also.find((a) => sameList(a.approvers, policy.approvers));
    if (same) same.covers = `${same.covers}, ${label}`;
    else also.push({ covers: label, approvers: policy.approvers });
  }
  return {
    policy: {
      ...first,
      approval: policies.some((p) => p.policy.approval === 'required') ? 'required' : 'not-required',
      twoPerson: policies.some((p) => p.policy.twoPerson),
      approvalTtlMs: Math.min(...policies.map((p) => p.policy.approvalTtlMs)),
    },
    also,
  };
}

/** `/rollback <group>`: every member planned from live state, one card, one approval. */
export async function requestGroupRollback(
  cmd: { group: string; reason?: string },
  inv: Invocation,
  deps: GroupDeps,
  opts: { rollForwardOf?: string; members?: { service: string; environment: string; to: number }[] } = {},
): Promise<{ message: SlackMessage; request?: BackoutRequest }> {
  const group = cmd.group.toLowerCase();
  const configured = deps.config.groups.get(group);
  if (!configured) throw new UsageError(`There is no group called "${cmd.group}".`);
  const wanted = opts.members ?? configured.map((m) => ({ ...m, to: 0 }));
  const policies = wanted.map((m) => {
    const { env } = resolve({ service: m.service, env: m.environment }, deps.config);
    return { label: `${m.service} in ${m.environment}`, policy: env.policy };
  });
  for (const p of policies) await checkRequester(inv.user, p.policy, deps.directory, `roll back ${p.label}`);
  const members: RollbackPlan[] = [];
  for (const m of wanted) members.push(await planMember(m.service, m.environment, m.to, deps));
  const plan: GroupRollbackPlan = {
    group,
    members,
    ...(opts.rollForwardOf ? { rollForwardOf: opts.rollForwardOf } : {}),
  };
  const { policy, also } = groupPolicy(policies);
  const first = deps.config.services.get(members[0]!.service)?.environments.get(members[0]!.environment);
  const request = await deps.flow.file({
    kind: 'rollback-group',
    service: group,
    target: `group/${group}`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason ? { reason: cmd.reason } : {}),
    plan,
    title: `${opts.rollForwardOf ? 'Roll forward' : 'Roll back'} group ${group}: ${members.map((m) => `${m.service}/${m.environment} ${m.from.revision}→${m.to.revision}`).join(', ')}`,
    policy,
    ...(also?.length ? { approvalAlso: also } : {}),
    slack: placeFor(deps.config, first, inv),
  });
  const extra = also?.length
    ? `\nOne approver must be on every list: ${describePrincipals(policy.approvers)}, and for ${also.map((a) => `${a.covers} ${describePrincipals(a.approvers)}`).join('; ')}.`
    : '';
  return { message: ephemeral(`${filedText(request)}${extra}`), request };
}

/** "Roll the group forward": the members this request rolled back, to where they were, in reverse order. */
export async function rollGroupForward(
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
  deps: GroupDeps & { requests: RequestStore },
): Promise<Decision> {
  const plan = request.plan as GroupRollbackPlan;
  // The members it actually rolled back are those still running the template it rolled them back to.
  const members: { service: string; environment: string; to: number }[] = [];
  for (const m of [...plan.members].reverse()) {
    const { deployment } = await deps.deployments.history(m.target);
    if (templateFingerprint(deployment.template) === m.to.template)
      members.push({ service: m.service, environment: m.environment, to: m.from.revision });
  }
  if (members.length === 0)
    return {
      ok: false,
      message: `No member of group ${plan.group} still runs the revision this request rolled it back to, so there is nothing to roll forward. Nothing was changed.`,
    };
  try {
    const { message, request: filed } = await requestGroupRollback(
      { group: plan.group, reason: `Roll forward: undo ${request.id}` },
      {
        user,
        channel: place.channel,
        ...(place.responseUrl ? { responseUrl: place.responseUrl } : {}),
        ...(request.slack.threadTs ? { threadTs: request.slack.threadTs } : {}),
      },
      deps,
      { rollForwardOf: request.id, members },
    );
    return { ok: filed !== undefined, message: message.text };
  } catch (err) {
    return { ok: false, message: renderError(asBackoutError(err)).text };
  }
}

/** Files a group's member rollbacks through the ordinary rollback planning, as children of the group's job. */
export class GroupMemberRollbacks implements MemberRollbacks {
  constructor(private readonly deps: GroupDeps & { requests: RequestStore; jobsQueue: string }) {}

  get(id: string): Promise<BackoutRequest | undefined> {
    return this.deps.requests.get(id);
  }

  async start(opts: {
    parent: BackoutRequest;
    member: RollbackPlan;
    id: string;
  }): Promise<{ ok: true; title: string } | { ok: false; why: string }> {
    const { parent, member, id } = opts;
    const job = { id: parent.id, queue: this.deps.jobsQueue };
    const existing = await this.deps.requests.get(id);
    if (existing) {
      // Filed before a crash: finish what filing does (an existing job id is a no-op in BullMQ).
      if (existing.state === 'pending' && existing.parentId === parent.id) {
        await this.deps.requests.transition(id, ['pending'], 'approved', {
          approvedAt: Date.now(),
          ...(parent.approver ? { approver: parent.approver } : {}),
        });
      }
      const now = (await this.deps.requests.get(id)) ?? existing;
      if (now.state === 'approved') await this.deps.flow.enqueue(id, Math.max(1, now.run), { parent: job });
      return { ok: true, title: now.title };
    }
    try {
      const { request, message } = await requestRollback(
        {
          service: member.service,
          env: member.environment,
          to: member.to.revision,
          reason:
            `member of group ${(parent.plan as GroupRollbackPlan).group} (${parent.id})${parent.reason ? `: ${parent.reason}` : ''}`.slice(
              0,
              500,
            ),
        },
        {
          user: parent.requester,
          channel: parent.slack.channel,
          ...(parent.slack.threadTs ? { threadTs: parent.slack.threadTs } : {}),
        },
        this.deps,
        {
          child: {
            id,
            parentId: parent.id,
            ...(parent.approver ? { approver: parent.approver } : {}),
            ...(parent.breakGlass ? { breakGlass: true } : {}),
            job,
          },
        },
      );
      return request
        ? { ok: true, title: request.title }
        : { ok: false, why: message.text.replace(/^:\w+: /, '') };
    } catch (err) {
      return { ok: false, why: renderError(asBackoutError(err)).text.replace(/^:\w+: /, '') };
    }
  }
}
