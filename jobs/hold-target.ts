import { BusyError } from '../src/errors.js';
import type { Step } from '../src/queue/job-definition.js';
import type { JobDeps } from './deps.js';

/**
 * The `lock` step of a mutating job: (re)takes the per-target lock for this request. It was
 * taken when the request was filed; this keeps it across a Retry and says plainly when
 * another request got there first.
 */
export function holdTarget<P>(opts: { refused: string; holding: string }): Step<P, JobDeps> {
  return {
    name: 'lock',
    label: `Hold the service's lock`,
    async run(ctx) {
      const target = ctx.request.target;
      const got = await ctx.deps.locks.acquire(target, ctx.request.id);
      if (!got.ok) {
        throw new BusyError(`${target} is held by request ${got.holder}; ${opts.refused}`, {
          hint: 'Wait for that request to finish, then Retry.',
        });
      }
      return { detail: `Holding ${target}${opts.holding}` };
    },
  };
}
