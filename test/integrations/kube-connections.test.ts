import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClients } from '../../src/integrations/kubernetes/clients.js';
import { KubeDeployments } from '../../src/integrations/kubernetes/deployments.js';
import { poolConnections } from '../../src/integrations/kubernetes/pooled-dispatcher.js';
import { writeKubeconfig } from '../doubles/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';

// client-node 2 would open a new connection pool (and a TCP + TLS handshake) for every request to
// a cluster with TLS settings; backout keeps one pool per context and TLS material.
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

  it('over http with insecure-skip-tls-verify (also a "TLS setting" to client-node): the same', async () => {
    const k8s = await callsOver(false);
    expect(k8s.requests.filter((r) => r.path.includes('/replicasets'))).toHaveLength(5);
    expect(k8s.connectionsOpened).toBeLessThanOrEqual(6);
  });

  it('a change of TLS material (a rotated client certificate) gets a new pool, and the old one is closed', () => {
    const kc = new KubeConfig();
    const factory = kc as unknown as {
      createDispatcher(cluster: unknown, options: Record<string, unknown>): { close(): Promise<void> };
    };
    const made: { cert: unknown; closed: boolean }[] = [];
    factory.createDispatcher = (_cluster, options) => {
      const pool = {
        cert: options.cert,
        closed: false,
        close: () => ((pool.closed = true), Promise.resolve()),
      };
      made.push(pool);
      return pool;
    };
    expect(poolConnections(kc)).toBe(true);
    const cluster = { name: 'prod', server: 'https://127.0.0.1:6443', skipTLSVerify: false };
    const first = factory.createDispatcher(cluster, { ca: Buffer.from('ca'), cert: Buffer.from('cert-1') });
    const again = factory.createDispatcher(cluster, { ca: Buffer.from('ca'), cert: Buffer.from('cert-1') });
    expect(again).toBe(first);
    const rotated = factory.createDispatcher(cluster, { ca: Buffer.from('ca'), cert: Buffer.from('cert-2') });
    expect(rotated).not.toBe(first);
    expect(made.map((m) => [String(m.cert), m.closed])).toEqual([
      ['cert-1', true],
      ['cert-2', false],
    ]);
  });
});
