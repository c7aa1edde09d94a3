import type { ReleaseSnapshot } from '../src/integrations/github/retractions.js';
import type { ReleaseAsset, RepoRef } from '../src/integrations/github/types.js';
import { esc } from '../src/slack/cards.js';
import { slackDate } from '../src/text/time.js';

export interface ReleaseRef {
  id: number;
  tag: string;
}

/** An environment whose Deployment runs an image carrying the release's tag, when the plan was made. */
export interface RunningEnv {
  environment: string;
  from?: { revision: number; images: string[] };
  /** The newest earlier revision that does not run the tag: where `--rollback` takes it. */
  to?: { revision: number; images: string[] };
  /** Why it cannot be rolled back (no such revision, history unreadable). */
  problem?: string;
}

/** What `/retract <service>@<tag>` will do, computed from live GitHub and Kubernetes state. */
export interface RetractPlan {
  service: string;
  repo: RepoRef;
  release: {
    id: number;
    tag: string;
    name: string | null;
    htmlUrl: string;
    prerelease: boolean;
    immutable: boolean;
    /** SHA-256 of the notes the plan was made from: the job refuses to act if they changed. */
    notesDigest: string;
    notesLength: number;
    updatedAt: string | null;
  };
  assets: ReleaseAsset[];
  /** What GitHub showed as latest when the plan was made. */
  latest: ReleaseRef | null;
  replacement: (ReleaseRef & { url: string; named: boolean }) | null;
  /** Set when the retracted release is the latest: the replacement takes over. */
  makeLatest: ReleaseRef | null;
  deleteAssets: boolean;
  rollback: boolean;
  running: RunningEnv[];
}

/** What `/retract undo <service>@<tag>` will do. */
export interface RetractUndoPlan {
  service: string;
  repo: RepoRef;
  tag: string;
  releaseId: number;
  htmlUrl: string;
  /** The retraction being undone. */
  retraction: string;
  snapshot: ReleaseSnapshot;
  /** The release as the plan saw it: the job refuses to act if it changed. */
  live: { prerelease: boolean; notesDigest: string };
  latestNow: ReleaseRef | null;
  /** Assets the snapshot had that are gone now (deleted by the retraction): not restorable. */
  lostAssets: ReleaseAsset[];
  /** The notes were edited after the retraction: undo puts back the snapshot's notes. */
  editedSince: boolean;
}

export function yesNo(v: boolean): string {
  return v ? 'yes' : 'no';
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function assetLine(a: ReleaseAsset): string {
  const digest = a.digest ? `, \`${a.digest.slice(0, 19)}…\`` : '';
  return `• \`${esc(a.name)}\` (${formatSize(a.size)}${digest})`;
}

const MAX_ASSET_LINES = 10;

function assetLines(assets: ReleaseAsset[]): string[] {
  const lines = assets.slice(0, MAX_ASSET_LINES).map(assetLine);
  if (assets.length > MAX_ASSET_LINES) lines.push(`…and ${assets.length - MAX_ASSET_LINES} more`);
  return lines;
}

/** The plan card of a retraction, in plain words. */
export function describeRetraction(plan: RetractPlan): string[] {
  const r = plan.release;
  const lines = [
    `*Release* <${r.htmlUrl}|${esc(r.tag)}>${r.name && r.name !== r.tag ? ` “${esc(r.name)}”` : ''} of \`${plan.repo.fullName}\`${r.immutable ? ' — *immutable* (tag and assets are locked)' : ''}`,
  ];
  const wasLatest = plan.latest?.id === r.id;
  lines.push(
    `*Flags* pre-release: ${yesNo(r.prerelease)} → *yes* · latest: ${yesNo(wasLatest)} → *no*${r.immutable ? ' (GitHub may refuse flag changes on an immutable release; the banner goes on regardless)' : ''}`,
  );
  if (plan.makeLatest) lines.push(`*Latest* ${esc(r.tag)} → *${esc(plan.makeLatest.tag)}*`);
  else if (wasLatest)
    lines.push('*Latest* no release can take over (none is eligible): GitHub will show no latest release');
  else if (plan.latest)
    lines.push(`*Latest* stays ${esc(plan.latest.tag)} (${esc(r.tag)} is not the latest release)`);
  else lines.push('*Latest* no release is latest now; that stays so');
  lines.push(
    plan.replacement
      ? `*Replacement* ${esc(plan.replacement.tag)} (${plan.replacement.named ? 'named with --replacement' : 'the newest earlier release that is neither draft, pre-release nor retracted'})`
      : '*Replacement* none: no earlier release is eligible, so the banner says there is none yet',
  );
  lines.push(
    `*Notes* a RETRACTED banner (reason, who, when, approver, replacement) goes on top; the ${r.notesLength} characters below it stay as they are`,
  );
  if (plan.assets.length === 0) lines.push('*Assets* none');
  else if (plan.deleteAssets && r.immutable) {
    lines.push(
      `*Assets* all ${plan.assets.length} stay: ${esc(r.tag)} is an immutable release and GitHub does not allow deleting its assets`,
    );
  } else if (plan.deleteAssets) {
    lines.push(`*Assets to delete* (cannot be undone):`, ...assetLines(plan.assets));
  } else {
    lines.push(
      `*Assets* ${plan.assets.length} kept (add --delete-assets to delete them):`,
      ...assetLines(plan.assets),
    );
  }
  if (plan.running.length === 0) lines.push(`*Deployments* no environment runs ${esc(r.tag)}`);
  else {
    lines.push(
      plan.rollback
        ? `*Rollbacks* (one job each, covered by this approval, reported in this thread):`
        : `*Running ${esc(r.tag)}* (add --rollback to roll them back):`,
    );
    for (const env of plan.running) {
      const parts = [`• ${env.environment}:`];
      if (env.from)
        parts.push(`revision ${env.from.revision} (${env.from.images.map((x) => `\`${x}\``).join(', ')})`);
      if (plan.rollback && env.to)
        parts.push(`→ revision ${env.to.revision} (${env.to.images.map((x) => `\`${x}\``).join(', ')})`);
      if (env.problem) parts.push(`— :warning: ${esc(env.problem)}`);
      lines.push(parts.join(' '));
    }
  }
  return lines;
}

/** The plan card of an undo. */
export function describeUndo(plan: RetractUndoPlan): string[] {
  const before = plan.snapshot.release;
  const lines = [
    `*Release* <${plan.htmlUrl}|${esc(plan.tag)}> of \`${plan.repo.fullName}\`, retracted by \`${plan.retraction}\``,
    `*Flags* pre-release: ${yesNo(plan.live.prerelease)} → *${yesNo(before.prerelease)}* (as in the snapshot of ${slackDate(Date.parse(plan.snapshot.takenAt))})`,
    `*Notes* the RETRACTED banner goes; the notes become exactly the ${(before.body ?? '').length} characters the snapshot holds`,
  ];
  if (plan.editedSince) {
    lines.push(
      ':warning: The notes were edited after the retraction; those edits are dropped (copy them first if you need them).',
    );
  }
  const latest = plan.snapshot.latest;
  if (!latest) lines.push('*Latest* no release was latest before the retraction; left as GitHub has it');
  else if (plan.latestNow?.id === latest.id) lines.push(`*Latest* ${esc(latest.tag)} already, as before`);
  else lines.push(`*Latest* ${plan.latestNow ? esc(plan.latestNow.tag) : 'none'} → *${esc(latest.tag)}*`);
  if (plan.lostAssets.length) {
    lines.push(
      `*Not restorable* (deleted by the retraction; upload them again from your build if needed):`,
      ...assetLines(plan.lostAssets),
    );
  }
  return lines;
}
