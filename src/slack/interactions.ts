import type { App } from '@slack/bolt';
import { asBackoutError, NotFoundError, UsageError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Decision, RequestFlow } from '../requests/flow.js';
import type { RequestStore } from '../requests/store.js';
import type { BackoutRequest, RequestKind } from '../requests/types.js';
import { actionName, decodeActionValue, type ActionName } from './action-codec.js';
import { ephemeral, renderError } from './cards.js';
import type { Membership } from './membership.js';
import type { ReplayGuard } from './replay-guard.js';
import type { Responder } from './respond.js';

/** What a kind of request does when its Undo / Abort / Promote button is clicked. */
export type FollowUp = (
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
) => Promise<Decision>;

export interface InteractionDeps {
  flow: RequestFlow;
  requests: RequestStore;
  members: Membership;
  replays: ReplayGuard;
  followUps: Partial<
    Record<
      RequestKind,
      Partial<Record<'undo' | 'abort' | 'promote' | 'flagInstead' | 'statusPage', FollowUp>>
    >
  >;
  log: Logger;
  metrics: Metrics;
  /** Answers the clicker through the click's response_url. */
  responder: Responder;
}

/**
 * Card buttons. Every click is acknowledged at once, then authorised and decided; the
 * clicker gets an ephemeral answer, the card is edited for everyone. A button forwarded
 * to someone without rights changes nothing and says who can act.
 */
export function registerInteractions(app: App, deps: InteractionDeps): void {
  app.action(/^backout_/, async ({ ack, body, action }) => {
    // Over HTTP the receiver acknowledged the click already (and timed it); this is a no-op there.
    await ack();
    if (body.type !== 'block_actions' || action.type !== 'button' || !('action_id' in action)) return;
    const user = body.user.id;
    const name = actionName(action.action_id);
    const value = decodeActionValue(action.value);
    const log = deps.log.child({ action: action.action_id, user, requestId: value?.requestId });
    let answer: string;
    // An Approve reads its request while the replay check runs: a read only (the move itself is a
    // compare-and-set), so a click that turns out to be a replay has changed nothing.
    const prefetched =
      value && (name === 'approve' || name === 'breakGlass') ? deps.requests.get(value.requestId) : undefined;
    prefetched?.catch(() => undefined);
    try {
      // The same click (its action_ts, who, which button) delivered again: already handled.
      const first = await deps.replays.firstTime([
        user,
        action.action_ts,
        action.action_id,
        action.block_id,
        action.value ?? '',
        body.container?.message_ts ?? '',
      ]);
      if (!first) {
        log.warn({ actionTs: action.action_ts }, 'interaction replayed; ignored');
        deps.metrics.replaysIgnored.inc();
        return;
      }
      await deps.members.checkOrigin(user, {
        teamId: body.user.team_id ?? body.team?.id,
        enterpriseId: body.enterprise?.id,
      });
      if (!name || !value)
        throw new UsageError('That button is not one backout understands, so nothing was changed.');
      answer = (
        await decide(
          name,
          value.requestId,
          value.planHash,
          user,
          body.channel?.id,
          body.response_url,
          prefetched,
        )
      ).message;
    } catch (err) {
      const error = asBackoutError(err);
      if (error.code === 'internal') log.error({ err }, 'button handling failed');
      else log.info({ code: error.code, message: error.message }, 'button refused');
      answer = renderError(error).text;
    }
    if (body.response_url) await deps.responder.respond(body.response_url, ephemeral(answer));
  });

  async function decide(
    name: ActionName,
    requestId: string,
    planHash: string,
    user: string,
    channel: string | undefined,
    responseUrl: string | undefined,
    prefetched: Promise<BackoutRequest | undefined> | undefined,
  ): Promise<Decision> {
    switch (name) {
      case 'approve':
        return deps.flow.approve(requestId, user, planHash, false, new Date(), prefetched);
      case 'breakGlass':
        return deps.flow.approve(requestId, user, planHash, true, new Date(), prefetched);
      case 'reject':
        return deps.flow.reject(requestId, user, planHash);
      case 'retry':
        return deps.flow.retry(requestId, user, planHash);
      case 'undo':
      case 'abort':
      case 'promote':
      case 'flagInstead':
      case 'statusPage': {
        const request = await deps.requests.get(requestId);
        if (!request || !request.planHash.startsWith(planHash)) {
          throw new NotFoundError(`Request ${requestId} no longer exists, so nothing was changed.`);
        }
        const handler = deps.followUps[request.kind]?.[name];
        if (!handler)
          throw new UsageError(`A ${request.kind} request has no ${name} action; nothing was changed.`);
        return handler(request, user, {
          channel: channel ?? request.slack.channel,
          ...(responseUrl ? { responseUrl } : {}),
        });
      }
    }
  }
}
