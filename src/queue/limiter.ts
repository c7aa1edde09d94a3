/**
 * At most `limit` tasks at once; the rest wait their turn in order. Used to keep a burst of
 * commands' slow work (Kubernetes and GitHub reads) from crowding out the acknowledgements
 * of the requests still arriving.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
