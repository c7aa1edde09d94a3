import { Octokit } from '@octokit/rest';
import type { Config } from '../config/model.js';
import { fail, messageOf, ok, unreachable, warn, withTimeout, type CheckResult } from './check.js';

const TIMEOUT_MS = 8_000;

/**
 * GitHub: the token can see every repository the config names (`GET /repos/{owner}/{repo}`)
 * and may push to it (editing releases needs write access to contents).
 */
export async function githubChecks(
  env: { GITHUB_TOKEN?: string | undefined; GITHUB_API_URL?: string | undefined },
  config: Config,
): Promise<CheckResult[]> {
  const repos = [...config.services.values()].flatMap((s) =>
    s.github ? [{ service: s.name, ...s.github }] : [],
  );
  if (repos.length === 0) return [];
  if (!env.GITHUB_TOKEN) {
    return [
      fail(
        'github',
        'token',
        `GITHUB_TOKEN is not set, but ${repos.map((r) => r.fullName).join(', ')} are named in the config`,
        'create a fine-grained token with Contents: read and write on those repositories (or a GitHub App installation token) and set GITHUB_TOKEN',
      ),
    ];
  }
  const octokit = new Octokit({
    auth: env.GITHUB_TOKEN,
    userAgent: 'backout-doctor',
    ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL.replace(/\/$/, '') } : {}),
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  return Promise.all(
    repos.map(async ({ service, owner, repo, fullName }): Promise<CheckResult> => {
      const name = `repo ${fullName}`;
      try {
        const { data } = await withTimeout(octokit.rest.repos.get({ owner, repo }), TIMEOUT_MS, 'GitHub');
        const perms = data.permissions;
        if (perms && !perms.push && !perms.admin && !perms.maintain) {
          return fail(
            'github',
            name,
            `the token can read ${fullName} (${service}) but not write to it, so it cannot edit releases`,
            `give the token Contents: read and write on ${fullName} (classic token: the repo scope; GitHub App: contents: write)`,
          );
        }
        if (data.archived) {
          return warn(
            'github',
            name,
            `${fullName} is archived: its releases cannot be edited`,
            'unarchive it, or remove the github block of the service',
          );
        }
        return ok('github', name, `visible to the token${perms ? ', with write access' : ''} (${service})`);
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        if (status === 404) {
          return fail(
            'github',
            name,
            `the token cannot see ${fullName} (${service}): GitHub answers 404`,
            `give the token access to ${fullName}: fine-grained token → Repository access, with Contents: read and write; classic token → the repo scope (and SSO authorisation); GitHub App → install it on the repository. Check the owner/name in the config too`,
          );
        }
        if (status === 401) {
          return fail(
            'github',
            name,
            'GitHub refused GITHUB_TOKEN (401 Bad credentials)',
            'create a new token and set GITHUB_TOKEN; it may have expired or been revoked',
          );
        }
        if (status === 403) {
          return fail(
            'github',
            name,
            `GitHub answered 403: ${messageOf(err)}`,
            "authorise the token for the organisation's SSO, or wait for the rate limit to reset",
          );
        }
        const { message, fix } = unreachable(
          err,
          env.GITHUB_API_URL ?? 'https://api.github.com',
          'check GITHUB_API_URL and the network path to GitHub',
        );
        return fail('github', name, message, fix);
      }
    }),
  );
}
