import type { ApprovalRule, ApprovalVote } from '../requests/types.js';
import { describePrincipals, isEmpty } from './policy.js';

/** Whether a rule asks for more than one plain Approve (several approvers, or a named one). */
export function needsQuorum(rule: ApprovalRule): boolean {
  return (
    (rule.minApprovals ?? 1) > 1 || (rule.requiredApprovers !== undefined && !isEmpty(rule.requiredApprovers))
  );
}

export interface QuorumState {
  have: number;
  need: number;
  /** A required approver is among the votes (true when the rule names none). */
  requiredMet: boolean;
  complete: boolean;
}

export function quorumOf(rule: ApprovalRule, votes: readonly ApprovalVote[]): QuorumState {
  const need = rule.minApprovals ?? 1;
  const named = rule.requiredApprovers !== undefined && !isEmpty(rule.requiredApprovers);
  const requiredMet = !named || votes.some((v) => v.required);
  return { have: votes.length, need, requiredMet, complete: votes.length >= need && requiredMet };
}

/**
 * What the card says while approvals come in:
 * "2 of 3 approvals: <@U1>, <@U2>; still needs one of <@U3>".
 */
export function quorumLine(rule: ApprovalRule, votes: readonly ApprovalVote[]): string {
  const q = quorumOf(rule, votes);
  const who = votes.map((v) => `<@${v.user}>`).join(', ');
  let line = `${q.have} of ${q.need} approval${q.need === 1 ? '' : 's'}${who ? `: ${who}` : ''}`;
  if (!q.requiredMet && rule.requiredApprovers)
    line += `; still needs one of ${describePrincipals(rule.requiredApprovers)}`;
  return line;
}
