import { isKubeApiError } from '../integrations/kubernetes/errors.js';
import type { Config } from '../config/model.js';
import type { KubeApi, KubeClients } from '../integrations/kubernetes/clients.js';
import { SELF_SUBJECT_ACCESS_REVIEWS } from '../integrations/kubernetes/resources.js';
import { fail, messageOf, ok, unreachable, withTimeout, type CheckResult } from './check.js';

const TIMEOUT_MS = 8_000;

/** One resource backout uses, and the verbs it needs on it. */
export interface KubeNeed {
  group: string;
  /** Plural resource, with `/status` for the subresource. */
  resource: string;
  verbs: string[];
}

const DEPLOYMENTS: KubeNeed[] = [
  { group: 'apps', resource: 'deployments', verbs: ['get', 'patch'] },
  { group: 'apps', resource: 'replicasets', verbs: ['list'] },
];

/** What each canary provider touches. */
const CANARY: Record<string, KubeNeed[]> = {
  'argo-rollouts': [
    { group: 'argoproj.io', resource: 'rollouts', verbs: ['get', 'patch'] },
    { group: 'argoproj.io', resource: 'rollouts/status', verbs: ['patch'] },
  ],
  'nginx-ingress': [{ group: 'networking.k8s.io', resource: 'ingresses', verbs: ['get', 'patch'] }],
  'gateway-api': [{ group: 'gateway.networking.k8s.io', resource: 'httproutes', verbs: ['get', 'patch'] }],
};

/** Context → namespace → the resources backout uses there, from the config. */
export function kubeNeeds(config: Config): Map<string, Map<string, KubeNeed[]>> {
  const out = new Map<string, Map<string, KubeNeed[]>>();
  for (const service of config.services.values()) {
    for (const env of service.environments.values()) {
      const { context, namespace } = env.kubernetes;
      const byNs = out.get(context) ?? new Map<string, KubeNeed[]>();
      out.set(context, byNs);
      const needs = byNs.get(namespace) ?? [];
      for (const need of [...DEPLOYMENTS, ...(env.canary ? (CANARY[env.canary.provider] ?? []) : [])]) {
        const same = needs.find((n) => n.group === need.group && n.resource === need.resource);
        if (same) same.verbs = [...new Set([...same.verbs, ...need.verbs])];
        else needs.push({ ...need, verbs: [...need.verbs] });
      }
      byNs.set(namespace, needs);
    }
  }
  return out;
}

/**
 * Kubernetes: every context the config names answers `GET /version`, and in each
 * namespace a SelfSubjectAccessReview per verb and resource says backout may do what
 * its jobs do there.
 */
export async function kubernetesChecks(
  clients: KubeClients | Error,
  config: Config,
  kubeconfig: string | undefined,
): Promise<CheckResult[]> {
  const needs = kubeNeeds(config);
  if (needs.size === 0) return [];
  if (clients instanceof Error) {
    return [
      fail(
        'kubernetes',
        'kubeconfig',
        `cannot load ${kubeconfig ?? '~/.kube/config (or the in-cluster config)'}: ${clients.message}`,
        'set KUBECONFIG to a readable kubeconfig with the contexts the config names (or run in the cluster with a service account)',
      ),
    ];
  }
  const perContext = await Promise.all(
    [...needs].map(([context, byNs]) => contextChecks(clients, context, byNs)),
  );
  return perContext.flat();
}

async function contextChecks(
  clients: KubeClients,
  context: string,
  byNs: Map<string, KubeNeed[]>,
): Promise<CheckResult[]> {
  const name = `context ${context}`;
  let apis;
  try {
    apis = await clients.for(context);
  } catch (err) {
    return [
      fail(
        'kubernetes',
        name,
        messageOf(err),
        `add a context named "${context}" to the kubeconfig (available: ${(await clients.contexts().catch(() => [])).join(', ') || 'none'}), or fix kubernetes.context in the config`,
      ),
    ];
  }
  try {
    const version = await withTimeout(apis.version(), TIMEOUT_MS, `the API server of ${context}`);
    const out = [ok('kubernetes', name, `reachable (Kubernetes ${version.gitVersion})`)];
    for (const [namespace, needs] of byNs) {
      out.push(...(await Promise.all(needs.map((need) => accessCheck(apis, context, namespace, need)))));
    }
    return out;
  } catch (err) {
    const code = isKubeApiError(err) ? err.code : undefined;
    const server = (await clients.serverOf(context)) ?? `the API server of ${context}`;
    if (code === 401) {
      return [
        fail(
          'kubernetes',
          name,
          `${server} refused the credentials (401 Unauthorized)`,
          `renew the credentials of context ${context} in the kubeconfig (token, client certificate or exec plugin)`,
        ),
      ];
    }
    const { message, fix } = unreachable(
      err,
      server,
      `check the server address of context ${context} in the kubeconfig`,
    );
    return [fail('kubernetes', name, message, fix)];
  }
}

async function accessCheck(
  apis: KubeApi,
  context: string,
  namespace: string,
  need: KubeNeed,
): Promise<CheckResult> {
  const [resource, subresource] = need.resource.split('/');
  const plural = need.group ? `${resource}.${need.group}` : resource!;
  const name = `${context}/${namespace} ${plural}${subresource ? `/${subresource}` : ''}`;
  const canI = `kubectl auth can-i <verb> ${plural}${subresource ? ` --subresource=${subresource}` : ''} -n ${namespace} --context ${context}`;
  try {
    const answers = await Promise.all(
      need.verbs.map(async (verb) => {
        const review = await withTimeout(
          apis.create<{ status?: { allowed?: boolean } }>(SELF_SUBJECT_ACCESS_REVIEWS, {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                namespace,
                verb,
                group: need.group,
                resource: resource!,
                ...(subresource ? { subresource } : {}),
              },
            },
          }),
          TIMEOUT_MS,
          `a SelfSubjectAccessReview in ${context}`,
        );
        return { verb, allowed: review.status?.allowed === true };
      }),
    );
    const denied = answers.filter((a) => !a.allowed).map((a) => a.verb);
    if (denied.length === 0) return ok('kubernetes', name, `${need.verbs.join(', ')} allowed`);
    return fail(
      'kubernetes',
      name,
      `${denied.join(', ')} denied (backout needs ${need.verbs.join(', ')})`,
      `grant backout's identity a Role in namespace ${namespace} with the rule {apiGroups: ["${need.group}"], resources: ["${need.resource}"], verbs: [${need.verbs.map((v) => `"${v}"`).join(', ')}]} and a RoleBinding to it; check with \`${canI.replace('<verb>', denied[0]!)}\``,
    );
  } catch (err) {
    return fail(
      'kubernetes',
      name,
      `cannot ask the API server (SelfSubjectAccessReview): ${messageOf(err)}`,
      'make sure selfsubjectaccessreviews.authorization.k8s.io create is allowed (it is for every authenticated user by default)',
    );
  }
}
