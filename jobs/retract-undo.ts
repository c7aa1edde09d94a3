import { StalePlanError } from '../src/errors.js';
import { notesDigest } from '../src/integrations/github/banner.js';
import { githubStatus } from '../src/integrations/github/errors.js';
import type { Release } from '../src/integrations/github/types.js';
import type { JobDefinition, Step, StepContext } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import type { JobDeps } from './deps.js';
import { assetLine, describeUndo, yesNo, type RetractUndoPlan } from './retract-plan.js';
import { latestWarning, makeLatest, said } from './retract-state.js';
import { plural } from '../src/text/plural.js';

export type { RetractUndoPlan } from './retract-plan.js';

type Ctx = StepContext<RetractUndoPlan, JobDeps>;

interface UndoState {
  restoring?: boolean;
  flagsRefused?: string;
  latestSending?: boolean;
  latestNote?: string;
  recorded?: boolean;
  outcome?: string;
}

function undoState(ctx: Ctx): UndoState {
  return ctx.state;
}

async function liveRelease(ctx: Ctx): Promise<Release> {
  const live = await ctx.deps.releases.byId(ctx.plan.repo, ctx.plan.releaseId);
  if (!live) {
    throw new StalePlanError(
      `Release ${ctx.plan.tag} no longer exists in ${ctx.plan.repo.fullName}, so there is nothing to restore. Nothing was changed.`,
    );
  }
  return live;
}

const check: Step<RetractUndoPlan, JobDeps> = {
  name: 'check',
  label: 'Check the release against the plan',
  async run(ctx) {
    const { plan } = ctx;
    const live = await liveRelease(ctx);
    const before = plan.snapshot.release;
    if (undoState(ctx).restoring && notesDigest(live.body) === notesDigest(before.body)) {
      return { detail: 'Already restored by this job.' };
    }
    if (live.prerelease !== plan.live.prerelease || notesDigest(live.body) !== plan.live.notesDigest) {
      throw new StalePlanError(
        `The plan is stale: ${plan.tag} changed on GitHub after the undo was planned (pre-release ${yesNo(plan.live.prerelease)} → ${yesNo(live.prerelease)}${notesDigest(live.body) !== plan.live.notesDigest ? ', notes edited' : ''}). Nothing was changed.`,
        { hint: `Run /retract undo ${plan.service}@${plan.tag} again for a fresh plan.` },
      );
    }
    return { detail: `${plan.tag} is as planned: retracted by \`${plan.retraction}\`.` };
  },
};

const restore: Step<RetractUndoPlan, JobDeps> = {
  name: 'restore',
  label: 'Restore the flags and notes from the snapshot',
  dryRun: 'skip',
  async run(ctx) {
    const { plan, deps } = ctx;
    const before = plan.snapshot.release;
    const live = await liveRelease(ctx);
    const s = undoState(ctx);
    const notesDone = notesDigest(live.body) === notesDigest(before.body);
    if (notesDone && (live.prerelease === before.prerelease || s.flagsRefused)) {
      return { detail: 'Already as in the snapshot (restored by this job).' };
    }
    await ctx.save({ restoring: true });
    const name = live.name !== before.name && before.name !== null ? { name: before.name } : {};
    let refused = s.flagsRefused;
    if (!refused) {
      try {
        await deps.releases.update(plan.repo, plan.releaseId, {
          body: before.body,
          prerelease: before.prerelease,
          ...name,
        });
      } catch (err) {
        if (!(before.immutable && githubStatus(err) === 422)) throw err;
        refused = said(err);
        await ctx.save({ flagsRefused: refused });
      }
    }
    if (refused) {
      await deps.releases.update(plan.repo, plan.releaseId, { body: before.body, ...name });
      return {
        detail: `:warning: GitHub refused to change the pre-release flag of the immutable release (422: ${refused}). The notes are restored.`,
      };
    }
    return {
      detail: `Pre-release ${yesNo(before.prerelease)} and the notes (${(before.body ?? '').length} characters) are back as in the snapshot.`,
    };
  },
};

const latest: Step<RetractUndoPlan, JobDeps> = {
  name: 'latest',
  label: 'Restore the previous latest release',
  dryRun: 'skip',
  async run(ctx) {
    const { plan, deps } = ctx;
    const want = plan.snapshot.latest;
    if (!want) return { detail: 'No release was latest before the retraction; left as GitHub has it.' };
    const now = await deps.releases.latest(plan.repo);
    if (now?.id === want.id) {
      return {
        detail: `${want.tag} is the latest release${undoState(ctx).latestSending ? ' (set by this job)' : ''}.`,
      };
    }
    const rel = await deps.releases.byId(plan.repo, want.id);
    const why = !rel
      ? 'it was deleted'
      : rel.draft
        ? 'it is a draft'
        : rel.prerelease
          ? 'it is a pre-release'
          : undefined;
    if (why) return latestWarning(ctx, `${want.tag} could not be made latest again: ${why}`);
    const refused = await makeLatest(
      ctx,
      plan.repo,
      want,
      (said) => `GitHub refused to make ${want.tag} latest again (422: ${said})`,
    );
    if (refused) return refused;
    return { detail: `${want.tag} is the latest release again${now ? ` (was ${now.tag})` : ''}.` };
  },
};

const report: Step<RetractUndoPlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan, deps } = ctx;
    if (ctx.dryRun) {
      await ctx.save({ outcome: 'dry run: nothing was changed' });
      return { detail: `DRY_RUN: would have restored ${plan.tag} from the snapshot. Nothing was changed.` };
    }
    const s = undoState(ctx);
    if (!s.recorded) {
      const record = await deps.retractions.get(plan.service, plan.tag);
      if (record?.requestId === plan.retraction)
        await deps.retractions.put({ ...record, undoneBy: ctx.request.id });
      await deps.audit.append({
        type: 'job.undone',
        ...auditContext(ctx.request),
        releaseTag: plan.tag,
        details: { undid: plan.retraction, lostAssets: plan.lostAssets.map((a) => a.name) },
      });
      await ctx.save({ recorded: true });
    }
    const parts = ['restored'];
    if (s.flagsRefused) parts.push(`pre-release flag kept by GitHub (${s.flagsRefused})`);
    if (s.latestNote) parts.push(s.latestNote);
    if (plan.lostAssets.length)
      parts.push(`${plural(plan.lostAssets.length, 'deleted asset')} could not be restored`);
    const outcome = parts.join('; ');
    await ctx.save({ outcome: outcome.length > 280 ? `${outcome.slice(0, 279)}…` : outcome });
    const lines = [
      `${parts.length === 1 ? ':white_check_mark:' : ':warning:'} <${plan.htmlUrl}|${plan.service} ${plan.tag}> is restored as it was before \`${plan.retraction}\`: pre-release ${yesNo(plan.snapshot.release.prerelease)}, notes without the banner${plan.snapshot.latest && !s.latestNote ? `, ${plan.snapshot.latest.tag} is the latest release` : ''}.`,
    ];
    if (s.latestNote) lines.push(`• ${s.latestNote}.`);
    if (plan.lostAssets.length) {
      lines.push('Not restorable (deleted by the retraction):', ...plan.lostAssets.map(assetLine));
    }
    await ctx.note('outcome', lines.join('\n'));
    return { detail: `Outcome: ${outcome}.` };
  },
};

export const retractUndoJob: JobDefinition<RetractUndoPlan, JobDeps> = {
  kind: 'retract-undo',
  steps: [check, restore, latest, report],
  describe: describeUndo,
};
