/**
 * Wakes this process's drainer of a channel when a card is queued for that channel here, so a
 * drainer waiting for Slack's post pace need not keep asking Redis whether one has arrived. A
 * card queued by another replica is still seen by the drainer's slower look (drain.ts).
 */
export class OutboxBell {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Wakes every wait on `channel` now. */
  ring(channel: string): void {
    const waits = this.waiting.get(channel);
    if (!waits) return;
    this.waiting.delete(channel);
    for (const wake of waits) wake();
  }

  /** Resolves after `ms`, or sooner when the channel's bell rings. */
  wait(channel: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waits = this.waiting.get(channel);
      if (!waits) this.waiting.set(channel, (waits = new Set()));
      const set = waits;
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiting.get(channel) === set) this.waiting.delete(channel);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
  }
}
