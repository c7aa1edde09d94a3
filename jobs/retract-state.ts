import { StalePlanError } from '../src/errors.js';
import { githubStatus, gitHubMessage } from '../src/integrations/github/errors.js';
import type { ReleaseSnapshot } from '../src/integrations/github/retractions.js';
import type { Release, RepoRef } from '../src/integrations/github/types.js';
import type { StepContext } from '../src/queue/job-definition.js';
import type { JobDeps } from './deps.js';
import type { RetractPlan } from './retract-plan.js';

export type Ctx = StepContext<RetractPlan, JobDeps>;

/** Checkpoints of a retraction job (kept in the BullMQ job across retries and crashes). */
export interface RetractState {
  snapshot?: ReleaseSnapshot;
  snapshotRecorded?: boolean;
  /** The banner text (Slack names included), fixed once so a re-run writes the very same notes. */
  banner?: string;
  /** GitHub's words when it refused the pre-release flag (immutable release). */
  flagsRefused?: string;
  latestSending?: boolean;
  latestNote?: string;
  deleted?: number[];
  assetsNote?: string;
  rollbackSummary?: { started: number; ok: number; problems: string[] };
  outcome?: string;
}

export function retractState(ctx: { state: Record<string, unknown> }): RetractState {
  return ctx.state;
}

/** What GitHub said, from an error that may wrap octokit's. */
export function said(err: unknown): string {
  return gitHubMessage(err instanceof Error && err.cause ? err.cause : err);
}

export async function liveRelease(ctx: Ctx): Promise<Release> {
  const { plan } = ctx;
  const live = await ctx.deps.releases.byId(plan.repo, plan.release.id);
  if (!live) {
    throw new StalePlanError(
      `Release ${plan.release.tag} no longer exists in ${plan.repo.fullName} (it was deleted after the plan was made). Nothing more was changed.`,
    );
  }
  return live;
}

export function snapshotOf(ctx: Ctx): ReleaseSnapshot {
  const snap = retractState(ctx).snapshot;
  if (!snap) throw new Error('the snapshot step has not run');
  return snap;
}

/**
 * Records why "latest" could not be set (kept for the card and the report) and returns the
 * step's warning. Shared by the retraction and its undo.
 */
export async function latestWarning(
  ctx: StepContext<unknown, JobDeps>,
  note: string,
): Promise<{ detail: string }> {
  await ctx.save({ latestNote: note });
  return { detail: `:warning: ${note}.` };
}

/**
 * Marks a release latest, noting first that this job is sending it (so a re-run after a
 * crash recognises its own write). A 422 from GitHub is a warning, not a failure: the
 * returned detail says what GitHub refused; undefined means the release is latest now.
 */
export async function makeLatest(
  ctx: StepContext<unknown, JobDeps>,
  repo: RepoRef,
  release: { id: number; tag: string },
  refusedAs: (said: string) => string,
): Promise<{ detail: string } | undefined> {
  await ctx.save({ latestSending: true });
  try {
    await ctx.deps.releases.update(repo, release.id, { makeLatest: 'true' });
    return undefined;
  } catch (err) {
    if (githubStatus(err) !== 422) throw err;
    return latestWarning(ctx, refusedAs(said(err)));
  }
}
