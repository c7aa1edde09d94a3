import { buildEntry, type DeprecationEntry } from '../src/api-retirement/index.js';
import { BackoutError, BusyError, StalePlanError } from '../src/errors.js';
import type { JobDefinition, Step, StepContext } from '../src/queue/job-definition.js';
import { auditContext } from '../src/queue/step-runner.js';
import type { CardButton } from '../src/slack/cards.js';
import { entryHash, type ApiRetirePlan, type ApiUnretirePlan } from './api-retire-plan.js';
import {
  code,
  describeRetire,
  describeUnretire,
  formatInstant,
  retireAnnouncement,
  UNDO_BUTTON,
  unretireAnnouncement,
} from './api-retire-text.js';
import type { JobDeps } from './deps.js';

type RetireCtx = StepContext<ApiRetirePlan, JobDeps>;
type UnretireCtx = StepContext<ApiUnretirePlan, JobDeps>;

const rerunHint = (service: string) =>
  `Run the command again for a fresh plan; \`/retract api ${service} list\` shows the registry as it is now.`;

/** Re-takes the service's API lock (a Retry runs after the failed run released it). */
async function holdTarget(ctx: StepContext<unknown, JobDeps>, what: string): Promise<void> {
  const { target, id } = ctx.request;
  const got = await ctx.deps.locks.acquire(target, id);
  if (!got.ok) {
    throw new BusyError(
      `${target} is held by request ${got.holder}; this ${what} did not run and nothing was written.`,
      {
        hint: 'Wait for that request to finish, then Retry.',
      },
    );
  }
}

function describeEntry(entry: DeprecationEntry): string {
  return `by <@${entry.createdBy}> in \`${entry.requestId}\`, sunset ${formatInstant(entry.sunset)}`;
}

/** The first line says what happened (it becomes the card's outcome); the second, what is there now. */
function staleMessage(
  service: string,
  id: string,
  planned: DeprecationEntry | undefined,
  current: DeprecationEntry | undefined,
  nothing: string,
): string {
  const what = `${code(id)} of ${service}`;
  const happened =
    !planned && current
      ? `an entry for ${what} was written after this plan was made`
      : planned && !current
        ? `the entry for ${what} was removed after this plan was made`
        : `the entry for ${what} changed after this plan was made`;
  return `The plan is stale: ${happened}. ${nothing}${current ? `\nThe registry now holds an entry written ${describeEntry(current)}.` : ''}`;
}

/** Compares the live entry with the plan's snapshot; this job's own earlier write is not "stale". */
async function checkRetireFresh(ctx: RetireCtx): Promise<'as-planned' | 'already-written'> {
  const { plan } = ctx;
  const current = await ctx.deps.apiRegistry.get(plan.service, plan.id);
  const hash = current && entryHash(current);
  const mine = ctx.state.entry as DeprecationEntry | undefined;
  if (mine && hash === entryHash(mine)) return 'already-written';
  if (hash === plan.previous?.hash) return 'as-planned';
  throw new StalePlanError(
    staleMessage(plan.service, plan.id, plan.previous?.entry, current, 'Nothing was written.'),
    {
      hint: rerunHint(plan.service),
    },
  );
}

function buildFor(ctx: RetireCtx, now: Date): DeprecationEntry {
  const { plan, request } = ctx;
  const built = buildEntry({
    service: plan.service,
    method: plan.method,
    pattern: plan.pattern,
    deprecatedAt: plan.deprecatedAt ?? now,
    sunset: plan.sunset,
    successor: plan.successor,
    policy: plan.policy,
    brownouts: plan.brownouts,
    delay: plan.delay && { from: plan.delay.from ?? now, maxMs: plan.delay.maxMs },
    createdBy: request.requester,
    requestId: request.id,
    createdAt: now,
  });
  if (!built.ok)
    throw new StalePlanError(`The entry is no longer valid: ${built.error}. Nothing was written.`, {
      hint: rerunHint(plan.service),
    });
  return built.entry;
}

/** One `registry.changed` audit record per job, whatever crashes and re-runs happen. */
async function auditChange(
  ctx: StepContext<unknown, JobDeps>,
  change: {
    action: 'put' | 'remove';
    service: string;
    id: string;
    entry?: DeprecationEntry;
    previous?: DeprecationEntry;
    version?: number;
  },
): Promise<void> {
  if (ctx.state.audited) return;
  await ctx.deps.audit.append({
    type: 'registry.changed',
    ...auditContext(ctx.request),
    outcome: change.action === 'remove' ? 'removed' : change.previous ? 'updated' : 'added',
    details: {
      action: change.action,
      entryId: change.id,
      entry: change.entry ?? null,
      previous: change.previous ?? null,
      ...(change.version !== undefined && { registryVersion: change.version }),
    },
  });
  await ctx.save({ audited: true });
}

const retirePreflight: Step<ApiRetirePlan, JobDeps> = {
  name: 'preflight',
  label: 'Check the registry against the plan',
  async run(ctx) {
    await holdTarget(ctx, 'deprecation');
    const fresh = await checkRetireFresh(ctx);
    if (fresh === 'already-written') return { detail: 'Already written by this job.' };
    if (Date.now() >= Date.parse(ctx.plan.sunset)) {
      throw new StalePlanError(
        `The sunset (${formatInstant(ctx.plan.sunset)}) passed before this ran: writing the entry now would answer \`410 Gone\` at once, without the warning the plan promised. Nothing was written.`,
        { hint: 'Run the command again with a later --sunset.' },
      );
    }
    return {
      detail: ctx.plan.previous
        ? `The current entry is still as planned (${describeEntry(ctx.plan.previous.entry)}).`
        : `${code(ctx.plan.id)} still has no entry, as planned.`,
    };
  },
};

const retireWrite: Step<ApiRetirePlan, JobDeps> = {
  name: 'write',
  label: 'Write the entry to the registry',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    const fresh = await checkRetireFresh(ctx);
    let entry = ctx.state.entry as DeprecationEntry | undefined;
    let version = ctx.state.version as number | undefined;
    if (fresh === 'as-planned') {
      if (!entry) {
        entry = buildFor(ctx, new Date());
        // Saved before the write, so a re-run writes the same entry and recognises it.
        await ctx.save({ entry });
      }
      version = await ctx.deps.apiRegistry.put(entry);
      await ctx.save({ version });
    }
    if (!entry) throw new BackoutError('internal', 'the written entry was not checkpointed');
    await auditChange(ctx, {
      action: 'put',
      service: plan.service,
      id: plan.id,
      entry,
      ...(plan.previous && { previous: plan.previous.entry }),
      ...(version !== undefined && { version }),
    });
    return {
      detail: `${code(entry.id)} is in the registry of ${plan.service}${version !== undefined ? ` (version ${version})` : ''}, deprecated since ${formatInstant(entry.deprecatedAt)}. Running services are notified and apply it within a second or two.`,
    };
  },
};

const retireAnnounce: Step<ApiRetirePlan, JobDeps> = {
  name: 'announce',
  label: "Announce it in the service's channel",
  dryRun: 'skip',
  async run(ctx) {
    const channel = ctx.plan.announceChannel;
    if (!channel) return { detail: 'No channel is configured for this service, so nothing was announced.' };
    const entry = ctx.state.entry as DeprecationEntry | undefined;
    if (!entry) throw new BackoutError('internal', 'the written entry was not checkpointed');
    await ctx.deps.notifier.post(
      `${ctx.request.id}.announce`,
      channel,
      retireAnnouncement(entry, {
        requester: ctx.request.requester,
        ...(ctx.request.approver && { approver: ctx.request.approver }),
        requestId: ctx.request.id,
        updated: ctx.plan.previous !== undefined,
      }),
    );
    return { detail: `Announced in <#${channel}>.` };
  },
};

const retireScheduleWarnings: Step<ApiRetirePlan, JobDeps> = {
  name: 'schedule-warnings',
  label: 'Schedule the reminders before each brownout and the sunset',
  dryRun: 'skip',
  async run(ctx) {
    const channel = ctx.plan.announceChannel;
    if (!channel)
      return { detail: 'No channel is configured for this service, so no reminders are scheduled.' };
    const entry = ctx.state.entry as DeprecationEntry | undefined;
    if (!entry) throw new BackoutError('internal', 'the written entry was not checkpointed');
    const count = await ctx.deps.apiWarnings.schedule(entry, channel);
    return {
      detail:
        count === 0
          ? 'No reminders are ahead (every reminder time has already passed).'
          : `${count} reminder${count === 1 ? '' : 's'} scheduled in <#${channel}> before the brownouts and the sunset.`,
    };
  },
};

const retireReport: Step<ApiRetirePlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.dryRun) {
      await ctx.save({ outcome: 'dry run: nothing was written' });
      return {
        detail: `DRY_RUN: would have written ${code(plan.id)} to the registry of ${plan.service}. Nothing was changed.`,
      };
    }
    const outcome = plan.previous ? 'deprecation updated' : 'deprecated';
    await ctx.save({ outcome });
    await ctx.note(
      'outcome',
      `:white_check_mark: ${code(plan.id)} of ${plan.service} is deprecated: callers get \`Deprecation\` and \`Sunset\` headers from now on, and \`410 Gone\` from ${formatInstant(plan.sunset)}. See who still calls it with \`/retract api ${plan.service} usage\`.`,
    );
    return { detail: `Outcome: ${outcome}.` };
  },
};

export const apiRetireJob: JobDefinition<ApiRetirePlan, JobDeps> = {
  kind: 'api-retire',
  steps: [retirePreflight, retireWrite, retireAnnounce, retireScheduleWarnings, retireReport],
  describe: describeRetire,
  buttons(request): CardButton[] {
    return request.state === 'succeeded' && !request.dryRun ? [UNDO_BUTTON] : [];
  },
};

/** For the undo: whether the planned entry is still there, unchanged. */
async function checkUnretireFresh(ctx: UnretireCtx): Promise<'as-planned' | 'already-removed' | 'gone'> {
  const { plan } = ctx;
  const current = await ctx.deps.apiRegistry.get(plan.service, plan.id);
  if (!current) return ctx.state.removing ? 'already-removed' : 'gone';
  if (entryHash(current) === plan.previous.hash) return 'as-planned';
  throw new StalePlanError(
    staleMessage(plan.service, plan.id, plan.previous.entry, current, 'Nothing was removed.'),
    {
      hint: rerunHint(plan.service),
    },
  );
}

const GONE = 'no-op: the entry was already removed';

const unretirePreflight: Step<ApiUnretirePlan, JobDeps> = {
  name: 'preflight',
  label: 'Check the registry against the plan',
  async run(ctx) {
    await holdTarget(ctx, 'removal');
    const fresh = await checkUnretireFresh(ctx);
    if (fresh === 'gone') {
      return {
        finish: GONE,
        detail: `${code(ctx.plan.id)} is no longer in the registry of ${ctx.plan.service}; nothing to remove.`,
      };
    }
    return {
      detail: fresh === 'as-planned' ? 'The entry is still as planned.' : 'Already removed by this job.',
    };
  },
};

const unretireRemove: Step<ApiUnretirePlan, JobDeps> = {
  name: 'remove',
  label: 'Remove the entry from the registry',
  dryRun: 'skip',
  async run(ctx) {
    const { plan } = ctx;
    const fresh = await checkUnretireFresh(ctx);
    if (fresh === 'gone')
      return { finish: GONE, detail: `${code(plan.id)} was removed by someone else meanwhile.` };
    if (fresh === 'as-planned') {
      await ctx.save({ removing: true });
      await ctx.deps.apiRegistry.remove(plan.service, plan.id);
    }
    await auditChange(ctx, {
      action: 'remove',
      service: plan.service,
      id: plan.id,
      previous: plan.previous.entry,
    });
    return {
      detail: `${code(plan.id)} is out of the registry of ${plan.service}. Running services are notified and stop deprecating it within a second or two.`,
    };
  },
};

const unretireAnnounce: Step<ApiUnretirePlan, JobDeps> = {
  name: 'announce',
  label: "Announce it in the service's channel",
  dryRun: 'skip',
  async run(ctx) {
    const channel = ctx.plan.announceChannel;
    if (!channel) return { detail: 'No channel is configured for this service, so nothing was announced.' };
    await ctx.deps.notifier.post(
      `${ctx.request.id}.announce`,
      channel,
      unretireAnnouncement(ctx.plan.previous.entry, {
        requester: ctx.request.requester,
        ...(ctx.request.approver && { approver: ctx.request.approver }),
        requestId: ctx.request.id,
      }),
    );
    return { detail: `Announced in <#${channel}>.` };
  },
};

const unretireReport: Step<ApiUnretirePlan, JobDeps> = {
  name: 'report',
  label: 'Report the outcome',
  async run(ctx) {
    const { plan } = ctx;
    if (ctx.dryRun) {
      await ctx.save({ outcome: 'dry run: nothing was removed' });
      return {
        detail: `DRY_RUN: would have removed ${code(plan.id)} from the registry of ${plan.service}. Nothing was changed.`,
      };
    }
    await ctx.save({ outcome: 'deprecation removed' });
    await ctx.note(
      'outcome',
      `:white_check_mark: ${code(plan.id)} of ${plan.service} is no longer deprecated.`,
    );
    return { detail: 'Outcome: deprecation removed.' };
  },
};

export const apiUnretireJob: JobDefinition<ApiUnretirePlan, JobDeps> = {
  kind: 'api-unretire',
  steps: [unretirePreflight, unretireRemove, unretireAnnounce, unretireReport],
  describe: describeUnretire,
};
