import { OverriddenError } from '../src/errors.js';
import { writerInWords } from '../src/integrations/traffic/last-writer.js';
import { closeGate, provider, show, type Ctx, type Walk } from './canary-shared.js';

/**
 * Stops the canary as "overridden" when the live split is not what backout left it at: someone
 * (a person, a pipeline, a GitOps controller) edited the Ingress, HTTPRoute or Rollout meanwhile.
 * backout then changes nothing more — fighting another writer would hide the change — and names
 * who wrote last, from the object's managedFields. `expected`: the canary weights backout may
 * have left in place ('any' while a Rollout's controller moves them itself).
 */
export async function guardSplit(ctx: Ctx, w: Walk, expected: number[] | 'any'): Promise<void> {
  const { plan } = ctx;
  const p = provider(ctx);
  const live = await p.read(plan.target);
  const moved: string[] = [];
  if (expected !== 'any' && !expected.includes(live.weight)) {
    moved.push(
      `${live.weight} % of traffic goes to the canary, not the ${[...new Set(expected)].join(' or ')} % backout set`,
    );
  }
  if (plan.target.provider === 'argo-rollouts') {
    if (live.aborted) moved.push('the Rollout was aborted (status.abort)');
    const image = live.canaryImage ?? live.stableImage;
    if (image && image !== plan.image)
      moved.push(`its pod template now runs \`${image}\`, not \`${plan.image}\``);
  }
  if (moved.length === 0) return;
  const who = writerInWords(await p.lastWriter(plan.target));
  const text = `${p.describe(plan.target)} was changed behind backout's back: ${moved.join('; ')}. Last written by ${who}. backout stopped and changed nothing more, so traffic stays as that change left it (${live.summary}).`;
  if (w.gateSince !== undefined && !ctx.state.promotionIndex)
    await closeGate(ctx, `:leftwards_arrow_with_hook: Overridden: ${text}`);
  await show(ctx, w, 'finished', `:leftwards_arrow_with_hook: Overridden by ${who}.`);
  throw new OverriddenError(text, {
    hint: `Find out why it was changed. \`/canary ${plan.service} --env ${plan.environment} status\` shows where traffic is; \`/canary ${plan.service} --env ${plan.environment} abort\` returns all of it to stable.`,
  });
}
