import { createHash } from 'node:crypto';

/**
 * CI results of commits in the GitHub double, as GitHub's REST API documents them:
 * check runs (`GET /repos/{o}/{r}/commits/{ref}/check-runs`, paginated, `check_name`/`status`
 * filters), the combined status (`GET /repos/{o}/{r}/commits/{ref}/status`: latest status per
 * context; `failure` if any is error or failure, `pending` if any is pending or there are none,
 * else `success`) and branch protection's required checks
 * (`GET /repos/{o}/{r}/branches/{branch}/protection/required_status_checks`).
 * A ref is a SHA, a branch or a tag; an unknown one answers 422 "No commit found for SHA".
 */

export type CheckStatus = 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
export type CheckConclusion =
  'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | 'stale';
export type StatusState = 'error' | 'failure' | 'pending' | 'success';

interface CheckRunState {
  id: number;
  name: string;
  status: CheckStatus;
  conclusion: CheckConclusion | null;
  startedAt: Date;
  completedAt: Date | null;
}

interface StatusState_ {
  id: number;
  context: string;
  state: StatusState;
  description: string | null;
  createdAt: Date;
}

interface CommitState {
  sha: string;
  checkRuns: CheckRunState[];
  statuses: StatusState_[];
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class CommitChecks {
  /** Per repository (lower-case full name): ref → commit. */
  private readonly commits = new Map<string, Map<string, CommitState>>();
  /** Per repository: branch → required contexts (absent: not protected). */
  private readonly required = new Map<string, Map<string, string[]>>();
  private nextId = 4_100_000_001;

  private commit(repo: string, ref: string): CommitState {
    const refs = this.commits.get(repo.toLowerCase()) ?? new Map<string, CommitState>();
    this.commits.set(repo.toLowerCase(), refs);
    let c = refs.get(ref);
    if (!c) {
      c = { sha: createHash('sha1').update(`${repo}@${ref}`).digest('hex'), checkRuns: [], statuses: [] };
      refs.set(ref, c);
      refs.set(c.sha, c);
    }
    return c;
  }

  /** Adds or replaces (by name) a check run on the commit `ref` points at. */
  setCheckRun(
    repo: string,
    ref: string,
    run: { name: string; status?: CheckStatus; conclusion?: CheckConclusion | null },
  ): void {
    const c = this.commit(repo, ref);
    const status = run.status ?? (run.conclusion ? 'completed' : 'in_progress');
    const now = new Date();
    const existing = c.checkRuns.find((r) => r.name === run.name);
    const next: CheckRunState = {
      id: existing?.id ?? this.nextId++,
      name: run.name,
      status,
      conclusion: status === 'completed' ? (run.conclusion ?? 'success') : null,
      startedAt: existing?.startedAt ?? now,
      completedAt: status === 'completed' ? now : null,
    };
    c.checkRuns = [...c.checkRuns.filter((r) => r.name !== run.name), next];
  }

  /** Adds a commit status (statuses are append-only; the latest per context counts). */
  addStatus(
    repo: string,
    ref: string,
    status: { context: string; state: StatusState; description?: string },
  ): void {
    this.commit(repo, ref).statuses.push({
      id: this.nextId++,
      context: status.context,
      state: status.state,
      description: status.description ?? null,
      createdAt: new Date(),
    });
  }

  /** Branch protection's required status checks for `branch` (undefined: the branch is not protected). */
  setRequiredChecks(repo: string, branch: string, contexts: string[] | undefined): void {
    const branches = this.required.get(repo.toLowerCase()) ?? new Map<string, string[]>();
    this.required.set(repo.toLowerCase(), branches);
    if (contexts) branches.set(branch, contexts);
    else branches.delete(branch);
  }

  find(repo: string, ref: string): CommitState | undefined {
    return this.commits.get(repo.toLowerCase())?.get(ref);
  }

  requiredFor(repo: string, branch: string): string[] | undefined {
    return this.required.get(repo.toLowerCase())?.get(branch);
  }

  checkRunsJson(
    api: string,
    repo: string,
    c: CommitState,
    query: URLSearchParams,
  ): { total_count: number; check_runs: unknown[] } {
    let runs = c.checkRuns;
    const name = query.get('check_name');
    if (name) runs = runs.filter((r) => r.name === name);
    const status = query.get('status');
    if (status) runs = runs.filter((r) => r.status === status);
    const perPage = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30)));
    const page = Math.max(1, Number(query.get('page') ?? 1));
    const slice = runs.slice((page - 1) * perPage, page * perPage);
    return {
      total_count: runs.length,
      check_runs: slice.map((r) => ({
        id: r.id,
        head_sha: c.sha,
        node_id: `CR_${r.id}`,
        external_id: String(r.id),
        url: `${api}/repos/${repo}/check-runs/${r.id}`,
        html_url: `https://github.com/${repo}/runs/${r.id}`,
        details_url: `https://github.com/${repo}/runs/${r.id}`,
        status: r.status,
        conclusion: r.conclusion,
        started_at: iso(r.startedAt),
        completed_at: r.completedAt ? iso(r.completedAt) : null,
        output: {
          title: r.conclusion ? `${r.name}: ${r.conclusion}` : null,
          summary: null,
          text: null,
          annotations_count: 0,
          annotations_url: `${api}/repos/${repo}/check-runs/${r.id}/annotations`,
        },
        name: r.name,
        check_suite: { id: r.id + 1 },
        app: null,
        pull_requests: [],
      })),
    };
  }

  combinedStatusJson(api: string, repo: string, c: CommitState, repository: unknown): unknown {
    const latest = new Map<string, StatusState_>();
    for (const s of c.statuses) latest.set(s.context, s);
    const statuses = [...latest.values()];
    const state = statuses.some((s) => s.state === 'error' || s.state === 'failure')
      ? 'failure'
      : statuses.length === 0 || statuses.some((s) => s.state === 'pending')
        ? 'pending'
        : 'success';
    return {
      state,
      sha: c.sha,
      total_count: statuses.length,
      statuses: statuses.map((s) => ({
        description: s.description,
        id: s.id,
        node_id: `SC_${s.id}`,
        state: s.state,
        context: s.context,
        target_url: null,
        avatar_url: null,
        url: `${api}/repos/${repo}/statuses/${c.sha}`,
        created_at: iso(s.createdAt),
        updated_at: iso(s.createdAt),
      })),
      repository,
      commit_url: `${api}/repos/${repo}/commits/${c.sha}`,
      url: `${api}/repos/${repo}/commits/${c.sha}/status`,
    };
  }

  requiredJson(api: string, repo: string, branch: string, contexts: string[]): unknown {
    const url = `${api}/repos/${repo}/branches/${branch}/protection/required_status_checks`;
    return {
      url,
      strict: true,
      contexts,
      checks: contexts.map((context) => ({ context, app_id: null })),
      contexts_url: `${url}/contexts`,
    };
  }
}
