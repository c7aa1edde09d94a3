import { StalePlanError } from '../src/errors.js';
import {
  describeSetting,
  sameSetting,
  type Setting,
  type SwitchTarget,
} from '../src/integrations/flags/index.js';
import type { JobDefinition, Step, StepContext } from '../src/queue/job-definition.js';
import type { CardButton } from '../src/slack/cards.js';
import type { JobDeps } from './deps.js';
import { holdTarget } from './hold-target.js';

/** One switch the plan changes: a flag key or a CronJob name, as it was and as it will be. */
export interface SwitchItem {
  name: string;
  before: Setting;
  after: Setting;
}

export interface FlagPlan {
  service: string;
  environment: string;
  /** A feature flag, or the environment's CronJobs. */
  what: 'flag' | 'cronjobs';
  target: SwitchTarget;
  direction: 'off' | 'on';
  items: SwitchItem[];
  /** The flag's live state in the service's other environments when planned (not changed). */
  elsewhere?: { environment: string; state: string }[];
  /** Set when this request puts back what an earlier one changed (the card's Undo). */
  undoOf?: string;
}

type Ctx = StepContext<FlagPlan, JobDeps>;

function subject(plan: FlagPlan): string {
  return plan.what === 'flag' ? `flag \`${plan.items[0]?.name}\`` : 'CronJobs';
}

/**
 * Re-reads every switch. One that is neither as planned nor already set by this job (its name is
 * checkpointed before each write) makes the plan stale: nobody approved acting on that state.
 */
async function checkFresh(ctx: Ctx): Promise<Setting[]> {
  const { plan } = ctx;
  const provider = ctx.deps.switches.get(plan.target.provider);
  const written = new Set((ctx.state.written as string[] | undefined) ?? []);
  const live = await Promise.all(plan.items.map((i) => provider.read(plan.target, i.name)));
  plan.items.forEach((item, n) => {
    const now = live[n]!;
    if (sameSetting(now, item.before)) return;
    if (written.has(item.name) && sameSetting(now, item.after)) return;
    throw new StalePlanError(
      `The plan is stale: ${plan.what === 'flag' ? 'flag' : 'CronJob'} \`${item.name}\` in ${provider.describe(plan.target)} is now ${describeSetting(now)}, but the plan was made when it was ${describeSetting(item.before)}. Someone changed it since; nothing was switched.`,
      {
        hint: `Run \`/flag ${plan.service} ${plan.what === 'flag' ? item.name : 'cronjobs'} --env ${plan.environment} status\` and decide again.`,
      },
    );
  });
  return live;
}

const preflight: Step<FlagPlan, JobDeps> = {
  name: 'preflight',
  label: 'Check the live state against the plan',
  async run(ctx) {
    await checkFresh(ctx);
    return { detail: `${subject(ctx.plan)} still as planned.` };
  },
};

const lock = holdTarget<FlagPlan>({
  refused: 'nothing was switched.',
  holding: ': no other request can switch it until this one ends.',
});

const apply: Step<FlagPlan, JobDeps> = {
  name: 'apply',
  label: 'Switch it',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    const provider = ctx.deps.switches.get(plan.target.provider);
    const live = await checkFresh(ctx);
    const written = new Set((ctx.state.written as string[] | undefined) ?? []);
    const lines: string[] = [];
    for (const [n, item] of plan.items.entries()) {
      if (sameSetting(live[n]!, item.after)) {
        lines.push(`\`${item.name}\`: already ${describeSetting(item.after)}`);
        continue;
      }
      // Recorded before the write, so a re-run after a crash recognises the change as its own.
      written.add(item.name);
      await ctx.save({ written: [...written] });
      const now = await provider.write(
        plan.target,
        item.name,
        item.after,
        ctx.request.reason ?? ctx.request.title,
      );
      lines.push(`\`${item.name}\`: ${describeSetting(item.before)} → ${describeSetting(now)}`);
    }
    return { detail: `${provider.describe(plan.target)}:\n${lines.join('\n')}` };
  },
};

const confirm: Step<FlagPlan, JobDeps> = {
  name: 'confirm',
  label: 'Read it back from the provider',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    const provider = ctx.deps.switches.get(plan.target.provider);
    const live = await Promise.all(plan.items.map((i) => provider.read(plan.target, i.name)));
    const wrong = plan.items.filter((item, n) => !sameSetting(live[n]!, item.after));
    if (wrong.length > 0) {
      const shown = wrong
        .map((w) => `\`${w.name}\` is ${describeSetting(live[plan.items.indexOf(w)]!)}`)
        .join(', ');
      throw new StalePlanError(
        `${provider.describe(plan.target)} does not show what was written: ${shown}. Someone or something changed it right after; check it before relying on this mitigation.`,
      );
    }
    return {
      detail: `${provider.describe(plan.target)} shows ${plan.items.map((i) => `\`${i.name}\` ${describeSetting(i.after)}`).join(', ')}.`,
    };
  },
};

const report: Step<FlagPlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.dryRun) return { detail: 'DRY_RUN: nothing was switched.' };
    const verb =
      plan.what === 'flag'
        ? plan.direction === 'off'
          ? 'turned off'
          : 'turned on'
        : plan.direction === 'off'
          ? 'suspended'
          : 'resumed';
    await ctx.note(
      'outcome',
      `:white_check_mark: ${subject(plan)} of ${plan.service} in ${plan.environment} ${verb}${plan.what === 'cronjobs' ? ` (${plan.items.map((i) => `\`${i.name}\``).join(', ')})` : ''}. The card's Undo puts back exactly what was there before.`,
    );
    return { detail: `${subject(plan)} ${verb}.` };
  },
};

export const flagJob: JobDefinition<FlagPlan, JobDeps> = {
  kind: 'flag',
  steps: [preflight, lock, apply, confirm, report],
  describe(plan) {
    const provider = plan.target;
    const lines = [
      `*${plan.what === 'flag' ? 'Flag' : 'CronJobs'}* in ${plan.what === 'flag' ? `${provider.provider} (${provider.project ? `project \`${provider.project}\`, ` : ''}environment \`${provider.environment}\`${provider.featureFlag ? `, FeatureFlag \`${provider.namespace}/${provider.featureFlag}\`` : ''})` : `\`${provider.namespace}\` (context \`${provider.context}\`)`}${plan.undoOf ? ` — undoing ${plan.undoOf}` : ''}`,
    ];
    for (const item of plan.items) {
      const same = sameSetting(item.before, item.after);
      lines.push(
        `• ${plan.environment}: \`${item.name}\` ${describeSetting(item.before)} → ${describeSetting(item.after)}${same ? ' (already so, unchanged)' : ''}`,
      );
      if (item.before.caveat) lines.push(`:warning: ${item.before.caveat}.`);
    }
    for (const e of plan.elsewhere ?? []) lines.push(`• ${e.environment}: ${e.state} _(not changed)_`);
    lines.push(
      `Undo restores ${plan.items.map((i) => `\`${i.name}\` ${describeSetting(i.before)}`).join(', ')}.`,
    );
    return lines;
  },
  buttons(request): CardButton[] {
    if (request.state !== 'succeeded' || request.dryRun) return [];
    const plan = request.plan;
    const back = plan.direction === 'off' ? 'on' : 'off';
    const text =
      plan.what === 'flag'
        ? `Undo: turn ${plan.items[0]?.name} back ${back}`
        : back === 'on'
          ? 'Undo: resume CronJobs'
          : 'Undo: suspend CronJobs';
    return [
      {
        action: 'undo',
        text,
        confirm: {
          title: 'Undo?',
          text: `Files a request that restores ${plan.items.map((i) => `${i.name} ${i.before.on ? 'on' : 'off'}`).join(', ')} exactly as before. It follows the policy for turning things ${back}.`,
          confirm: 'File it',
        },
      },
    ];
  },
};
