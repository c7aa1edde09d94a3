import { IntegrationError, NotFoundError } from '../../errors.js';
import { KubeApiError } from './api.js';
import { CredentialError } from './credentials.js';

/** The API server answered with an error status (its code and Status body are on the error). */
export function isKubeApiError(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError;
}

/** Turns a Kubernetes call's failure into one of backout's errors, with a next step. */
export function kubeError(err: unknown, what: string, context: string): Error {
  if (isKubeApiError(err)) {
    const code = err.code;
    const detail = statusMessage(err.body) ?? err.message.split('\n')[0];
    if (code === 404)
      return new NotFoundError(`${what} was not found in context ${context}.`, {
        hint: "Check the service's kubernetes settings in the config.",
      });
    if (code === 401 || code === 403) {
      return new IntegrationError(
        'kubernetes',
        `Kubernetes refused to let backout ${what.toLowerCase()} in context ${context} (${code}): ${detail}`,
        {
          retryable: false,
          hint: "Check backout's RBAC for this namespace (`backout doctor` lists what is missing).",
        },
      );
    }
    if (code === 409) {
      return new IntegrationError(
        'kubernetes',
        `${what} changed while backout was writing it (409 Conflict).`,
        { retryable: true, cause: err },
      );
    }
    if (code === 422 || code === 400) {
      return new IntegrationError(
        'kubernetes',
        `Kubernetes rejected the change to ${what} (${code}): ${detail}`,
        { retryable: false, cause: err },
      );
    }
    return new IntegrationError(
      'kubernetes',
      `Kubernetes answered ${code} for ${what} in context ${context}: ${detail}`,
      {
        retryable: code >= 500 || code === 429,
        cause: err,
      },
    );
  }
  if (err instanceof IntegrationError || err instanceof NotFoundError) return err;
  if (err instanceof CredentialError) {
    return new IntegrationError(
      'kubernetes',
      `backout could not get the credentials of kubeconfig context ${context} (${what}): ${err.message}`,
      {
        retryable: err.transient,
        cause: err,
        hint: `Nothing was sent to the cluster. Fix the kubeconfig user of context ${context} (an expired login, a missing file); \`kubectl --context ${context} version\`, run as backout's user, shows the same error.`,
      },
    );
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new IntegrationError(
      'kubernetes',
      `The Kubernetes API for context ${context} did not answer in time (${what}): the call was cancelled at its deadline.`,
      {
        retryable: true,
        cause: err,
        hint: `The cluster may be unreachable or overloaded; other contexts are not affected. Check it with \`kubectl --context ${context} get --raw /readyz\` or \`backout doctor\`.`,
      },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new IntegrationError(
    'kubernetes',
    `Could not reach the Kubernetes API for context ${context}: ${message}`,
    {
      retryable: true,
      cause: err,
      hint: 'Check the cluster is reachable from backout (`backout doctor`).',
    },
  );
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string')
    return body.message;
  return undefined;
}
