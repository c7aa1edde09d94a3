import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { IntegrationError } from '../../src/errors.js';
import { HttpKubeApi, NativeAuthenticator } from '../../src/integrations/kubernetes/api.js';
import { KubeClients } from '../../src/integrations/kubernetes/clients.js';
import { KubeDeployments } from '../../src/integrations/kubernetes/deployments.js';
import { inClusterKubeconfig, readKubeconfigFiles } from '../../src/integrations/kubernetes/kubeconfig.js';
import { KubernetesDouble } from '../doubles/kubernetes.js';

// backout sends kubeconfig credentials itself, as kubectl does: exec plugins, token files,
// in-cluster service accounts; a legacy auth-provider goes through @kubernetes/client-node.
describe('Kubernetes credentials from the kubeconfig', () => {
  let k8s: KubernetesDouble;
  let dir: string;
  const target = { context: 'prod', namespace: 'shop', deployment: 'api' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kube-credentials-'));
    k8s = await KubernetesDouble.start({ name: 'prod', tls: true });
    k8s.addDeployment({
      namespace: 'shop',
      name: 'api',
      labels: { app: 'api' },
      containers: [[{ name: 'app', image: 'api:1' }]],
    });
  });
  afterAll(async () => {
    await k8s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A kubeconfig in its own directory with one context "prod" for `user`, the CA beside it. */
  async function kubeconfigFor(name: string, user: Record<string, unknown>): Promise<string> {
    const home = join(dir, name);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'ca.pem'), k8s.caPem!);
    const path = join(home, 'config');
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'prod', cluster: { server: k8s.url, 'certificate-authority': 'ca.pem' } }],
        users: [{ name: 'prod', user }],
        contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod' } }],
        'current-context': 'prod',
      }),
    );
    return path;
  }

  /** An exec credential plugin that counts its runs and prints the token (and expiry) in its directory. */
  async function plugin(name: string, expires?: string): Promise<string> {
    const home = join(dir, `plugin-${name}`);
    await mkdir(home, { recursive: true });
    const script = join(home, 'credential.sh');
    await writeFile(
      script,
      [
        '#!/bin/sh',
        'n=$(cat "$PLUGIN_HOME/runs" 2>/dev/null || echo 0); echo $((n + 1)) > "$PLUGIN_HOME/runs"',
        'printf "%s" "$KUBERNETES_EXEC_INFO" > "$PLUGIN_HOME/exec-info"',
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"${expires ? `,"expirationTimestamp":"${expires}"` : ''}}}' "$(cat "$PLUGIN_HOME/token")"`,
      ].join('\n'),
    );
    await chmod(script, 0o755);
    return home;
  }

  /** A plugin printing `token` (the only one the cluster accepts), and Deployments read through it. */
  async function withPlugin(name: string, token: string, expires?: string) {
    const home = await plugin(name, expires);
    await writeFile(join(home, 'token'), token);
    k8s.setValidTokens([token]);
    const path = await kubeconfigFor(`exec-${name}`, {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: join(home, 'credential.sh'),
        env: [{ name: 'PLUGIN_HOME', value: home }],
      },
    });
    return { home, deployments: new KubeDeployments(new KubeClients(path)) };
  }

  const runsOf = async (home: string) => Number(await readFile(join(home, 'runs'), 'utf8'));

  it('an exec plugin: run once for many calls, told the request is not interactive, run again after a 401', async () => {
    const { home, deployments } = await withPlugin('rotating', 'exec-1');
    for (let i = 0; i < 3; i++) expect((await deployments.get(target)).name).toBe('api');
    expect(await runsOf(home)).toBe(1);
    expect(JSON.parse(await readFile(join(home, 'exec-info'), 'utf8'))).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: k8s.url } },
    });

    // The cluster stops accepting the token: one 401, the plugin runs again, the call succeeds.
    await writeFile(join(home, 'token'), 'exec-2');
    k8s.setValidTokens(['exec-2']);
    k8s.clearRequests();
    expect((await deployments.get(target)).name).toBe('api');
    expect(await runsOf(home)).toBe(2);
    expect(k8s.requests.map((r) => [r.status, r.token])).toEqual([
      [401, 'exec-1'],
      [200, 'exec-2'],
    ]);
  });

  it('an exec credential past its expirationTimestamp is fetched again before the next call', async () => {
    const { home, deployments } = await withPlugin('expired', 'exec-expired', '2020-01-01T00:00:00Z');
    await deployments.get(target);
    await deployments.get(target);
    expect(await runsOf(home)).toBe(2);
  });

  it('a failing exec plugin: the call fails saying which plugin, its exit code and what it printed', async () => {
    const script = join(dir, 'broken.sh');
    await writeFile(script, '#!/bin/sh\necho "token expired: run aws sso login" >&2\nexit 3\n');
    await chmod(script, 0o755);
    const path = await kubeconfigFor('broken', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: script },
    });
    const err = await new KubeDeployments(new KubeClients(path)).get(target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('context prod');
    expect((err as Error).message).toContain(`the exec credential plugin ${script} exited 3`);
    expect((err as Error).message).toContain('token expired: run aws sso login');
    expect((err as IntegrationError).retryable).toBe(false);
    expect((err as IntegrationError).hint).toContain('Nothing was sent to the cluster');
  });

  it('a token file next to the kubeconfig (a relative path): read, and read again after a 401', async () => {
    const path = await kubeconfigFor('token-file', { tokenFile: 'token' });
    await writeFile(join(dir, 'token-file', 'token'), 'file-1\n');
    k8s.setValidTokens(['file-1']);
    const deployments = new KubeDeployments(new KubeClients(path));
    expect((await deployments.get(target)).name).toBe('api');
    await writeFile(join(dir, 'token-file', 'token'), 'file-2\n');
    k8s.setValidTokens(['file-2']);
    expect((await deployments.get(target)).name).toBe('api');
  });

  it('a token file that cannot be read: the call fails naming the file, and nothing is sent', async () => {
    const path = await kubeconfigFor('token-missing', { tokenFile: 'absent-token' });
    k8s.clearRequests();
    const err = await new KubeDeployments(new KubeClients(path)).get(target).catch((e: unknown) => e);
    expect((err as Error).message).toContain(
      `the token file ${join(dir, 'token-missing', 'absent-token')} cannot be read (ENOENT)`,
    );
    expect(k8s.requests).toHaveLength(0);
  });

  it('a kubeconfig that cannot be read fails the call saying so, and is read again on the next one', async () => {
    const path = join(dir, 'late', 'config');
    const clients = new KubeClients(path);
    const err = await new KubeDeployments(clients).get(target).catch((e: unknown) => e);
    expect((err as Error).message).toContain('The kubeconfig could not be read');
    expect((err as IntegrationError).retryable).toBe(true);
    k8s.setValidTokens(['late']);
    await kubeconfigFor('late', { token: 'late' });
    expect((await new KubeDeployments(clients).get(target)).name).toBe('api');
  });

  it('several files: the first to name a context, cluster or user wins, as kubectl merges them', async () => {
    k8s.setValidTokens(['first']);
    const first = await kubeconfigFor('merge-1', { token: 'first' });
    const second = await kubeconfigFor('merge-2', { token: 'second' });
    const kc = readKubeconfigFiles([first, second]);
    expect(kc.getUser('prod')?.token).toBe('first');
    expect(kc.getCluster('prod')?.caFile).toBe(join(dir, 'merge-1', 'ca.pem'));
    const clients = new KubeClients([first, second].join(':'));
    expect((await new KubeDeployments(clients).get(target)).name).toBe('api');
  });

  it('empty values (YAML nulls) are absent, as kubectl reads them; a malformed file is refused naming the field', async () => {
    const path = join(dir, 'nulls.yaml');
    await writeFile(
      path,
      [
        'clusters:',
        '- name: prod',
        '  cluster:',
        `    server: ${k8s.url}/`,
        '    certificate-authority-data:',
        '    proxy-url:',
        'users:',
        '- name: prod',
        '  user:',
        'contexts:',
        '- name: prod',
        '  context: { cluster: prod, user: prod, namespace: }',
        'current-context: prod',
      ].join('\n'),
    );
    const kc = readKubeconfigFiles([path]);
    expect(kc.getCluster('prod')).toMatchObject({ server: k8s.url, skipTLSVerify: false });
    expect(kc.getCluster('prod')?.caData).toBeUndefined();
    expect(kc.getContext('prod')).toEqual({
      name: 'prod',
      cluster: 'prod',
      user: 'prod',
      namespace: undefined,
    });
    await writeFile(
      path,
      'clusters:\n- name: prod\n  cluster: { server: 1, insecure-skip-tls-verify: "yes" }\n',
    );
    expect(() => readKubeconfigFiles([path])).toThrow(`${path}: clusters.0.cluster.server:`);
  });

  it('in a pod: the service account token, CA and namespace, and the API server from the environment', async () => {
    const account = join(dir, 'serviceaccount');
    await mkdir(account, { recursive: true });
    await writeFile(join(account, 'token'), 'pod-token');
    await writeFile(join(account, 'ca.crt'), k8s.caPem!);
    await writeFile(join(account, 'namespace'), 'shop');
    k8s.setValidTokens(['pod-token']);
    const url = new URL(k8s.url);
    const kc = inClusterKubeconfig(
      { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
      account,
    );
    const ctx = kc.getContext(kc.currentContext!)!;
    expect(ctx.namespace).toBe('shop');
    const cluster = kc.getCluster(ctx.cluster)!;
    expect(cluster.server).toBe(k8s.url);
    const api = new HttpKubeApi(
      cluster.server,
      new NativeAuthenticator(cluster, kc.getUser(ctx.user)!),
      5_000,
    );
    const d = await api.get<{ metadata: { name: string } }>({
      group: 'apps',
      version: 'v1',
      plural: 'deployments',
      namespace: 'shop',
      name: 'api',
    });
    expect(d.metadata.name).toBe('api');
  });

  it('a legacy oidc auth-provider: its id-token is sent, through the client library', async () => {
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const idToken = `${b64({ alg: 'none' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
    k8s.setValidTokens([idToken]);
    const path = await kubeconfigFor('oidc', {
      'auth-provider': { name: 'oidc', config: { 'client-id': 'backout', 'id-token': idToken } },
    });
    k8s.clearRequests();
    expect((await new KubeDeployments(new KubeClients(path)).get(target)).name).toBe('api');
    expect(k8s.requests.map((r) => [r.status, r.token])).toEqual([[200, idToken]]);
  });
});
