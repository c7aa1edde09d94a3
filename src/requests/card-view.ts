import type { JobDefinition } from '../queue/job-definition.js';
import { needsQuorum } from '../policy/quorum.js';
import { requestCard, type CardButton } from '../slack/cards.js';
import { isUnqueuedMessage, type Notifier, type SlackMessage } from '../slack/notifier.js';
import type { RequestStore } from './store.js';
import type { BackoutRequest } from './types.js';

export const cardKey = (requestId: string) => `${requestId}.card`;

export interface CardRenderer {
  /** Re-renders the request's card from its stored state (optionally recording step progress). */
  refresh(requestId: string, progress?: { done: number; total: number; current?: string }): Promise<void>;
  render(request: BackoutRequest): SlackMessage;
}

/** Buttons a card offers in each state. Rights are checked on click, not here. */
export function buttonsFor(
  request: BackoutRequest,
  def: JobDefinition<unknown, unknown> | undefined,
): CardButton[] {
  const extra = def?.buttons?.(request) ?? [];
  switch (request.state) {
    case 'pending':
      return [
        request.approval.freeze || request.approval.breakGlass
          ? {
              action: 'breakGlass',
              text: 'Break glass & approve',
              style: 'danger',
              confirm: {
                title: request.approval.freeze ? 'Break the freeze?' : 'Break glass?',
                text: request.approval.freeze
                  ? `The ${request.approval.freeze} freeze is in force. Approving runs this anyway, and the audit log records it as a break-glass approval.`
                  : `This crosses an ${request.approval.breakGlass}: it cannot be undone. Approving runs it anyway, and the audit log records it as a break-glass approval.`,
                confirm: 'Break glass',
              },
            }
          : {
              action: 'approve',
              text: 'Approve',
              style: 'primary',
              confirm: {
                title: 'Approve this change?',
                text: needsQuorum(request.approval)
                  ? `${request.title}. Your approval is counted; it starts once ${quorumNeed(request)} are in.`
                  : `${request.title}. It starts as soon as you confirm.`,
                confirm: 'Approve',
              },
            },
        { action: 'reject', text: 'Reject', style: 'danger' },
        ...(def?.pendingButtons?.(request) ?? []),
      ];
    case 'failed':
      return [
        {
          action: 'retry',
          text: 'Retry',
          style: 'primary',
          confirm: {
            title: 'Retry?',
            text: 'The job continues from the step that failed.',
            confirm: 'Retry',
          },
        },
        ...extra,
      ];
    case 'running':
    case 'succeeded':
      return extra;
    default:
      return [];
  }
}

/** "2 approvals, one of them from <@U1>" — what the Approve confirmation promises. */
function quorumNeed(request: BackoutRequest): string {
  const n = request.approval.minApprovals ?? 1;
  const named = request.approval.requiredApprovers;
  const who = named
    ? [...named.users.map((u) => `<@${u}>`), ...named.usergroups.map((g) => `<!subteam^${g}>`)]
    : [];
  return `${n} approval${n === 1 ? '' : 's'}${who.length ? `, one of them from ${who.join(' or ')}` : ''}`;
}

export class RequestCards implements CardRenderer {
  constructor(
    private readonly requests: RequestStore,
    private readonly notifier: Notifier,
    private readonly definitions: Map<string, JobDefinition<unknown, unknown>>,
  ) {}

  render(request: BackoutRequest): SlackMessage {
    const def = this.definitions.get(request.kind);
    return requestCard({
      request,
      planLines: def ? def.describe(request.plan) : [],
      ...(request.progress && request.state === 'running' ? { progress: request.progress } : {}),
      ...(request.statusLine ? { detail: request.statusLine } : {}),
      buttons: buttonsFor(request, def),
    });
  }

  async refresh(
    requestId: string,
    progress?: { done: number; total: number; current?: string },
  ): Promise<void> {
    if (progress) await this.requests.annotate(requestId, { progress });
    const request = await this.requests.get(requestId);
    if (!request) return;
    try {
      await this.notifier.update(cardKey(requestId), this.render(request));
    } catch (err) {
      // Found between its filing and its card's post (a second webhook call, say): the filer's
      // post shows it, and the next refresh shows what changed meanwhile.
      if (!isUnqueuedMessage(err)) throw err;
    }
  }
}
