/** One line of `backout doctor`: what was checked, how it went, and how to fix it. */
export interface CheckResult {
  area: 'environment' | 'config' | 'slack' | 'kubernetes' | 'github' | 'redis';
  /** What was checked, e.g. `token`, `channel C0123`, `prod/shop deployments.apps`. */
  name: string;
  status: 'ok' | 'fail' | 'warn';
  message: string;
  /** How to fix it (failures and warnings). */
  fix?: string;
}

export const ok = (area: CheckResult['area'], name: string, message: string): CheckResult => ({
  area,
  name,
  status: 'ok',
  message,
});

export const fail = (area: CheckResult['area'], name: string, message: string, fix: string): CheckResult => ({
  area,
  name,
  status: 'fail',
  message,
  fix,
});

export const warn = (area: CheckResult['area'], name: string, message: string, fix: string): CheckResult => ({
  area,
  name,
  status: 'warn',
  message,
  fix,
});

const MARK = { ok: '✓', fail: '✗', warn: '!' } as const;

/** `✓ slack       token: valid …` / `✗ … — fix: …`, one line per check. */
export function formatCheck(c: CheckResult): string {
  const line = `${MARK[c.status]} ${c.area.padEnd(11)} ${c.name}: ${c.message}`;
  return c.fix && c.status !== 'ok' ? `${line} — fix: ${c.fix}` : line;
}

export function summarise(checks: readonly CheckResult[]): string {
  const n = (s: CheckResult['status']) => checks.filter((c) => c.status === s).length;
  return `${checks.length} checks: ${n('ok')} passed, ${n('fail')} failed, ${n('warn')} warning${n('warn') === 1 ? '' : 's'}.`;
}

/** Rejects with "timed out" when `work` takes longer than `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
