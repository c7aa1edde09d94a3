import type { Deployments, KubeTarget } from './types.js';

/**
 * Planning reads shared while in flight: identical `get` / `history` calls that arrive while one
 * is under way wait for that one instead of sending their own (a burst of `/rollback x history`
 * during an incident is one read, not two hundred). Nothing is kept once the read answers, so a
 * later call always reads afresh, and each waiter gets its own copy. Only for planning: a plan is
 * checked again before it is applied (stale-plan check, resourceVersion precondition), so a read
 * a few milliseconds older than the command is safe there; jobs read through the plain client.
 */
export function coalescePlanningReads(inner: Deployments): Deployments {
  const inFlight = new Map<string, Promise<unknown>>();
  function shared<T>(op: string, t: KubeTarget, read: () => Promise<T>): Promise<T> {
    const key = `${op}\n${t.context}\n${t.namespace}\n${t.deployment}`;
    const running = inFlight.get(key) as Promise<T> | undefined;
    if (running) return running.then((v) => structuredClone(v));
    const p = read().finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return p;
  }
  return {
    get: (t) => shared('get', t, () => inner.get(t)),
    history: (t) => shared('history', t, () => inner.history(t)),
    restoreTemplate: (...args) => inner.restoreTemplate(...args),
    setImage: (...args) => inner.setImage(...args),
  };
}
