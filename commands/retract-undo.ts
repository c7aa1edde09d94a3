import { NotFoundError } from '../src/errors.js';
import { notesDigest, retractedBy, withoutBanner } from '../src/integrations/github/banner.js';
import { checkRequester } from '../src/policy/policy.js';
import type { BackoutRequest } from '../src/requests/types.js';
import { ephemeral } from '../src/slack/cards.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import type { RetractPlan, RetractUndoPlan } from '../jobs/retract-plan.js';
import { findRelease, resolveReleaseService, servicePlace, type RetractDeps } from './retract-plan.js';
import { filedText } from './rollback.js';
import type { Invocation } from './shared.js';

/**
 * `/retract undo <service>@<tag>`: finds the snapshot of the retraction whose banner the release
 * carries, and files a request to restore flags, notes and the previous latest release.
 */
export async function planRetractUndo(
  cmd: { service: string; tag: string; reason?: string },
  inv: Invocation,
  deps: RetractDeps,
): Promise<{ message: SlackMessage; request?: BackoutRequest }> {
  const { service, repo } = resolveReleaseService(deps.config, cmd.service);
  await checkRequester(inv.user, service.policy, deps.directory, `restore releases of ${service.name}`);
  const recent = await deps.releases.recent(repo, 100);
  const live = await findRelease(deps, repo, recent, cmd.tag);
  const by = retractedBy(live.body);
  if (!by) {
    return {
      message: ephemeral(
        `:information_source: \`${live.tag}\` of ${repo.fullName} is not retracted (its notes carry no RETRACTED banner from backout), so there is nothing to undo. Nothing was changed.`,
      ),
    };
  }
  const record = await deps.retractions.get(service.name, live.tag);
  if (!record || record.requestId !== by) {
    throw new NotFoundError(
      `\`${live.tag}\` was retracted by request \`${by}\`, but backout has no snapshot of that retraction, so it cannot restore it exactly. Nothing was changed.`,
      {
        hint: 'The snapshot is in the audit log (`release.snapshot` event); restore the release by hand from it.',
      },
    );
  }
  const [latest, assets] = await Promise.all([
    deps.releases.latest(repo),
    deps.releases.assets(repo, live.id),
  ]);
  const snapshot = record.snapshot;
  const lostAssets = snapshot.release.assets.filter((a) => !assets.some((l) => l.id === a.id));
  const plan: RetractUndoPlan = {
    service: service.name,
    repo,
    tag: live.tag,
    releaseId: live.id,
    htmlUrl: live.htmlUrl,
    retraction: by,
    snapshot,
    live: { prerelease: live.prerelease, notesDigest: notesDigest(live.body) },
    latestNow: latest ? { id: latest.id, tag: latest.tag } : null,
    lostAssets,
    editedSince: withoutBanner(live.body) !== (snapshot.release.body ?? ''),
  };
  const restoresLatest =
    snapshot.latest && snapshot.latest.id !== latest?.id
      ? `; ${snapshot.latest.tag} becomes latest again`
      : '';
  const request = await deps.flow.file({
    kind: 'retract-undo',
    service: service.name,
    target: `${service.name}/releases`,
    mutating: true,
    requester: inv.user,
    reason: cmd.reason ?? `Undo retraction ${by}`,
    plan,
    title: `Restore ${service.name} ${live.tag} as it was before ${by}${restoresLatest}`,
    policy: service.policy,
    slack: servicePlace(deps, service, inv),
  });
  return { message: ephemeral(filedText(request)), request };
}

/** "Undo retraction" on a finished retraction's card: a new request with its own approval. */
export async function undoFromCard(
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
  deps: RetractDeps,
): Promise<{ ok: boolean; message: string }> {
  const plan = request.plan as RetractPlan;
  const { message, request: filed } = await planRetractUndo(
    { service: plan.service, tag: plan.release.tag, reason: `Undo retraction ${request.id}` },
    {
      user,
      channel: place.channel,
      ...(place.responseUrl ? { responseUrl: place.responseUrl } : {}),
      ...(request.slack.threadTs ? { threadTs: request.slack.threadTs } : {}),
    },
    deps,
  );
  return { ok: filed !== undefined, message: message.text };
}
