/** Polls `probe` until it returns a value other than undefined/false, or throws after the deadline. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: {
    timeoutMs?: number;
    intervalMs?: number;
    what?: string;
    /** Checked before each probe: an error here ends the wait at once (e.g. the server exited). */
    giveUpIf?: () => Error | undefined;
  } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const interval = opts.intervalMs ?? 25;
  let lastError: unknown;
  for (;;) {
    const hopeless = opts.giveUpIf?.();
    if (hopeless) throw hopeless;
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(
        `timed out after ${opts.timeoutMs ?? 15_000} ms waiting for ${opts.what ?? 'condition'}${cause}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
