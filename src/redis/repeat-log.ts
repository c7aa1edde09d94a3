import type { Logger } from '../observability/logger.js';

/**
 * Logs a repeating error once per window: the first occurrence at once, then one summary line
 * with how many times it came back. An error storm (a worker loop answered MOVED thousands of
 * times a second) then costs a line every few seconds, and nothing is hidden.
 */
export class RepeatLog {
  private readonly seen = new Map<string, { count: number; fields: Record<string, unknown>; msg: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 10_000,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const err = typeof fields.err === 'string' ? fields.err : '';
    // Slot numbers, addresses and ids vary within one storm; the kind of error does not.
    const key = `${msg}|${JSON.stringify({ ...fields, err: err.replace(/\d+/g, '#').slice(0, 120) })}`;
    const entry = this.seen.get(key);
    if (entry) {
      entry.count++;
      entry.fields = fields;
      return;
    }
    this.seen.set(key, { count: 0, fields, msg });
    this.log.warn(fields, msg);
    this.timer ??= setInterval(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  /** Writes the summaries of the window that ended and starts a new one. */
  flush(): void {
    for (const [key, e] of this.seen) {
      if (e.count > 0) {
        this.log.warn(
          { ...e.fields, repeated: e.count, windowMs: this.windowMs },
          `${e.msg} (repeated ${e.count} times in the last ${Math.round(this.windowMs / 1000)}s)`,
        );
        e.count = 0;
      } else this.seen.delete(key);
    }
    if (this.seen.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    this.flush();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
