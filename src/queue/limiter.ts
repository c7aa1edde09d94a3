import { BusyError } from '../errors.js';

export interface LimiterBounds {
  /** Tasks running at once. */
  active: number;
  /** Tasks that may wait for a turn; one more is refused at once. */
  waiting: number;
  /** How long a task may wait for its turn before it is refused (it never starts then). */
  maxWaitMs: number;
}

/**
 * At most `active` tasks at once; up to `waiting` more wait their turn in order, each for at
 * most `maxWaitMs`. Beyond that a task is refused with a BusyError before it starts, so a
 * burst (or a dead dependency holding every slot) never turns into unbounded waiting.
 */
export class Limiter {
  private active = 0;
  private readonly queue: { start: () => void }[] = [];

  constructor(
    private readonly bounds: LimiterBounds,
    /** Words for the refusal: "planning against context prod". */
    private readonly what: string,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.bounds.active) await this.turn();
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.start();
    }
  }

  private turn(): Promise<void> {
    if (this.queue.length >= this.bounds.waiting) return Promise.reject(this.busy());
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) this.queue.splice(at, 1);
        reject(this.busy());
      }, this.bounds.maxWaitMs);
      this.queue.push(entry);
    });
  }

  private busy(): BusyError {
    return new BusyError(
      `backout is busy, try again in a moment — nothing was changed. (${this.active} requests are already ${this.what}, and ${this.queue.length} more are waiting.)`,
      {
        hint: 'Run the command again in a minute; if it keeps happening, `backout doctor` checks each connection.',
      },
    );
  }
}
