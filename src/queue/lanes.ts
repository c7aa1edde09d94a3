import { Limiter, type LimiterBounds } from './limiter.js';

/**
 * Where a command's slow part runs after its acknowledgement:
 * - `quick`: answers that must never wait behind planning (abort, dialogs whose trigger_id
 *   expires in 3 s, reads of backout's own state);
 * - `plan`: work that reads a cluster or a repository, in a lane of its own per Kubernetes
 *   context or GitHub repo (`key`), so a slow or dead one holds up only the targets on it.
 */
export type Lane = { kind: 'quick' } | { kind: 'plan'; key: string };

export const QUICK: Lane = { kind: 'quick' };

export const LANE_BOUNDS: { quick: LimiterBounds; plan: LimiterBounds } = {
  quick: { active: 32, waiting: 256, maxWaitMs: 10_000 },
  plan: { active: 8, waiting: 256, maxWaitMs: 20_000 },
};

export class CommandLanes {
  private readonly quick: Limiter;
  private readonly plans = new Map<string, Limiter>();

  constructor(private readonly bounds = LANE_BOUNDS) {
    this.quick = new Limiter(bounds.quick, 'being answered');
  }

  run<T>(lane: Lane, task: () => Promise<T>): Promise<T> {
    if (lane.kind === 'quick') return this.quick.run(task);
    let limiter = this.plans.get(lane.key);
    if (!limiter) {
      limiter = new Limiter(this.bounds.plan, `being planned against ${lane.key}`);
      this.plans.set(lane.key, limiter);
    }
    return limiter.run(task);
  }
}
