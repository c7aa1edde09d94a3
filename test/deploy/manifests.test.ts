import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ClusterRole, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseConfigText } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  ConfigMap,
  Service,
  ServiceAccount,
  Deployment,
  ClusterRole,
  RoleBinding,
};

async function documents(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(ROOT, 'deploy', file), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
}

describe('deploy/ manifests', () => {
  it('every object validates against the Kubernetes schemas', async () => {
    const docs = [...(await documents('rbac.yaml')), ...(await documents('backout.yaml'))];
    expect(docs.length).toBeGreaterThanOrEqual(6);
    for (const doc of docs) {
      const Model = MODELS[String(doc.kind)];
      expect(Model, `a model for ${String(doc.kind)}`).toBeDefined();
      expect(() => new Model!(doc as never).validate()).not.toThrow();
    }
  });

  it('RBAC grants exactly the verbs backout uses, and nothing cluster-wide beyond them', async () => {
    const role = (await documents('rbac.yaml')).find((d) => d.kind === 'ClusterRole') as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const grants = role.rules
      .flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroups[0]}/${res}:${v}`)))
      .sort();
    expect(grants).toEqual(
      [
        'apps/deployments:get',
        'apps/deployments:list',
        'apps/deployments:patch',
        'apps/replicasets:list',
        'argoproj.io/applications:get',
        'argoproj.io/applications:patch',
        'kustomize.toolkit.fluxcd.io/kustomizations:get',
        'kustomize.toolkit.fluxcd.io/kustomizations:patch',
        'helm.toolkit.fluxcd.io/helmreleases:get',
        'helm.toolkit.fluxcd.io/helmreleases:patch',
        'argoproj.io/rollouts:get',
        'argoproj.io/rollouts:patch',
        'argoproj.io/rollouts/status:patch',
        'gateway.networking.k8s.io/httproutes:get',
        'gateway.networking.k8s.io/httproutes:patch',
        'networking.k8s.io/ingresses:get',
        'networking.k8s.io/ingresses:patch',
      ].sort(),
    );
    expect(grants.some((g) => /:(\*|delete|create|update|escalate|bind)$/.test(g))).toBe(false);
  });

  it('the Deployment probes /healthz, runs as non-root with resources, and its config file and kubeconfig load', async () => {
    const docs = await documents('backout.yaml');
    const deployment = docs.find((d) => d.kind === 'Deployment') as {
      spec: {
        template: {
          spec: {
            containers: {
              readinessProbe: { httpGet: { path: string } };
              livenessProbe: { httpGet: { path: string } };
              resources: unknown;
              securityContext: { readOnlyRootFilesystem: boolean };
            }[];
            securityContext: { runAsNonRoot: boolean };
          };
        };
      };
    };
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const [container] = pod.containers;
    expect(container?.readinessProbe.httpGet.path).toBe('/healthz/ready');
    expect(container?.livenessProbe.httpGet.path).toBe('/healthz/live');
    expect(container?.resources).toBeDefined();
    const config = docs.find((d) => d.kind === 'ConfigMap') as { data: Record<string, string> };
    const parsed = parseConfigText(config.data['backout.yml']!);
    expect(parsed.ok).toBe(true);
    const kc = new KubeConfig();
    kc.loadFromString(config.data.kubeconfig!);
    expect(kc.getContexts().map((c) => c.name)).toEqual(['in-cluster']);
  });
});

describe('Dockerfile', () => {
  it('lints clean and follows the rules: multi-stage, npm ci, production dependencies only, non-root, HEALTHCHECK', async () => {
    const text = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const problems = validateDockerfile(text);
    expect(
      problems.map(
        (p) => `${p.range.start.line + 1}: ${typeof p.message === 'string' ? p.message : p.message.value}`,
      ),
    ).toEqual([]);
    const instructions = text.split('\n').filter((l) => /^[A-Z]+\s/.test(l));
    expect(instructions.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/RUN npm ci/);
    expect(text).toMatch(/npm prune --omit=dev/);
    expect(instructions.some((l) => /^USER (node|\d+)/.test(l))).toBe(true);
    expect(instructions.some((l) => l.startsWith('HEALTHCHECK'))).toBe(true);
    expect(
      instructions.filter((l) => l.startsWith('FROM ')).every((l) => !/:latest\b/.test(l) && /:\d+/.test(l)),
    ).toBe(true);
    expect(text).not.toMatch(/^ADD /m);
  });
});
