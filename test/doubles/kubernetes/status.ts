// Kubernetes `Status` failure objects, as the API server returns them for every error.

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'
  | 'Expired'
  | 'Unknown';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason: string; message: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

const REASONS: Record<number, StatusReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function reasonFor(code: number): StatusReason {
  return REASONS[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
}

/** An error that the HTTP layer answers with its `Status` object and HTTP code. */
export class ApiError extends Error {
  readonly status: Status;

  constructor(
    code: number,
    message: string,
    reason: StatusReason = reasonFor(code),
    details?: StatusDetails,
  ) {
    super(message);
    this.status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    };
  }

  get code(): number {
    return this.status.code;
  }
}

/** Identifies a resource in messages, e.g. `deployments.apps "api"` (group-qualified plural). */
export interface ResourceName {
  plural: string;
  group: string;
  name: string;
}

function qualified(r: ResourceName): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

export function notFound(r: ResourceName): ApiError {
  return new ApiError(404, `${qualified(r)} "${r.name}" not found`, 'NotFound', {
    name: r.name,
    group: r.group,
    kind: r.plural,
  });
}

export function alreadyExists(r: ResourceName): ApiError {
  return new ApiError(409, `${qualified(r)} "${r.name}" already exists`, 'AlreadyExists', {
    name: r.name,
    group: r.group,
    kind: r.plural,
  });
}

export function conflict(r: ResourceName): ApiError {
  return new ApiError(
    409,
    `Operation cannot be fulfilled on ${qualified(r)} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`,
    'Conflict',
    { name: r.name, group: r.group, kind: r.plural },
  );
}

/** `<Kind>.<group> "<name>" is invalid: <field>: <message>`, with one cause per field error. */
export function invalid(
  kind: string,
  r: ResourceName,
  causes: { field: string; message: string }[],
): ApiError {
  const kindName = r.group ? `${kind}.${r.group}` : kind;
  const text = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new ApiError(422, `${kindName} "${r.name}" is invalid: ${text}`, 'Invalid', {
    name: r.name,
    group: r.group,
    kind,
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

export function forbidden(
  user: string,
  verb: string,
  r: { plural: string; group: string; name?: string; namespace?: string; subresource?: string },
): ApiError {
  const resource = r.subresource ? `${r.plural}/${r.subresource}` : r.plural;
  const subject = r.name
    ? `${r.group ? `${r.plural}.${r.group}` : r.plural} "${r.name}"`
    : qualified({ ...r, name: '' });
  const where = r.namespace ? ` in the namespace "${r.namespace}"` : ' at the cluster scope';
  return new ApiError(
    403,
    `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${r.group}"${where}`,
    'Forbidden',
    { ...(r.name ? { name: r.name } : {}), group: r.group, kind: r.plural },
  );
}
