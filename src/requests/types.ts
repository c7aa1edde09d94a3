import type { Principals } from '../config/schema.js';
import type { Outcome } from './outcome.js';

/** What a request asks for; each kind has one job module in `jobs/`. */
export type RequestKind =
  | 'rollback'
  | 'retract'
  | 'retract-undo'
  | 'canary'
  | 'canary-abort'
  | 'api-retire'
  | 'api-unretire'
  | 'flag'
  | 'rollback-group'
  | 'flagger-gate'
  | 'rollout-gate';

/**
 * pending → approved | rejected | expired | cancelled (the atomic approval transitions),
 * then approved → running → succeeded | failed; failed → approved again on Retry.
 */
export type RequestState =
  'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | 'running' | 'succeeded' | 'failed';

export const TERMINAL_STATES: ReadonlySet<RequestState> = new Set([
  'rejected',
  'expired',
  'cancelled',
  'succeeded',
  'failed',
]);

export interface ApprovalRule {
  required: boolean;
  /** Why approval is needed even where policy would not ask (irreversible steps, a freeze). */
  reasons: string[];
  approvers: Principals;
  twoPerson: boolean;
  /** Set when a freeze is active: approving is a break-glass decision. */
  freeze?: string;
  /** Set when approving is a break-glass decision for another reason (an irreversible migration). */
  breakGlass?: string;
  /**
   * Further approver lists the approver must also be on (one approval covering several targets,
   * e.g. every member of a group rollback); each names what it covers.
   */
  also?: { covers: string; approvers: Principals }[];
  /** Distinct approvers needed (absent: 1). The requester never counts. */
  minApprovals?: number;
  /** At least one approver must be one of these (absent: no such requirement). */
  requiredApprovers?: Principals;
}

/** One Approve click counted towards a request's approvals. */
export interface ApprovalVote {
  user: string;
  at: number;
  /** The clicker is one of the rule's required approvers. */
  required: boolean;
  breakGlass?: boolean;
}

export interface SlackPlace {
  /** The incident channel where the card lives. */
  channel: string;
  /** Set when the command was run inside a thread: the card goes into that thread. */
  threadTs?: string;
  /** The command's response_url, for ephemeral answers to the requester. */
  responseUrl?: string;
}

/** The part of a request fixed when it is filed. */
export interface RequestSpec<P = unknown> {
  id: string;
  kind: RequestKind;
  service: string;
  environment?: string;
  /** What the per-target lock is held on, e.g. `checkout-api/production`. */
  target: string;
  /** Whether the job changes the world (mutating jobs take the target lock). */
  mutating: boolean;
  requester: string;
  reason?: string;
  createdAt: number;
  expiresAt: number;
  plan: P;
  planHash: string;
  /** One line saying what will happen, e.g. "Roll back checkout-api in production to revision 4". */
  title: string;
  approval: ApprovalRule;
  slack: SlackPlace;
  dryRun: boolean;
  parentId?: string;
  /** Set on a child request (a retraction's rollback): its job runs as a BullMQ child of this job. */
  parentJob?: { id: string; queue: string };
  /** Set on a forward move (its name for messages): change windows are checked again at Approve. */
  forward?: string;
}

/** What changes as the request moves through its life. */
export interface RequestStatus {
  state: RequestState;
  version: number;
  updatedAt: number;
  approver?: string;
  approvedAt?: number;
  breakGlass?: boolean;
  /** Approvals counted so far, in click order (requests that need more than one, or a named approver). */
  approvals?: ApprovalVote[];
  decidedBy?: string;
  decidedAt?: number;
  /** How the job ended, in words, for the card and the audit. */
  outcome?: string;
  /** How the job ended, as one of the typed outcomes (metrics label, card mark). */
  verdict?: Outcome;
  /** The last message shown as the job's status line. */
  statusLine?: string;
  /** How many times the job has been started by a person (1, then +1 per Retry). */
  run: number;
  /** Step progress for the card's progress bar. */
  progress?: { done: number; total: number; current?: string };
}

export type BackoutRequest<P = unknown> = RequestSpec<P> & RequestStatus;
