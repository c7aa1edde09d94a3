import { BackoutError, IntegrationError } from '../../errors.js';

/** What octokit's RequestError carries that backout reads (checked structurally, not by class). */
interface GitHubFailure {
  status: number;
  message: string;
  response?: { data?: unknown; headers?: Record<string, string | number | undefined> };
}

export function isGitHubFailure(err: unknown): err is GitHubFailure {
  return (
    err instanceof Error &&
    'status' in err &&
    typeof (err as { status: unknown }).status === 'number' &&
    (err as { status: number }).status > 0
  );
}

export function statusOf(err: unknown): number | undefined {
  return isGitHubFailure(err) ? err.status : undefined;
}

/** The HTTP status behind a failed GitHub call, whether raw or already wrapped in a BackoutError. */
export function githubStatus(err: unknown): number | undefined {
  return statusOf(err) ?? (err instanceof Error ? statusOf(err.cause) : undefined);
}

/** GitHub's own words from an error body: `message` plus any `errors[].message`. */
export function gitHubMessage(err: unknown): string {
  if (!isGitHubFailure(err)) return err instanceof Error ? err.message : String(err);
  const data = err.response?.data;
  if (data && typeof data === 'object' && 'message' in data && typeof data.message === 'string') {
    const details =
      'errors' in data && Array.isArray(data.errors)
        ? data.errors
            .map((e: unknown) =>
              e && typeof e === 'object' && 'message' in e && typeof e.message === 'string'
                ? e.message
                : e && typeof e === 'object' && 'code' in e && typeof e.code === 'string'
                  ? `${'field' in e && typeof e.field === 'string' ? `${e.field} ` : ''}${e.code}`
                  : undefined,
            )
            .filter((m: string | undefined): m is string => m !== undefined)
        : [];
    return details.length ? `${data.message} (${details.join('; ')})` : data.message;
  }
  return err.message.split('\n')[0] ?? err.message;
}

function isRateLimited(err: GitHubFailure): boolean {
  const headers = err.response?.headers ?? {};
  return (
    /rate limit/i.test(gitHubMessage(err)) ||
    String(headers['x-ratelimit-remaining']) === '0' ||
    headers['retry-after'] !== undefined
  );
}

/**
 * Turns a failed GitHub call into a BackoutError that says what happened and what to do.
 * 5xx, network failures and rate limits (once the client's own waits are used up) are
 * retryable; 401/403/404/422 are not.
 */
export function githubError(err: unknown, what: string, repo: string): BackoutError {
  if (err instanceof BackoutError) return err;
  if (!isGitHubFailure(err)) {
    return new IntegrationError(
      'github',
      `GitHub could not be reached while ${what}: ${gitHubMessage(err)}`,
      {
        retryable: true,
        cause: err,
      },
    );
  }
  const said = gitHubMessage(err);
  const s = err.status;
  if (s === 401) {
    return new IntegrationError('github', `GitHub refused the token while ${what} (401: ${said}).`, {
      retryable: false,
      cause: err,
      hint: 'Check GITHUB_TOKEN (`backout doctor` tests it against every configured repo).',
    });
  }
  if ((s === 403 || s === 429) && isRateLimited(err)) {
    return new IntegrationError('github', `GitHub's rate limit stopped backout while ${what}: ${said}`, {
      retryable: true,
      cause: err,
      hint: 'backout waits and tries again by itself; if it keeps failing, Retry later.',
    });
  }
  if (s === 403) {
    return new IntegrationError('github', `GitHub refused access to ${repo} while ${what} (403: ${said}).`, {
      retryable: false,
      cause: err,
      hint: `The token needs "Contents: read and write" on ${repo} to edit releases.`,
    });
  }
  if (s === 404) {
    return new IntegrationError(
      'github',
      `GitHub answered 404 while ${what}: ${repo} does not exist or GITHUB_TOKEN cannot see it.`,
      {
        retryable: false,
        cause: err,
        hint: `Check the repo in the config and the token's access to ${repo}.`,
      },
    );
  }
  if (s >= 500 || s === 408) {
    return new IntegrationError('github', `GitHub failed while ${what} (${s}: ${said}).`, {
      retryable: true,
      cause: err,
    });
  }
  return new IntegrationError('github', `GitHub refused while ${what} (${s}: ${said}).`, {
    retryable: false,
    cause: err,
  });
}
