// The REST semantics of the API server for the served resources: routing, verbs, patch types,
// optimistic concurrency, the status subresource, SelfSubjectAccessReview and discovery.
import { SelfSubjectAccessReview } from 'kubernetes-models/authorization.k8s.io/v1/SelfSubjectAccessReview';

import type { AccessRules } from './access.js';
import { discovery } from './discovery.js';
import { PatchError, applyJsonPatch, applyMergePatch, applyStrategicMergePatch, isObject } from './json.js';
import { apiVersionOf, resourceByPath, type KObject, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError, conflict, forbidden, invalid, notFound } from './status.js';
import type { ObjectStore } from './store.js';
import type { WatchOptions } from './watch.js';

export interface ResourceRoute {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export type Reply =
  { status: number; body: unknown; headers?: Record<string, string> } | { watch: WatchOptions };

const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

/** Parses `/apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]`. */
export function parseResourcePath(path: string): ResourceRoute | undefined {
  const m =
    /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/.exec(path);
  if (!m) return undefined;
  const [, group, version, namespace, plural, name, subresource] = m;
  if (group === undefined || version === undefined || plural === undefined) return undefined;
  const type = resourceByPath(group, version, plural);
  if (!type) return undefined;
  const dec = (s: string | undefined) => (s === undefined ? undefined : decodeURIComponent(s));
  return { type, namespace: dec(namespace), name: dec(name), subresource: dec(subresource) };
}

export function notFoundPath(): ApiError {
  return new ApiError(404, 'the server could not find the requested resource', 'NotFound', {});
}

function methodNotAllowed(): ApiError {
  return new ApiError(
    405,
    'the server does not allow this method on the requested resource',
    'MethodNotAllowed',
    {},
  );
}

function verbFor(method: string, route: ResourceRoute, query: Record<string, string>): string {
  const watch = query.watch === 'true' || query.watch === '1';
  switch (method) {
    case 'GET':
      return route.name ? 'get' : watch ? 'watch' : 'list';
    case 'PATCH':
      return 'patch';
    case 'PUT':
      return 'update';
    case 'POST':
      return 'create';
    case 'DELETE':
      return 'delete';
    default:
      throw methodNotAllowed();
  }
}

export class RestApi {
  constructor(
    private readonly store: ObjectStore,
    private readonly access: AccessRules,
    private readonly afterWrite: (
      route: Required<Pick<ResourceRoute, 'type' | 'namespace' | 'name'>>,
    ) => void,
  ) {}

  handle(
    method: string,
    path: string,
    query: Record<string, string>,
    contentType: string | undefined,
    body: unknown,
    /** The field manager the write is recorded under (managedFields). */
    manager = 'unknown',
  ): Reply {
    const info = discovery(method, path);
    if (info) return info;
    if (path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      if (method !== 'POST') throw methodNotAllowed();
      return this.accessReview(body);
    }
    const route = parseResourcePath(path);
    if (!route || (route.subresource !== undefined && route.subresource !== 'status')) throw notFoundPath();
    if (route.name !== undefined && route.namespace === undefined) throw notFoundPath();
    const verb = verbFor(method, route, query);
    const { type } = route;
    if (
      !this.access.allows({
        verb,
        group: type.group,
        resource: type.plural,
        subresource: route.subresource,
        namespace: route.namespace,
        name: route.name,
      })
    ) {
      throw forbidden(this.access.user, verb, { ...route, plural: type.plural, group: type.group });
    }
    if (!route.name) {
      if (verb === 'watch') {
        return {
          watch: {
            kind: type.kind,
            namespace: route.namespace,
            labelSelector: query.labelSelector,
            fieldSelector: query.fieldSelector,
            resourceVersion: query.resourceVersion,
            timeoutSeconds: query.timeoutSeconds !== undefined ? Number(query.timeoutSeconds) : undefined,
          },
        };
      }
      if (verb === 'list') return { status: 200, body: this.list(type, route.namespace, query) };
      if (verb === 'create' && route.namespace)
        return { status: 201, body: this.create(type, route.namespace, body, query, manager) };
      throw methodNotAllowed();
    }
    const full = { type, namespace: route.namespace!, name: route.name };
    const current = this.store.get(type.kind, full.namespace, full.name);
    if (!current) throw notFound({ plural: type.plural, group: type.group, name: full.name });
    const dryRun = query.dryRun === 'All';
    switch (verb) {
      case 'get':
        return { status: 200, body: current };
      case 'patch':
        return {
          status: 200,
          body: this.write(
            full,
            current,
            this.patch(type, current, contentType, body),
            route.subresource,
            dryRun,
            manager,
          ),
        };
      case 'update':
        return {
          status: 200,
          body: this.write(
            full,
            current,
            this.checkPut(type, current, body),
            route.subresource,
            dryRun,
            manager,
          ),
        };
      case 'delete': {
        if (route.subresource) throw methodNotAllowed();
        if (!dryRun) {
          this.store.remove(type.kind, full.namespace, full.name);
          this.afterWrite(full);
        }
        const details = { name: full.name, group: type.group, kind: type.plural, uid: current.metadata.uid };
        return {
          status: 200,
          body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details },
        };
      }
      default:
        throw methodNotAllowed();
    }
  }

  private list(type: ResourceType, namespace: string | undefined, query: Record<string, string>): unknown {
    const labels = parseLabelSelector(query.labelSelector);
    const fields = parseFieldSelector(query.fieldSelector);
    const items = this.store
      .list(type.kind, namespace, { label: equalityTerm(query.labelSelector) })
      .filter((o) => labels(o.metadata.labels) && fields(o.metadata));
    return {
      apiVersion: apiVersionOf(type),
      kind: `${type.kind}List`,
      metadata: { resourceVersion: this.store.resourceVersion },
      items,
    };
  }

  private create(
    type: ResourceType,
    namespace: string,
    body: unknown,
    query: Record<string, string>,
    manager: string,
  ): KObject {
    if (!isObject(body) || !isObject(body.metadata))
      throw new ApiError(400, 'the body of the request is not a Kubernetes object');
    const meta = { ...body.metadata, namespace } as KObject['metadata'];
    delete meta.resourceVersion;
    const obj = { ...body, metadata: meta } as KObject;
    const created = this.store.create(type.kind, obj, { dryRun: query.dryRun === 'All', manager });
    if (query.dryRun !== 'All') this.afterWrite({ type, namespace, name: created.metadata.name });
    return created;
  }

  private patch(
    type: ResourceType,
    current: KObject,
    contentType: string | undefined,
    body: unknown,
  ): unknown {
    const media = contentType?.split(';')[0]?.trim().toLowerCase();
    const accepted = [PATCH_TYPES.json, PATCH_TYPES.merge, ...(type.custom ? [] : [PATCH_TYPES.strategic])];
    try {
      if (media === PATCH_TYPES.json) return applyJsonPatch(current, body);
      if (media === PATCH_TYPES.merge) return applyMergePatch(current, body);
      if (media === PATCH_TYPES.strategic && !type.custom) return applyStrategicMergePatch(current, body);
    } catch (err) {
      if (err instanceof PatchError) throw new ApiError(err.malformed ? 400 : 422, err.message);
      throw err;
    }
    // Server-side apply (application/apply-patch+yaml) is accepted by a real API server but not here.
    throw new ApiError(
      415,
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    );
  }

  private checkPut(type: ResourceType, current: KObject, body: unknown): unknown {
    if (!isObject(body) || !isObject(body.metadata))
      throw new ApiError(400, 'the body of the request is not a Kubernetes object');
    const name = current.metadata.name;
    if (body.metadata.name !== name) {
      throw new ApiError(
        400,
        `the name of the object (${String(body.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (body.metadata.resourceVersion === undefined && type.custom) {
      throw invalid(type.kind, { plural: type.plural, group: type.group, name }, [
        { field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' },
      ]);
    }
    return body;
  }

  /**
   * Applies the write rules shared by PATCH and PUT: a `metadata.resourceVersion` in the result that
   * differs from the stored one is a conflict; the main resource keeps the stored status and the
   * status subresource changes only status (true of built-in types and of CRDs with the subresource).
   */
  private write(
    route: { type: ResourceType; namespace: string; name: string },
    current: KObject,
    result: unknown,
    subresource: string | undefined,
    dryRun: boolean,
    manager: string,
  ): KObject {
    const { type, namespace, name } = route;
    if (!isObject(result))
      throw new ApiError(
        422,
        `${type.kind}.${type.group} "${name}" is invalid: the result is not an object`,
        'Invalid',
      );
    const meta = isObject(result.metadata) ? result.metadata : {};
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict({ plural: type.plural, group: type.group, name });
    }
    const next: KObject =
      subresource === 'status'
        ? { ...current, status: result.status }
        : {
            ...(result as KObject),
            metadata: { ...(meta as Partial<KObject['metadata']>), name, namespace },
            status: current.status,
          };
    if (next.status === undefined) delete next.status;
    const stored = this.store.replace(type.kind, next, {
      dryRun,
      manager,
      ...(subresource ? { subresource } : {}),
    });
    if (!dryRun) this.afterWrite(route);
    return stored;
  }

  private accessReview(body: unknown): Reply {
    if (!isObject(body)) throw new ApiError(400, 'the body of the request is not a SelfSubjectAccessReview');
    const review = new SelfSubjectAccessReview(
      body as ConstructorParameters<typeof SelfSubjectAccessReview>[0],
    );
    try {
      review.validate();
    } catch (err) {
      throw invalid(
        'SelfSubjectAccessReview',
        { plural: 'selfsubjectaccessreviews', group: 'authorization.k8s.io', name: '' },
        [{ field: '', message: err instanceof Error ? err.message : String(err) }],
      );
    }
    const attrs = review.spec.resourceAttributes;
    const nonResource = review.spec.nonResourceAttributes;
    if ((attrs === undefined) === (nonResource === undefined)) {
      throw invalid(
        'SelfSubjectAccessReview',
        { plural: 'selfsubjectaccessreviews', group: 'authorization.k8s.io', name: '' },
        [
          {
            field: 'spec.resourceAttributes',
            message:
              'Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified',
          },
        ],
      );
    }
    const allowed =
      attrs === undefined ||
      this.access.allows({
        verb: attrs.verb ?? '',
        group: attrs.group ?? '',
        resource: attrs.resource ?? '',
        subresource: attrs.subresource || undefined,
        namespace: attrs.namespace || undefined,
        name: attrs.name || undefined,
      });
    const reply = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: { creationTimestamp: null },
      spec: review.spec,
      status: { allowed },
    };
    return { status: 201, body: reply };
  }
}

/**
 * One `key=value` requirement of a label selector, if it has one: the store's index narrows a list
 * to the objects carrying it before the whole selector is applied.
 */
function equalityTerm(selector: string | undefined): { key: string; value: string } | undefined {
  for (const term of selector?.split(',') ?? []) {
    const m = /^([^!=\s(),]+)\s*==?\s*([^\s(),]+)$/.exec(term.trim());
    if (m) return { key: m[1]!, value: m[2]! };
  }
  return undefined;
}
