import { IntegrationError, NotFoundError } from '../../errors.js';

/** One bounded JSON call to a flag provider's REST API, with its errors in backout's words. */
export async function callJson(
  system: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; what: string; timeoutMs?: number },
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: init.headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new IntegrationError(
      system,
      `${system} did not answer while backout tried to ${init.what} (${(err as Error).message}).`,
      {
        retryable: true,
        cause: err,
        hint: 'Nothing was changed by this call; it is tried again.',
      },
    );
  }
  const text = await res.text();
  if (res.status === 404) {
    throw new NotFoundError(`${system} has no such flag or environment (404 while trying to ${init.what}).`, {
      hint: "Check the flag's key and the service's `flags:` settings in the config.",
    });
  }
  if (res.status === 401 || res.status === 403) {
    throw new IntegrationError(
      system,
      `${system} refused backout's token (${res.status}) while trying to ${init.what}: ${text.slice(0, 200)}`,
      {
        retryable: false,
        hint: 'Check the API token backout is given and its rights on this project and environment.',
      },
    );
  }
  if (!res.ok) {
    throw new IntegrationError(
      system,
      `${system} answered ${res.status} while backout tried to ${init.what}: ${text.slice(0, 300)}`,
      {
        retryable: res.status >= 500 || res.status === 429,
      },
    );
  }
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new IntegrationError(
      system,
      `${system} answered with something that is not JSON while backout tried to ${init.what}.`,
      {
        retryable: false,
      },
    );
  }
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
