import { describe, expect, it } from 'vitest';
import { needsQuorum, quorumLine, quorumOf } from '../../src/policy/quorum.js';
import type { ApprovalRule, ApprovalVote } from '../../src/requests/types.js';

const none = { users: [], usergroups: [] };
const rule = (extra: Partial<ApprovalRule> = {}): ApprovalRule => ({
  required: true,
  reasons: [],
  approvers: none,
  twoPerson: true,
  ...extra,
});
const vote = (user: string, required = false): ApprovalVote => ({ user, at: 0, required });

describe('approval quorum', () => {
  it('a plain rule needs no quorum; more approvals or a named approver do', () => {
    expect(needsQuorum(rule())).toBe(false);
    expect(needsQuorum(rule({ minApprovals: 1, requiredApprovers: none }))).toBe(false);
    expect(needsQuorum(rule({ minApprovals: 2 }))).toBe(true);
    expect(needsQuorum(rule({ requiredApprovers: { users: ['U1'], usergroups: [] } }))).toBe(true);
  });

  it.each([
    [{ minApprovals: 3 }, [], '0 of 3 approvals', false],
    [{ minApprovals: 2 }, [vote('U1'), vote('U2')], '2 of 2 approvals: <@U1>, <@U2>', true],
    [
      { minApprovals: 2, requiredApprovers: { users: ['U9'], usergroups: ['S1'] } },
      [vote('U1'), vote('U2')],
      '2 of 2 approvals: <@U1>, <@U2>; still needs one of <@U9> or a member of <!subteam^S1>',
      false,
    ],
    [
      { minApprovals: 2, requiredApprovers: { users: ['U9'], usergroups: [] } },
      [vote('U1'), vote('U9', true)],
      '2 of 2 approvals: <@U1>, <@U9>',
      true,
    ],
    [
      { requiredApprovers: { users: ['U9'], usergroups: [] } },
      [vote('U9', true)],
      '1 of 1 approval: <@U9>',
      true,
    ],
  ] as [Partial<ApprovalRule>, ApprovalVote[], string, boolean][])(
    'with %j and votes %j the card says "%s"',
    (extra, votes, line, complete) => {
      expect(quorumLine(rule(extra), votes)).toBe(line);
      expect(quorumOf(rule(extra), votes).complete).toBe(complete);
    },
  );
});
