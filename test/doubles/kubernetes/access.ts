// Authorization: everything is allowed unless a deny rule matches. Deny rules answer
// SelfSubjectAccessReviews and also make the matching real requests fail with 403 Forbidden.

export interface DenyRule {
  /** get, list, watch, patch, update, create, delete, or `*`. */
  verb: string;
  /** API group (`apps`, `argoproj.io`, `` for core); any group when omitted. */
  group?: string;
  /** Plural resource, with `/status` for the subresource (`rollouts/status`), or `*`. */
  resource: string;
  /** Any namespace when omitted. */
  namespace?: string;
  /** Any object name when omitted. */
  name?: string;
}

export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export class AccessRules {
  /** The user named in Forbidden messages. */
  user = 'system:serviceaccount:backout:backout';
  private rules: DenyRule[] = [];

  deny(rule: DenyRule): void {
    this.rules.push({ ...rule });
  }

  clear(): void {
    this.rules = [];
  }

  allows(a: AccessAttributes): boolean {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    return !this.rules.some(
      (r) =>
        (r.verb === '*' || r.verb === a.verb) &&
        (r.resource === '*' || r.resource === resource) &&
        (r.group === undefined || r.group === '*' || r.group === a.group) &&
        (r.namespace === undefined || r.namespace === a.namespace) &&
        (r.name === undefined || r.name === a.name),
    );
  }
}
