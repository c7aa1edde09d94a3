import type { Principals } from '../config/schema.js';
import type { Config, Freeze, Policy } from '../config/model.js';
import { PolicyError } from '../errors.js';
import type { Directory } from '../slack/directory.js';
import type { ApprovalRule, BackoutRequest } from '../requests/types.js';
import { slackDate } from '../text/time.js';

export function isEmpty(p: Principals): boolean {
  return p.users.length === 0 && p.usergroups.length === 0;
}

/** "<@U1>, <@U2> or a member of <!subteam^S1>" — Slack renders the mentions. */
export function describePrincipals(p: Principals): string {
  const parts = [...p.users.map((u) => `<@${u}>`), ...p.usergroups.map((g) => `a member of <!subteam^${g}>`)];
  if (parts.length <= 1) return parts[0] ?? 'anyone';
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}

export async function isIn(user: string, p: Principals, directory: Directory): Promise<boolean> {
  if (p.users.includes(user)) return true;
  for (const group of p.usergroups) {
    if ((await directory.membersOf(group)).includes(user)) return true;
  }
  return false;
}

function mergePrincipals(a: Principals, b: Principals | undefined): Principals {
  if (!b) return a;
  return {
    users: [...new Set([...a.users, ...b.users])],
    usergroups: [...new Set([...a.usergroups, ...b.usergroups])],
  };
}

/** May this user file requests under this policy? Empty requesters: anyone. */
export async function checkRequester(
  user: string,
  policy: Policy,
  directory: Directory,
  what: string,
): Promise<void> {
  if (isEmpty(policy.requesters)) return;
  if (await isIn(user, policy.requesters, directory)) return;
  throw new PolicyError(`You are not allowed to ${what}. Nothing was changed.`, {
    hint: `Requests here can be filed by ${describePrincipals(policy.requesters)}.`,
  });
}

/** The freeze in force for this service and environment at `now`, if any. */
export function activeFreeze(
  config: Config,
  service: string,
  environment: string | undefined,
  now: Date,
): Freeze | undefined {
  return config.freezes.find(
    (f) =>
      f.from <= now &&
      now < f.to &&
      (!f.services || f.services.includes(service)) &&
      (!f.environments || (environment !== undefined && f.environments.includes(environment))),
  );
}

/**
 * Whether a request needs an Approve click, and why. Irreversible steps and freezes
 * always need one, whatever the policy says.
 */
export function approvalRule(
  policy: Policy,
  opts: { irreversible?: string[]; freeze?: Freeze },
): ApprovalRule {
  const reasons: string[] = [];
  if (policy.approval === 'required') reasons.push('policy requires approval');
  for (const step of opts.irreversible ?? []) reasons.push(`${step} cannot be undone`);
  if (opts.freeze) {
    reasons.push(
      `the ${opts.freeze.name} freeze is in force until ${slackDate(opts.freeze.to)} (break-glass approval)`,
    );
  }
  return {
    required: reasons.length > 0,
    reasons,
    approvers: policy.approvers,
    twoPerson: policy.twoPerson,
    ...(opts.freeze ? { freeze: opts.freeze.name } : {}),
    // Only set when they ask for more than one plain Approve, so stored requests stay as they were.
    ...(policy.minApprovals > 1 ? { minApprovals: policy.minApprovals } : {}),
    ...(!isEmpty(policy.requiredApprovers) ? { requiredApprovers: policy.requiredApprovers } : {}),
  };
}

/**
 * Checks the clicker may approve: the two-person rule, then the approver list.
 * Throws a PolicyError that says who can.
 */
export async function checkApprover(
  user: string,
  request: Pick<BackoutRequest, 'approval' | 'requester'>,
  directory: Directory,
): Promise<void> {
  const rule = request.approval;
  const who = isEmpty(rule.approvers)
    ? 'anyone other than the requester'
    : describePrincipals(mergePrincipals(rule.approvers, rule.requiredApprovers));
  if (rule.twoPerson && user === request.requester) {
    throw new PolicyError(
      'You filed this request, so you cannot approve it: the two-person rule applies here.',
      {
        hint: `Ask ${who} to approve it.`,
      },
    );
  }
  const named = rule.requiredApprovers && (await isIn(user, rule.requiredApprovers, directory));
  if (!named && !isEmpty(rule.approvers) && !(await isIn(user, rule.approvers, directory))) {
    throw new PolicyError('You are not an approver for this request, so nothing was changed.', {
      hint: `It can be approved by ${who}.`,
    });
  }
  const missing: string[] = [];
  for (const extra of rule.also ?? []) {
    if (!isEmpty(extra.approvers) && !(await isIn(user, extra.approvers, directory)))
      missing.push(`${extra.covers} (approvers: ${describePrincipals(extra.approvers)})`);
  }
  if (missing.length > 0) {
    throw new PolicyError(
      `Your approval does not cover every part of this request, so nothing was changed. Still missing an approver for: ${missing.join('; ')}.`,
      { hint: 'One person on every list must approve it.' },
    );
  }
}
