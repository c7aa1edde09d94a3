import type { Config } from '../src/config/model.js';
import { asBackoutError } from '../src/errors.js';
import type { SyncOwners } from '../src/integrations/kubernetes/owners.js';
import type { Deployments } from '../src/integrations/kubernetes/types.js';
import type { RequestFlow } from '../src/requests/flow.js';
import type { RequestStore } from '../src/requests/store.js';
import type { BackoutRequest } from '../src/requests/types.js';
import { renderError } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { ChildRollbacks } from '../jobs/deps.js';
import { runningTag } from './retract-running.js';
import { requestRollback, resolve } from './rollback.js';

/**
 * Files the rollbacks a retraction starts (`--rollback`) through the ordinary rollback planning,
 * as children of the retraction: each keeps its own target lock and card (posted where the
 * retraction's command came from, as a /rollback there would be), is approved by the
 * retraction's approval where that approval satisfies the environment's own policy (else it
 * waits on its own card), and its job is a BullMQ flow child of the retraction's job.
 */
export class RetractionRollbacks implements ChildRollbacks {
  constructor(
    private readonly deps: {
      config: Config;
      deployments: Deployments;
      owners: SyncOwners;
      directory: Directory;
      flow: RequestFlow;
      requests: RequestStore;
      /** The qualified name (prefix:name) of the jobs queue, where parent jobs live. */
      jobsQueue: string;
    },
  ) {}

  get(id: string): Promise<BackoutRequest | undefined> {
    return this.deps.requests.get(id);
  }

  async start(opts: {
    parent: BackoutRequest;
    environment: string;
    id: string;
    tag: string;
  }): Promise<{ ok: true; title: string; channel: string } | { ok: false; why: string }> {
    const { parent, environment, id, tag } = opts;
    const job = { id: parent.id, queue: this.deps.jobsQueue };
    const existing = await this.deps.requests.get(id);
    if (existing) {
      // Filed before a crash: finish what filing does (approve when the parent's approval covers
      // it, add the job; an existing job id is a no-op). One waiting for its own card stays so.
      if (existing.state === 'pending' && existing.parentId === parent.id && !existing.approval.required) {
        await this.deps.flow.approveCovered(id, parent.approver);
      }
      const now = (await this.deps.requests.get(id)) ?? existing;
      if (now.state === 'approved') await this.deps.flow.enqueue(id, Math.max(1, now.run), { parent: job });
      return { ok: true, title: now.title, channel: now.slack.channel };
    }
    try {
      const { env } = resolve({ service: parent.service, env: environment }, this.deps.config);
      const found = runningTag(await this.deps.deployments.history(env.kubernetes), tag);
      if (!found.runs) {
        return {
          ok: false,
          why: `it no longer runs ${tag} (now ${found.images.map((i) => `\`${i}\``).join(', ')}); nothing to roll back`,
        };
      }
      if (found.problem || !found.to)
        return { ok: false, why: found.problem ?? 'no revision to roll back to' };
      const reason = `${tag} of ${parent.service} was retracted (${parent.id})${parent.reason ? `: ${parent.reason}` : ''}`;
      const { request, message } = await requestRollback(
        { service: parent.service, env: environment, to: found.to.revision, reason: reason.slice(0, 500) },
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
        ? { ok: true, title: request.title, channel: request.slack.channel }
        : { ok: false, why: message.text.replace(/^:\w+: /, '') };
    } catch (err) {
      return { ok: false, why: renderError(asBackoutError(err)).text.replace(/^:\w+: /, '') };
    }
  }
}
