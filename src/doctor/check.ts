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

/** What each network error code means, and what to do about it. */
const CAUSES: Record<string, { what: string; fix: string }> = {
  ECONNREFUSED: {
    what: 'connection refused',
    fix: 'nothing listens there: check the host and port in the URL, and that the service runs',
  },
  ENOTFOUND: { what: 'host not found', fix: 'the host name does not resolve: check the URL and DNS' },
  EAI_AGAIN: { what: 'DNS did not answer', fix: 'check the resolver and the network' },
  ETIMEDOUT: {
    what: 'timed out',
    fix: 'a firewall or proxy may drop the connection: check the network path',
  },
  UND_ERR_CONNECT_TIMEOUT: {
    what: 'connect timed out',
    fix: 'a firewall or proxy may drop the connection: check the network path',
  },
  ECONNRESET: {
    what: 'connection reset',
    fix: 'a proxy or a TLS/plain-HTTP mismatch: check the scheme (http/https) and proxies',
  },
  EHOSTUNREACH: { what: 'host unreachable', fix: 'check routing and firewalls between here and the host' },
  CERT_HAS_EXPIRED: { what: 'TLS certificate expired', fix: 'renew the server certificate' },
  DEPTH_ZERO_SELF_SIGNED_CERT: {
    what: 'self-signed TLS certificate',
    fix: 'trust its CA with NODE_EXTRA_CA_CERTS=<ca bundle>',
  },
  SELF_SIGNED_CERT_IN_CHAIN: {
    what: 'untrusted TLS certificate chain',
    fix: 'trust its CA with NODE_EXTRA_CA_CERTS=<ca bundle>',
  },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: {
    what: 'untrusted TLS certificate',
    fix: 'trust its CA with NODE_EXTRA_CA_CERTS=<ca bundle>',
  },
  ERR_TLS_CERT_ALTNAME_INVALID: {
    what: 'TLS certificate is for another host name',
    fix: 'use the host name the certificate names',
  },
};

/** The first system error code (ECONNREFUSED, ENOTFOUND…) in an error's chain of causes. */
export function causeCode(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; original?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code)) return e.code;
  for (const next of [e.cause, e.original, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : [])]) {
    const code = causeCode(next, depth + 1);
    if (code) return code;
  }
  return undefined;
}

/** "cannot reach <url>: connection refused (ECONNREFUSED)" and the fix for that cause. */
export function unreachable(
  err: unknown,
  url: string,
  fallbackFix: string,
): { message: string; fix: string } {
  const code = causeCode(err);
  const known = code ? CAUSES[code] : undefined;
  const why = known ? `${known.what} (${code})` : code ? `${messageOf(err)} (${code})` : messageOf(err);
  return {
    message: `cannot reach ${url}: ${why}`,
    fix: known ? `${known.fix}; ${fallbackFix}` : fallbackFix,
  };
}
