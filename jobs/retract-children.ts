import type { StepContext, StepResult } from '../src/queue/job-definition.js';
import { newRequestId } from '../src/requests/ids.js';
import { isTerminal } from '../src/requests/store.js';
import type { BackoutRequest } from '../src/requests/types.js';
import type { JobDeps } from './deps.js';
import type { RetractPlan } from './retract-plan.js';
import { plural } from '../src/text/plural.js';

type Ctx = StepContext<RetractPlan, JobDeps>;

interface ChildState {
  /** Environment → the child rollback's request id (chosen and saved before it is filed). */
  children?: Record<string, string>;
  /** Environment → why its rollback could not start. */
  childFailures?: Record<string, string>;
  childrenFiled?: boolean;
}

/** The first line of a refusal, without its icon. */
function firstLine(text: string): string {
  return text.replace(/^:\w+: /, '').split('\n')[0] ?? text;
}

function childLine(env: string, id: string, r: BackoutRequest | undefined): string {
  if (!r) return `:grey_question: ${env}: rollback \`${id}\` is gone from the record`;
  if (r.state === 'succeeded') {
    const ok = !/degraded/.test(r.outcome ?? '');
    return `${ok ? ':white_check_mark:' : ':warning:'} ${env}: rolled back (\`${id}\`) — *${r.outcome ?? 'done'}*`;
  }
  return `:x: ${env}: rollback \`${id}\` ${r.state}${r.outcome ? ` — ${r.outcome}` : ''}`;
}

/**
 * `--rollback`: one rollback request per environment that runs the release, each filed as a
 * child of this job (approved by this request's approval, its job a BullMQ flow child). The
 * step files them once (ids checkpointed first, so a crash never files one twice), waits in
 * BullMQ's waiting-children state, then reports each outcome in the thread. An environment
 * whose rollback cannot start is reported and the retraction still completes.
 */
export async function rollbackChildren(ctx: Ctx): Promise<StepResult> {
  const { plan, deps, request } = ctx;
  const tag = plan.release.tag;
  const envs = plan.running.map((r) => r.environment);
  if (!plan.rollback) {
    return {
      detail: envs.length
        ? `Not asked to roll back (${envs.join(', ')} ran ${tag} when the plan was made).`
        : `No environment runs ${tag}.`,
    };
  }
  if (envs.length === 0)
    return { detail: `No environment ran ${tag} when the plan was made; nothing to roll back.` };
  const s = ctx.state as ChildState;
  if (!s.childrenFiled) {
    const children = { ...(s.children ?? {}) };
    const failures = { ...(s.childFailures ?? {}) };
    for (const env of envs) {
      if (failures[env]) continue;
      let id = children[env];
      if (!id) {
        id = newRequestId('rollback');
        children[env] = id;
        await ctx.save({ children });
      }
      const started = await deps.childRollbacks.start({ parent: request, environment: env, id, tag });
      if (started.ok) {
        await ctx.note(
          `rollback-start-${env}`,
          `:arrow_forward: Started \`${id}\`: ${started.title}. It runs on its own card in <#${started.channel}>; its outcome will be reported here.`,
        );
      } else {
        delete children[env];
        failures[env] = started.why;
        await ctx.save({ children, childFailures: failures });
        await ctx.note(
          `rollback-${env}`,
          `:warning: The rollback of ${plan.service} in ${env} could not start: ${firstLine(started.why)}`,
        );
      }
    }
    await ctx.save({ childrenFiled: true });
  }
  const children = Object.entries((ctx.state as ChildState).children ?? {});
  const failures = (ctx.state as ChildState).childFailures ?? {};
  const states = await Promise.all(
    children.map(async ([env, id]) => ({ env, id, r: await deps.childRollbacks.get(id) })),
  );
  const pending = states.filter((c) => c.r !== undefined && !isTerminal(c.r.state));
  const awaitingApproval = pending.filter((c) => c.r?.state === 'pending');
  if (awaitingApproval.length > 0) {
    // Rollbacks on cards of their own (this approval did not cover their environment): their
    // jobs do not exist until someone approves them, so look again shortly.
    const line = `Waiting for approval of ${awaitingApproval.map((c) => `${c.env} \`${c.id}\``).join(', ')} on ${awaitingApproval.length === 1 ? 'its own card' : 'their own cards'}: this approval does not cover ${awaitingApproval.length === 1 ? 'that environment' : 'those environments'}.`;
    if ((ctx.state as { lastProgress?: string }).lastProgress !== line) {
      await ctx.save({ lastProgress: line });
      await ctx.progress(line);
    }
    return { again: 10_000 };
  }
  if (pending.length > 0) {
    const line = `Started ${plural(children.length, 'rollback')}: ${states.map((c) => `${c.env} \`${c.id}\` (${c.r?.state ?? 'gone'})`).join(', ')}. Waiting for ${pending.length} to finish.`;
    if ((ctx.state as { lastProgress?: string }).lastProgress !== line) {
      await ctx.save({ lastProgress: line });
      await ctx.progress(line);
    }
    return { waitChildren: true };
  }
  const lines = states.map((c) => childLine(c.env, c.id, c.r));
  for (const [i, c] of states.entries()) await ctx.note(`rollback-${c.env}`, lines[i]!);
  const ok = states.filter((c) => c.r?.state === 'succeeded' && !/degraded/.test(c.r.outcome ?? '')).length;
  const problems = Object.entries(failures).map(([env, why]) => `${env}: ${firstLine(why)}`);
  await ctx.save({ rollbackSummary: { started: children.length, ok, problems } });
  const notStarted = Object.keys(failures);
  return {
    detail: `${ok} of ${plural(envs.length, 'rollback')} ended well${notStarted.length ? `; ${notStarted.join(', ')} could not start` : ''}. Each outcome is reported below.`,
  };
}
