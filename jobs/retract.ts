import { StalePlanError } from '../src/errors.js';
import { notesDigest, retractedBy, retractionBanner, withBanner } from '../src/integrations/github/banner.js';
import { githubStatus } from '../src/integrations/github/errors.js';
import type { ReleaseSnapshot } from '../src/integrations/github/retractions.js';
import { whyNotReplacement } from '../src/integrations/github/selection.js';
import type { JobDefinition, Step } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import { esc, type CardButton } from '../src/slack/cards.js';
import type { JobDeps } from './deps.js';
import { rollbackChildren } from './retract-children.js';
import { describeRetraction, yesNo, type RetractPlan } from './retract-plan.js';
import { report } from './retract-report.js';
import { latestWarning, liveRelease, makeLatest, retractState, said, snapshotOf } from './retract-state.js';
import { plural } from '../src/text/plural.js';

export type { RetractPlan } from './retract-plan.js';
export type { RetractState } from './retract-state.js';

const snapshot: Step<RetractPlan, JobDeps> = {
  name: 'snapshot',
  label: 'Snapshot the release into the audit log',
  async run(ctx) {
    const { plan, deps } = ctx;
    const s = retractState(ctx);
    if (!s.snapshot) {
      const live = await liveRelease(ctx);
      const by = retractedBy(live.body);
      if (by === ctx.request.id) {
        // Our own banner is already there (a re-run from the start): the snapshot was recorded before it.
        const record = await deps.retractions.get(plan.service, plan.release.tag);
        if (!record || record.requestId !== ctx.request.id) {
          throw new StalePlanError(
            `${plan.release.tag} already carries this request's banner but its snapshot is missing, so backout will not go on.`,
          );
        }
        await ctx.save({ snapshot: record.snapshot, snapshotRecorded: true });
        return { detail: 'Already recorded by this request.' };
      }
      if (by) {
        return {
          finish: `already retracted by ${by}; nothing was changed`,
          detail: `${plan.release.tag} was retracted by request \`${by}\` after this plan was made. Nothing was changed.`,
        };
      }
      const changed: string[] = [];
      if (live.draft) changed.push('it was turned into a draft');
      if (live.prerelease !== plan.release.prerelease)
        changed.push(`pre-release ${yesNo(plan.release.prerelease)} → ${yesNo(live.prerelease)}`);
      if (notesDigest(live.body) !== plan.release.notesDigest) changed.push('its notes were edited');
      if (changed.length) {
        throw new StalePlanError(
          `The plan is stale: ${plan.release.tag} changed on GitHub after the plan was made (${changed.join('; ')}). Nothing was changed.`,
          { hint: 'Run /retract again for a fresh plan.' },
        );
      }
      const [latest, assets] = await Promise.all([
        deps.releases.latest(plan.repo),
        deps.releases.assets(plan.repo, live.id),
      ]);
      const snap: ReleaseSnapshot = {
        release: { ...live, assets },
        latest: latest ? { id: latest.id, tag: latest.tag } : null,
        takenAt: new Date().toISOString(),
      };
      await ctx.save({ snapshot: snap });
    }
    const snap = snapshotOf(ctx);
    const r = snap.release;
    if (!retractState(ctx).snapshotRecorded) {
      if (!ctx.dryRun) {
        await deps.retractions.put({
          requestId: ctx.request.id,
          service: plan.service,
          tag: r.tag,
          snapshot: snap,
        });
      }
      await deps.audit.append({
        type: 'release.snapshot',
        ...auditContext(ctx.request),
        releaseTag: r.tag,
        details: {
          repo: plan.repo.fullName,
          releaseId: r.id,
          name: r.name,
          draft: r.draft,
          prerelease: r.prerelease,
          immutable: r.immutable,
          latest: snap.latest?.tag ?? null,
          updatedAt: r.updatedAt,
          body: r.body,
          assets: r.assets.map((a) => ({ id: a.id, name: a.name, size: a.size, digest: a.digest })),
        },
      });
      await ctx.save({ snapshotRecorded: true });
    }
    return {
      detail: `Recorded ${r.tag} as it is: pre-release ${yesNo(r.prerelease)}, ${snap.latest?.id === r.id ? 'the latest release' : `latest is ${snap.latest?.tag ?? 'none'}`}, ${plural(r.assets.length, 'asset')} with digests, notes of ${(r.body ?? '').length} characters.`,
    };
  },
};

const banner: Step<RetractPlan, JobDeps> = {
  name: 'banner',
  label: 'Mark it pre-release and put the RETRACTED banner on its notes',
  dryRun: 'skip',
  async run(ctx) {
    const { plan, deps, request } = ctx;
    const snap = snapshotOf(ctx);
    let text = retractState(ctx).banner;
    if (!text) {
      // Names as Slack has them now, read once: the text is saved before the write, so a re-run
      // writes the very same banner whatever Slack answers then.
      const [requesterName, approverName] = await Promise.all([
        deps.people.displayName(request.requester),
        request.approver ? deps.people.displayName(request.approver) : undefined,
      ]);
      text = retractionBanner({
        requestId: request.id,
        at: new Date(),
        requester: request.requester,
        ...(requesterName ? { requesterName } : {}),
        ...(request.approver ? { approver: request.approver } : {}),
        ...(approverName ? { approverName } : {}),
        ...(request.reason ? { reason: request.reason } : {}),
        ...(plan.replacement
          ? { replacement: { tag: plan.replacement.tag, url: plan.replacement.url } }
          : {}),
      });
      await ctx.save({ banner: text });
    }
    const body = withBanner(text, snap.release.body);
    const live = await liveRelease(ctx);
    const by = retractedBy(live.body);
    if (by && by !== request.id) {
      return {
        finish: `already retracted by ${by}; nothing more was changed`,
        detail: `Request \`${by}\` retracted it meanwhile.`,
      };
    }
    if (by === request.id && (live.prerelease || retractState(ctx).flagsRefused)) {
      return { detail: 'Already done by this job: the banner is on and the flags are set.' };
    }
    if (!by && notesDigest(live.body) !== notesDigest(snap.release.body)) {
      throw new StalePlanError(
        `The notes of ${plan.release.tag} were edited after the snapshot; the banner was not added. Nothing was changed.`,
        { hint: 'Run /retract again for a fresh plan.' },
      );
    }
    let refused = retractState(ctx).flagsRefused;
    if (!refused) {
      try {
        await deps.releases.update(plan.repo, plan.release.id, { prerelease: true, body });
      } catch (err) {
        if (!(snap.release.immutable && githubStatus(err) === 422)) throw err;
        refused = said(err);
        await ctx.save({ flagsRefused: refused });
      }
    }
    if (refused) {
      // An immutable release whose flags GitHub keeps locked: the notes stay editable, so the banner still goes on.
      await deps.releases.update(plan.repo, plan.release.id, { body });
      return {
        detail: `:warning: GitHub refused to mark the immutable release pre-release (422: ${refused}). The RETRACTED banner is on its notes.`,
      };
    }
    return {
      detail: `${plan.release.tag} is now a pre-release, with the RETRACTED banner on top of its notes.`,
    };
  },
};

const latest: Step<RetractPlan, JobDeps> = {
  name: 'latest',
  label: 'Move “latest” to the replacement',
  dryRun: 'skip',
  async run(ctx) {
    const { plan, deps } = ctx;
    const tag = plan.release.tag;
    const target = plan.makeLatest;
    if (!target) {
      if (plan.latest && plan.latest.id !== plan.release.id)
        return { detail: `Latest stays ${plan.latest.tag}: ${tag} was not the latest release.` };
      if (!plan.latest) return { detail: 'No release was latest; nothing to move.' };
      const now = await deps.releases.latest(plan.repo);
      const note = `no release could take over as latest${now && now.id !== plan.release.id ? ` (GitHub now shows ${now.tag})` : ''}`;
      await ctx.save({ latestNote: note });
      return { detail: `No eligible release to make latest: ${note}.` };
    }
    const now = await deps.releases.latest(plan.repo);
    if (now?.id === target.id && retractState(ctx).latestSending)
      return { detail: `${target.tag} is the latest release (set by this job).` };
    const replacement = await deps.releases.byId(plan.repo, target.id);
    const why = replacement ? whyNotReplacement(replacement) : 'it was deleted';
    if (why) {
      return latestWarning(
        ctx,
        `${target.tag} could not be made latest: ${why} now${now ? `; GitHub shows ${now.tag} as latest` : ''}`,
      );
    }
    const refused = await makeLatest(
      ctx,
      plan.repo,
      target,
      (said) => `GitHub refused to make ${target.tag} latest (422: ${said})`,
    );
    if (refused) return refused;
    return { detail: `${target.tag} is now the latest release.` };
  },
};

const assets: Step<RetractPlan, JobDeps> = {
  name: 'assets',
  label: 'Delete the assets (only with --delete-assets)',
  dryRun: 'skip',
  async run(ctx) {
    const { plan, deps } = ctx;
    const tag = plan.release.tag;
    const approved = plan.assets;
    if (!plan.deleteAssets)
      return { detail: `Kept all ${plural(approved.length, 'asset')}: --delete-assets was not given.` };
    if (approved.length === 0) return { detail: 'The release has no assets.' };
    const snap = snapshotOf(ctx);
    if (snap.release.immutable) {
      const note = `assets kept: ${tag} is an immutable release and GitHub does not allow deleting its assets`;
      await ctx.save({ assetsNote: note });
      return {
        detail: `:lock: ${tag} is an immutable release: GitHub does not allow deleting its assets, so all ${approved.length} stay. The rest of the retraction went ahead.`,
      };
    }
    const live = await deps.releases.assets(plan.repo, plan.release.id);
    const deleted = [...(retractState(ctx).deleted ?? [])];
    for (const asset of approved) {
      if (deleted.includes(asset.id)) continue;
      if (live.some((a) => a.id === asset.id)) {
        try {
          await deps.releases.deleteAsset(plan.repo, asset.id);
        } catch (err) {
          if (githubStatus(err) !== 422) throw err;
          const note = `assets kept after ${plural(deleted.length, 'deletion')}: GitHub refused (422: ${said(err)})`;
          await ctx.save({ assetsNote: note, deleted });
          return { detail: `:warning: ${note}.` };
        }
      }
      deleted.push(asset.id);
      await ctx.save({ deleted });
      await ctx.progress(`Deleted ${deleted.length} of ${approved.length}: \`${esc(asset.name)}\``);
    }
    const added = live.filter((a) => !approved.some((p) => p.id === a.id));
    return {
      detail: `Deleted ${plural(deleted.length, 'asset')}: ${approved.map((a) => `\`${esc(a.name)}\``).join(', ')}.${added.length ? ` Kept ${added.length} uploaded after the plan (not approved for deletion).` : ''}`,
    };
  },
};

const rollback: Step<RetractPlan, JobDeps> = {
  name: 'rollback',
  label: 'Roll back the environments running the release (only with --rollback)',
  dryRun: 'skip',
  run: (ctx) => rollbackChildren(ctx),
};

export const retractJob: JobDefinition<RetractPlan, JobDeps> = {
  kind: 'retract',
  steps: [snapshot, banner, latest, assets, rollback, report],
  describe: describeRetraction,
  buttons(request): CardButton[] {
    if (request.state !== 'succeeded' || request.dryRun || request.outcome?.startsWith('already')) return [];
    return [
      {
        action: 'undo',
        text: 'Undo retraction',
        confirm: {
          title: 'Undo the retraction?',
          text: `Files a request to restore ${request.plan.release.tag}'s flags, notes and the latest release from the snapshot. It needs its own approval.`,
          confirm: 'File it',
        },
      },
    ];
  },
};
