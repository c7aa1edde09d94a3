import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClients } from '../../src/integrations/kubernetes/clients.js';
import { KubeDeployments } from '../../src/integrations/kubernetes/deployments.js';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';

// Every Kubernetes call would otherwise pay a TCP (and TLS) handshake: backout keeps one pool of
// kept-alive connections per context and client certificate.
describe('Kubernetes calls reuse their connections', () => {
  const doubles: KubernetesDouble[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kube-connections-'));
  });
  afterAll(async () => {
    await Promise.all(doubles.map((d) => d.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  async function callsOver(tls: boolean): Promise<KubernetesDouble> {
    const k8s = await KubernetesDouble.start({ name: 'prod', tls });
    doubles.push(k8s);
    if (tls) k8s.setValidTokens(['token-prod']);
    k8s.addDeployment({
      namespace: 'shop',
      name: 'api',
      labels: { app: 'api' },
      containers: [[{ name: 'app', image: 'api:1' }]],
    });
    const path = join(dir, tls ? 'https' : 'http');
    writeKubeconfig(path, [{ name: 'prod', server: k8s.url, ...(tls ? { ca: k8s.caPem } : {}) }]);
    const deployments = new KubeDeployments(new KubeClients(path));
    const target = { context: 'prod', namespace: 'shop', deployment: 'api' };
    for (let i = 0; i < 20; i++) expect((await deployments.get(target)).name).toBe('api');
    await Promise.all(Array.from({ length: 5 }, () => deployments.history(target)));
    return k8s;
  }

  it('over https with a CA and a bearer token: 30 calls, one after another and five at once, on few connections', async () => {
    const k8s = await callsOver(true);
    expect(k8s.requests.filter((r) => r.path.includes('/deployments/api'))).toHaveLength(25);
    // One for the calls in sequence, at most five more for the concurrent ones.
    expect(k8s.connectionsOpened).toBeLessThanOrEqual(6);
  });

  it('over http with insecure-skip-tls-verify: the same', async () => {
    const k8s = await callsOver(false);
    expect(k8s.requests.filter((r) => r.path.includes('/replicasets'))).toHaveLength(5);
    expect(k8s.connectionsOpened).toBeLessThanOrEqual(6);
  });
});
