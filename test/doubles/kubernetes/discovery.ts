// Discovery and health endpoints: /version, /api, /apis, /apis/{group}[/{version}], /healthz.
import { RESOURCES } from './resources.js';
import type { Reply } from './rest.js';

export const GIT_VERSION = 'v1.31.4';

export function discovery(method: string, path: string): Reply | undefined {
  if (method !== 'GET') return undefined;
  const types = Object.values(RESOURCES);
  const groups = [...new Set(types.map((t) => t.group)), 'authorization.k8s.io'];
  const versionsOf = (g: string) =>
    g === 'authorization.k8s.io'
      ? ['v1']
      : [...new Set(types.filter((t) => t.group === g).map((t) => t.version))];
  const group = (g: string) => ({
    name: g,
    versions: versionsOf(g).map((v) => ({ groupVersion: `${g}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${g}/${versionsOf(g)[0]}`, version: versionsOf(g)[0] },
  });
  if (path === '/healthz' || path === '/livez' || path === '/readyz') return { status: 200, body: 'ok' };
  if (path === '/version') {
    return {
      status: 200,
      body: {
        major: '1',
        minor: '31',
        gitVersion: GIT_VERSION,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2024-12-10T11:37:03Z',
        goVersion: 'go1.22.9',
        compiler: 'gc',
        platform: 'linux/amd64',
      },
    };
  }
  if (path === '/api') {
    return {
      status: 200,
      body: {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }],
      },
    };
  }
  if (path === '/apis')
    return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(group) } };
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return undefined;
  const [, groupName, version] = m;
  if (groupName === undefined || !groups.includes(groupName)) return undefined;
  if (version === undefined)
    return { status: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...group(groupName) } };
  if (!versionsOf(groupName).includes(version)) return undefined;
  const resources =
    groupName === 'authorization.k8s.io'
      ? [
          {
            name: 'selfsubjectaccessreviews',
            singularName: 'selfsubjectaccessreview',
            namespaced: false,
            kind: 'SelfSubjectAccessReview',
            verbs: ['create'],
          },
        ]
      : types
          .filter((t) => t.group === groupName && t.version === version)
          .flatMap((t) => [
            {
              name: t.plural,
              singularName: t.singular,
              namespaced: true,
              kind: t.kind,
              verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
            },
            {
              name: `${t.plural}/status`,
              singularName: '',
              namespaced: true,
              kind: t.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]);
  return {
    status: 200,
    body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${groupName}/${version}`, resources },
  };
}
