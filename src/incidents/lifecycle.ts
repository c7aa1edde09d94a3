import type { BackoutRequest } from '../requests/types.js';

/**
 * What happens around a job, not in it: told when a job starts (after `job.started` is recorded)
 * and when it ends (after `job.succeeded` / `job.failed`). Listeners bound their own outbound calls.
 */
export interface JobLifecycle {
  started(request: BackoutRequest): Promise<void>;
  ended(request: BackoutRequest): Promise<void>;
}

/** Tells every listener, in order; one failing does not keep the next from being told. */
export function lifecycles(...all: JobLifecycle[]): JobLifecycle {
  const each = async (what: 'started' | 'ended', request: BackoutRequest) => {
    const errors: unknown[] = [];
    for (const l of all) await l[what](request).catch((err: unknown) => errors.push(err));
    if (errors.length) throw errors[0];
  };
  return { started: (r) => each('started', r), ended: (r) => each('ended', r) };
}
