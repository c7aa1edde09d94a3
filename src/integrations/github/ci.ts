import type { GitHubClient } from './client.js';
import { gitHubMessage, statusOf } from './errors.js';
import type { RepoRef } from './types.js';

/** One CI result on a commit: a check run (GitHub Checks) or the latest commit status of a context. */
export interface CiCheck {
  name: string;
  source: 'check-run' | 'status';
  /** Passed: a completed run concluding success/neutral/skipped, or a status `success`. */
  passed: boolean;
  /** Still running or queued (counts as not passed). */
  pending: boolean;
  /** `success`, `failure`, `in_progress`, `pending`, … as GitHub says it. */
  state: string;
}

export type CiReading = { ok: true; sha?: string; checks: CiCheck[] } | { ok: false; problem: string };

/** What the CI gate reads from GitHub. */
export interface CiReader {
  checks(repo: RepoRef, ref: string): Promise<CiReading>;
  /** Branch protection's required checks; undefined when the branch is not protected. */
  requiredChecks(repo: RepoRef, branch: string): Promise<string[] | undefined>;
}

const PASSED_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);
/** At most this many check runs are read (GitHub pages them 100 at a time). */
const MAX_PAGES = 5;

/** GitHub check runs and combined status of a commit (ref: a SHA, branch or tag). */
export class GitHubCi implements CiReader {
  constructor(private readonly octokit: GitHubClient) {}

  async checks(repo: RepoRef, ref: string): Promise<CiReading> {
    try {
      const runs: CiCheck[] = [];
      let sha: string | undefined;
      for (let page = 1; page <= MAX_PAGES; page++) {
        const { data } = await this.octokit.rest.checks.listForRef({
          owner: repo.owner,
          repo: repo.repo,
          ref,
          per_page: 100,
          page,
          filter: 'latest',
        });
        for (const run of data.check_runs) {
          sha ??= run.head_sha;
          const completed = run.status === 'completed';
          runs.push({
            name: run.name,
            source: 'check-run',
            passed: completed && PASSED_CONCLUSIONS.has(run.conclusion ?? ''),
            pending: !completed,
            state: completed ? (run.conclusion ?? 'completed') : run.status,
          });
        }
        if (page * 100 >= data.total_count) break;
      }
      const { data: combined } = await this.octokit.rest.repos.getCombinedStatusForRef({
        owner: repo.owner,
        repo: repo.repo,
        ref,
        per_page: 100,
      });
      const statuses: CiCheck[] = combined.statuses.map((s) => ({
        name: s.context,
        source: 'status',
        passed: s.state === 'success',
        pending: s.state === 'pending',
        state: s.state,
      }));
      return { ok: true, sha: sha ?? combined.sha, checks: [...runs, ...statuses] };
    } catch (err) {
      const status = statusOf(err);
      if (status === 422 || status === 404)
        return {
          ok: false,
          problem: `GitHub knows no commit \`${ref}\` in ${repo.fullName} (${gitHubMessage(err)})`,
        };
      return {
        ok: false,
        problem: `GitHub did not answer for ${repo.fullName}@${ref}: ${gitHubMessage(err)}`,
      };
    }
  }

  async requiredChecks(repo: RepoRef, branch: string): Promise<string[] | undefined> {
    try {
      const { data } = await this.octokit.rest.repos.getStatusChecksProtection({
        owner: repo.owner,
        repo: repo.repo,
        branch,
      });
      return [...new Set([...data.contexts, ...(data.checks ?? []).map((c) => c.context)])];
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }
}
