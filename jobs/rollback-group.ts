import { StalePlanError } from '../src/errors.js';
import { templateFingerprint } from '../src/integrations/kubernetes/undo.js';
import type { JobDefinition, Step, StepContext, StepResult } from '../src/queue/job-definition.js';
import { newRequestId } from '../src/requests/ids.js';
import { isTerminal } from '../src/requests/store.js';
import type { BackoutRequest } from '../src/requests/types.js';
import type { CardButton } from '../src/slack/cards.js';
import type { JobDeps } from './deps.js';
import { holdTarget } from './hold-target.js';
import type { RollbackPlan } from './rollback.js';

/** An ordered rollback of several services: each member is a rollback plan, rolled back in order. */
export interface GroupRollbackPlan {
  group: string;
  members: RollbackPlan[];
  /** Set when this request rolls a finished group rollback forward. */
  rollForwardOf?: string;
}

export type MemberResult = 'done' | 'failed' | 'stale' | 'could not start';

interface GroupState {
  index?: number;
  /** Member index → its rollback's request id (chosen and saved before it is filed). */
  children?: Record<number, string>;
  results?: Record<number, MemberResult>;
  why?: Record<number, string>;
}

type Ctx = StepContext<GroupRollbackPlan, JobDeps>;

const name = (m: RollbackPlan) => `${m.service}/${m.environment}`;

/** Starts and reads the member rollbacks of a group (children of the group's job). */
export interface MemberRollbacks {
  /** Files member `index`'s rollback as request `id`; filing the same id again is a no-op. */
  start(opts: {
    parent: BackoutRequest;
    member: RollbackPlan;
    id: string;
  }): Promise<{ ok: true; title: string } | { ok: false; why: string }>;
  get(id: string): Promise<BackoutRequest | undefined>;
}

/** Each member's state in words, in order: done, failed, not started. */
export function memberLines(plan: GroupRollbackPlan, s: GroupState): string[] {
  return plan.members.map((m, i) => {
    const r = s.results?.[i];
    const id = s.children?.[i] ? ` \`${s.children[i]}\`` : '';
    const why = s.why?.[i] ? ` — ${s.why[i]}` : '';
    if (r === 'done')
      return `${i + 1}. :white_check_mark: ${name(m)} rolled back to revision ${m.to.revision}${id}${why}`;
    if (r) return `${i + 1}. :x: ${name(m)} ${r}${id}${why}`;
    if (s.children?.[i]) return `${i + 1}. :arrows_counterclockwise: ${name(m)} rolling back${id}`;
    return `${i + 1}. :white_circle: ${name(m)} not started`;
  });
}

async function checkMember(ctx: Ctx, m: RollbackPlan): Promise<string | undefined> {
  const { deployment } = await ctx.deps.deployments.history(m.target);
  if (
    deployment.generation === m.from.generation &&
    templateFingerprint(deployment.template) === m.from.template
  )
    return undefined;
  return `the Deployment changed after the plan (generation ${m.from.generation} → ${deployment.generation}, now revision ${deployment.revision})`;
}

const preflight: Step<GroupRollbackPlan, JobDeps> = {
  name: 'preflight',
  label: 'Check every member against the plan',
  async run(ctx) {
    if ((ctx.state as GroupState).index) return { detail: 'Already under way.' };
    const problems: string[] = [];
    for (const m of ctx.plan.members) {
      const why = await checkMember(ctx, m);
      if (why) problems.push(`${name(m)}: ${why}`);
    }
    if (problems.length > 0) {
      throw new StalePlanError(`The plan is stale: ${problems.join('; ')}. Nothing was rolled back.`, {
        hint: `Run /rollback ${ctx.plan.group} again for a fresh plan.`,
      });
    }
    return { detail: `All ${ctx.plan.members.length} members still as planned.` };
  },
};

const lock = holdTarget<GroupRollbackPlan>({
  refused: 'nothing was rolled back.',
  holding: ': no other group rollback of it can start until this one ends.',
});

async function publish(ctx: Ctx, s: GroupState): Promise<void> {
  await ctx.save({ ...s });
  await ctx.deps.statusLine(ctx.request.id, memberLines(ctx.plan, s).join('\n'));
}

function stop(ctx: Ctx, s: GroupState, i: number): StepResult {
  const lines = memberLines(ctx.plan, s);
  const done = Object.values(s.results ?? {}).filter((r) => r === 'done').length;
  const notStarted = ctx.plan.members.length - i - 1;
  return {
    finish: `stopped at ${name(ctx.plan.members[i]!)} (${s.results?.[i]}): ${done} done, 1 failed, ${notStarted} not started`,
    failed: true,
    detail: `${lines.join('\n')}\nThe members after it were left untouched.`,
  };
}

/**
 * One member at a time, in order: check it is still as planned, file its rollback as a child
 * (the ordinary rollback job, approved by this request's approval), wait in BullMQ's
 * waiting-children state, and go on only when it ended healthy. The first failure stops the group.
 */
const members: Step<GroupRollbackPlan, JobDeps> = {
  name: 'members',
  label: 'Roll back each member in order, verifying each before the next',
  dryRun: 'skip',
  async run(ctx) {
    const s = ctx.state as GroupState;
    const state: GroupState = {
      index: s.index ?? 0,
      children: { ...(s.children ?? {}) },
      results: { ...(s.results ?? {}) },
      why: { ...(s.why ?? {}) },
    };
    for (let i = state.index!; i < ctx.plan.members.length; i = state.index!) {
      const m = ctx.plan.members[i]!;
      let id = state.children![i];
      if (!id) {
        const why = await checkMember(ctx, m);
        if (why) {
          state.results![i] = 'stale';
          state.why![i] = `${why}; not rolled back`;
          await publish(ctx, state);
          return stop(ctx, state, i);
        }
        id = newRequestId('rollback');
        state.children![i] = id;
        await publish(ctx, state);
      }
      const started = await ctx.deps.memberRollbacks.start({ parent: ctx.request, member: m, id });
      if (!started.ok) {
        state.results![i] = 'could not start';
        state.why![i] = started.why.split('\n')[0]!;
        await publish(ctx, state);
        return stop(ctx, state, i);
      }
      await ctx.note(
        `member-${i}`,
        `:arrow_forward: ${i + 1}/${ctx.plan.members.length}: started \`${id}\` — ${started.title}.`,
      );
      const r = await ctx.deps.memberRollbacks.get(id);
      if (r && !isTerminal(r.state)) {
        await ctx.progress(
          `${i + 1}/${ctx.plan.members.length}: ${name(m)} — \`${id}\` ${r.state}${r.progress?.current ? `, ${r.progress.current}` : ''}`,
        );
        return { waitChildren: true };
      }
      const healthy = r?.state === 'succeeded' && !/degraded/.test(r.outcome ?? '');
      state.results![i] = healthy ? 'done' : 'failed';
      state.why![i] = r ? `${r.state}${r.outcome ? `: ${r.outcome}` : ''}` : 'its request is gone';
      if (!healthy) {
        await publish(ctx, state);
        return stop(ctx, state, i);
      }
      state.index = i + 1;
      await publish(ctx, state);
    }
    return { detail: memberLines(ctx.plan, state).join('\n') };
  },
};

const report: Step<GroupRollbackPlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    if (ctx.dryRun) return { detail: 'DRY_RUN: nothing was rolled back.' };
    await ctx.save({ outcome: `all ${ctx.plan.members.length} members rolled back and healthy` });
    await ctx.note(
      'outcome',
      `:white_check_mark: Group ${ctx.plan.group}: every member rolled back in order and verified.`,
    );
    return { detail: 'Every member rolled back and verified.' };
  },
};

export const rollbackGroupJob: JobDefinition<GroupRollbackPlan, JobDeps> = {
  kind: 'rollback-group',
  steps: [preflight, lock, members, report],
  describe(plan) {
    return [
      `*Group* \`${plan.group}\`: ${plan.members.length} members, rolled back one after another in this order, each verified before the next; the first failure stops the rest${plan.rollForwardOf ? ` (rolling forward, undoing ${plan.rollForwardOf})` : ''}.`,
      ...plan.members.map(
        (m, i) =>
          `${i + 1}. *${m.service}* in ${m.environment}: revision ${m.from.revision} → ${m.to.revision} (${m.from.images.map((x) => `\`${x.image}\``).join(', ')} → ${m.to.images.map((x) => `\`${x.image}\``).join(', ')})`,
      ),
    ];
  },
  buttons(request): CardButton[] {
    if (request.dryRun || (request.state !== 'succeeded' && request.state !== 'failed')) return [];
    return [
      {
        action: 'undo',
        text: 'Roll the group forward',
        confirm: {
          title: 'Roll the group forward?',
          text: 'Files a new group request that puts every member this one rolled back on its earlier revision again, in reverse order. It needs its own approval.',
          confirm: 'File it',
        },
      },
    ];
  },
};
