import type { Step } from '../src/queue/job-definition.js';
import type { JobDeps } from './deps.js';
import type { RetractPlan } from './retract-plan.js';
import { retractState, type Ctx } from './retract-state.js';
import { plural } from '../src/text/plural.js';

function outcomeOf(ctx: Ctx): string {
  const s = retractState(ctx);
  const parts = ['retracted'];
  if (s.flagsRefused) parts.push(`could not mark it pre-release (GitHub: ${s.flagsRefused})`);
  if (s.latestNote) parts.push(s.latestNote);
  if (s.assetsNote) parts.push(s.assetsNote);
  else if (s.deleted?.length) parts.push(`${plural(s.deleted.length, 'asset')} deleted`);
  const r = s.rollbackSummary;
  if (r) {
    const total = ctx.plan.running.length;
    if (r.started < total)
      parts.push(`${total - r.started} of ${total} rollbacks could not start: ${r.problems.join('; ')}`);
    else if (r.ok < r.started) parts.push(`${r.started - r.ok} of ${r.started} rollbacks did not end well`);
    else parts.push(`${plural(r.started, 'rollback')} done`);
  }
  const text = parts.join('; ');
  return text.length > 280 ? `${text.slice(0, 279)}…` : text;
}

export const report: Step<RetractPlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan } = ctx;
    const r = plan.release;
    if (ctx.dryRun) {
      await ctx.save({ outcome: 'dry run: nothing was changed' });
      return {
        detail: `DRY_RUN: would have marked ${r.tag} pre-release, put the banner on${plan.makeLatest ? `, made ${plan.makeLatest.tag} latest` : ''}${plan.deleteAssets ? `, deleted ${plural(plan.assets.length, 'asset')}` : ''}${plan.rollback ? `, rolled back ${plural(plan.running.length, 'environment')}` : ''}. Nothing was changed.`,
      };
    }
    const outcome = outcomeOf(ctx);
    await ctx.save({ outcome });
    const s = retractState(ctx);
    const clean = !s.flagsRefused && !s.latestNote && !s.assetsNote?.startsWith('assets kept after');
    const lines = [
      `${clean ? ':white_check_mark:' : ':warning:'} <${r.htmlUrl}|${plan.service} ${r.tag}> is retracted: ${s.flagsRefused ? 'still not a pre-release (GitHub refused), ' : 'a pre-release now, '}RETRACTED banner on its notes${plan.makeLatest && !s.latestNote ? `, ${plan.makeLatest.tag} is the latest release` : ''}.`,
    ];
    if (s.latestNote) lines.push(`• ${s.latestNote}.`);
    if (s.assetsNote) lines.push(`• ${s.assetsNote}.`);
    else if (s.deleted?.length)
      lines.push(`• ${plural(s.deleted.length, 'asset')} deleted (not restorable).`);
    else lines.push('• Assets untouched.');
    if (s.rollbackSummary) lines.push(`• Rollbacks: ${outcome.split('; ').pop() ?? ''}.`);
    lines.push(`Undo with \`/retract undo ${plan.service}@${r.tag}\` or the button on the card.`);
    await ctx.note('outcome', lines.join('\n'));
    return { detail: `Outcome: ${outcome}.` };
  },
};
