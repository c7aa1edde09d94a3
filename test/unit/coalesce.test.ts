import { describe, expect, it } from 'vitest';
import { coalescePlanningReads } from '../../src/integrations/kubernetes/coalesce.js';
import type {
  DeploymentHistory,
  DeploymentSnapshot,
  Deployments,
  KubeTarget,
} from '../../src/integrations/kubernetes/types.js';

const prod: KubeTarget = { context: 'prod', namespace: 'shop', deployment: 'checkout-api' };
const staging: KubeTarget = { ...prod, context: 'staging' };

/** A Deployments whose reads answer only when told, counting each read it was sent. */
function gatedCluster() {
  const reads: string[] = [];
  const waiting: (() => void)[] = [];
  const answer = <T>(what: string, value: T) =>
    new Promise<T>((resolve) => {
      reads.push(what);
      waiting.push(() => resolve(value));
    });
  const snapshot = (t: KubeTarget) =>
    ({ name: t.deployment, revision: reads.length }) as unknown as DeploymentSnapshot;
  const cluster: Deployments = {
    get: (t) => answer(`get ${t.context}`, snapshot(t)),
    history: (t) =>
      answer(`history ${t.context}`, {
        deployment: snapshot(t),
        revisions: [{ revision: 1 }, { revision: 2 }],
      } as unknown as DeploymentHistory),
    restoreTemplate: () => Promise.reject(new Error('not a planning call')),
    setImage: () => Promise.reject(new Error('not a planning call')),
  };
  return { cluster, reads, release: () => waiting.splice(0).forEach((go) => go()) };
}

describe('planning reads shared while in flight', () => {
  it('sends one read for identical concurrent calls, and each caller gets its own copy', async () => {
    const { cluster, reads, release } = gatedCluster();
    const planning = coalescePlanningReads(cluster);
    const calls = Array.from({ length: 50 }, () => planning.history(prod));
    expect(reads).toEqual(['history prod']);
    release();
    const results = await Promise.all(calls);
    expect(results).toHaveLength(50);
    results[0]!.revisions.reverse();
    expect(results[1]!.revisions.map((r) => r.revision)).toEqual([1, 2]);
    expect(results[0]).not.toBe(results[1]);
  });

  it('reads afresh once the shared read has answered, and never shares across targets or operations', async () => {
    const { cluster, reads, release } = gatedCluster();
    const planning = coalescePlanningReads(cluster);
    const first = planning.history(prod);
    const other = [planning.history(staging), planning.get(prod)];
    release();
    await Promise.all([first, ...other]);
    const later = planning.history(prod);
    release();
    await later;
    expect(reads).toEqual(['history prod', 'history staging', 'get prod', 'history prod']);
  });

  it('a failed read fails every waiter and is not kept', async () => {
    const failing: Deployments = {
      get: () => Promise.reject(new Error('context prod: connection refused')),
      history: () => Promise.reject(new Error('unused')),
      restoreTemplate: () => Promise.reject(new Error('unused')),
      setImage: () => Promise.reject(new Error('unused')),
    };
    const planning = coalescePlanningReads(failing);
    const both = await Promise.allSettled([planning.get(prod), planning.get(prod)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(planning.get(prod)).rejects.toThrow('connection refused');
  });
});
