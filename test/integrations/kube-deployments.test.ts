import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClients } from '../../src/integrations/kubernetes/clients.js';
import { KubeDeployments } from '../../src/integrations/kubernetes/deployments.js';
import { planUndo } from '../../src/integrations/kubernetes/undo.js';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';

// A rollback restores the target ReplicaSet's pod template as the API server sent it: a field
// backout has no model for (one newer than any client library's) is restored, not dropped.
describe('the pod template a rollback restores', () => {
  let k8s: KubernetesDouble;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kube-deployments-'));
    k8s = await KubernetesDouble.start({ name: 'prod' });
  });
  afterAll(async () => {
    await k8s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every field of the target revision, known to a client library or not', async () => {
    const future = { mode: 'graceful', budgetSeconds: 30 };
    k8s.addDeployment({
      namespace: 'shop',
      name: 'api',
      containers: [
        [{ name: 'app', image: 'api:1', futureShutdownPolicy: future }],
        [{ name: 'app', image: 'api:2' }],
      ],
    });
    const path = join(dir, 'config');
    writeKubeconfig(path, [{ name: 'prod', server: k8s.url }]);
    const deployments = new KubeDeployments(new KubeClients(path));
    const target = { context: 'prod', namespace: 'shop', deployment: 'api' };
    const { deployment, revisions } = await deployments.history(target);
    const plan = planUndo(deployment, revisions);
    if (plan.kind !== 'patch') throw new Error(`expected a patch plan, got ${plan.kind}`);
    expect(plan.target.revision).toBe(1);

    const written = await deployments.restoreTemplate(target, plan.template, plan.annotations, deployment);
    expect(written.ok).toBe(true);
    const patch = k8s.requests.find((r) => r.method === 'PATCH');
    expect(patch?.query.fieldManager).toBe('backout');
    const live = (await deployments.get(target)).template.spec?.containers?.[0];
    expect(live).toMatchObject({ name: 'app', image: 'api:1', futureShutdownPolicy: future });
  });
});
