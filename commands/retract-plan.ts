import type { Config, Policy, ServiceConfig } from '../src/config/model.js';
import { pickEnvironment } from '../src/config/model.js';
import { asBackoutError, NotFoundError, UsageError } from '../src/errors.js';
import { notesDigest, retractedBy } from '../src/integrations/github/banner.js';
import type { Retractions } from '../src/integrations/github/retractions.js';
import { defaultReplacement, whyNotReplacement } from '../src/integrations/github/selection.js';
import type { Release, Releases, RepoRef } from '../src/integrations/github/types.js';
import type { Deployments } from '../src/integrations/kubernetes/types.js';
import { checkRequester } from '../src/policy/policy.js';
import type { RequestFlow } from '../src/requests/flow.js';
import type { BackoutRequest } from '../src/requests/types.js';
import { ephemeral } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import { closest } from '../src/text/suggest.js';
import type { RetractPlan, RunningEnv } from '../jobs/retract-plan.js';
import { runningTag } from './retract-running.js';
import { filedText } from './rollback.js';
import { placeFor, resolveService, type Invocation } from './shared.js';
import { plural } from '../src/text/plural.js';

export interface RetractDeps {
  config: Config;
  releases: Releases;
  retractions: Retractions;
  deployments: Deployments;
  directory: Directory;
  flow: RequestFlow;
}

/** The service's GitHub repo, or a UsageError saying how to configure one. */
export function repoOf(service: ServiceConfig): RepoRef {
  if (service.github) return service.github;
  throw new UsageError(
    `${service.name} has no GitHub repo in the config, so it has no releases to retract.`,
    {
      hint: `Add \`github: { repo: owner/name }\` under services.${service.name} in the config.`,
    },
  );
}

/** Resolves the service and checks it has a repo (synchronous, for the acknowledgement). */
export function resolveReleaseService(
  config: Config,
  name: string,
): { service: ServiceConfig; repo: RepoRef } {
  const service = resolveService(config, name);
  return { service, repo: repoOf(service) };
}

function recentTags(releases: Release[], max = 10): string {
  const shown = releases
    .slice(0, max)
    .map((r) => `\`${r.tag}\`${r.draft ? ' (draft)' : r.prerelease ? ' (pre-release)' : ''}`);
  return shown.length ? `Recent releases: ${shown.join(', ')}.` : 'The repo has no releases yet.';
}

/** A release by tag: from the recent list, else by tag; refuses unknown tags (listing recent ones) and drafts. */
export async function findRelease(
  deps: RetractDeps,
  repo: RepoRef,
  recent: Release[],
  tag: string,
): Promise<Release> {
  const found = recent.find((r) => r.tag === tag) ?? (await deps.releases.byTag(repo, tag));
  if (!found) {
    const guess = closest(
      tag,
      recent.map((r) => r.tag),
    );
    throw new NotFoundError(
      `${repo.fullName} has no release \`${tag}\`.${guess ? ` Did you mean \`${guess}\`?` : ''} Nothing was changed.`,
      { hint: recentTags(recent) },
    );
  }
  if (found.draft) {
    throw new UsageError(
      `\`${tag}\` of ${repo.fullName} is a draft: it was never published, so nobody can have installed it and there is nothing to retract. Nothing was changed.`,
      { hint: 'Edit or delete the draft on GitHub instead.' },
    );
  }
  return found;
}

/** Environments of the service that run the tag, with where a rollback would take each. */
async function runningEnvs(deps: RetractDeps, service: ServiceConfig, tag: string): Promise<RunningEnv[]> {
  const out: RunningEnv[] = [];
  for (const env of service.environments.values()) {
    try {
      const found = runningTag(await deps.deployments.history(env.kubernetes), tag);
      if (!found.runs) continue;
      out.push({
        environment: env.name,
        from: found.from,
        ...(found.to ? { to: found.to } : {}),
        ...(found.problem ? { problem: found.problem } : {}),
      });
    } catch (err) {
      out.push({
        environment: env.name,
        problem: `could not read its Deployment: ${asBackoutError(err).message.split('\n')[0] ?? ''}`,
      });
    }
  }
  return out;
}

/**
 * The approval rule of a retraction: the service's policy, made strict enough for every
 * environment it will roll back (their rollbacks are children covered by this approval).
 */
function retractionPolicy(service: ServiceConfig, rollbackEnvs: string[]): Policy {
  const envs = rollbackEnvs.map((name) => service.environments.get(name)).filter((e) => e !== undefined);
  return {
    ...service.policy,
    approval: envs.some((e) => e.policy.approval === 'required') ? 'required' : service.policy.approval,
    twoPerson:
      service.policy.twoPerson || envs.some((e) => e.policy.twoPerson && e.policy.approval === 'required'),
  };
}

export function servicePlace(deps: RetractDeps, service: ServiceConfig, inv: Invocation) {
  const channel = service.channel ?? pickEnvironment(service)?.channel;
  return placeFor(deps.config, channel ? { channel } : undefined, inv);
}

/**
 * `/retract <service>@<tag>`: reads the release, its assets, the latest release and the
 * Deployments running it, picks the replacement, and files the request. An already retracted
 * release, an unknown tag or a draft changes nothing and says so.
 */
export async function planRetraction(
  cmd: {
    service: string;
    tag: string;
    reason?: string;
    replacement?: string;
    deleteAssets: boolean;
    rollback: boolean;
  },
  inv: Invocation,
  deps: RetractDeps,
): Promise<{ message: SlackMessage; request?: BackoutRequest }> {
  const { service, repo } = resolveReleaseService(deps.config, cmd.service);
  await checkRequester(inv.user, service.policy, deps.directory, `retract releases of ${service.name}`);
  const recent = await deps.releases.recent(repo, 100);
  const release = await findRelease(deps, repo, recent, cmd.tag);
  const by = retractedBy(release.body);
  if (by) {
    return {
      message: ephemeral(
        `:information_source: \`${release.tag}\` of ${repo.fullName} is already retracted (by request \`${by}\`), so nothing was changed.\nTo restore it: \`/retract undo ${service.name}@${release.tag}\`.`,
      ),
    };
  }
  let replacement: Release | undefined;
  if (cmd.replacement) {
    replacement = await findRelease(deps, repo, recent, cmd.replacement);
    const why = whyNotReplacement(replacement);
    if (why) {
      throw new UsageError(`\`${replacement.tag}\` cannot be the replacement: ${why}. Nothing was changed.`, {
        hint: 'Name a published release that is neither a pre-release nor retracted, or leave --replacement out.',
      });
    }
  } else {
    replacement = defaultReplacement(recent, release);
  }
  const [latest, assets, running] = await Promise.all([
    deps.releases.latest(repo),
    deps.releases.assets(repo, release.id),
    runningEnvs(deps, service, release.tag),
  ]);
  const plan: RetractPlan = {
    service: service.name,
    repo,
    release: {
      id: release.id,
      tag: release.tag,
      name: release.name,
      htmlUrl: release.htmlUrl,
      prerelease: release.prerelease,
      immutable: release.immutable,
      notesDigest: notesDigest(release.body),
      notesLength: (release.body ?? '').length,
      updatedAt: release.updatedAt,
    },
    assets,
    latest: latest ? { id: latest.id, tag: latest.tag } : null,
    replacement: replacement
      ? {
          id: replacement.id,
          tag: replacement.tag,
          url: replacement.htmlUrl,
          named: cmd.replacement !== undefined,
        }
      : null,
    makeLatest:
      replacement && latest?.id === release.id ? { id: replacement.id, tag: replacement.tag } : null,
    deleteAssets: cmd.deleteAssets,
    rollback: cmd.rollback,
    running,
  };
  const deletes = cmd.deleteAssets && !release.immutable && assets.length > 0;
  const rollbacks = cmd.rollback ? running.filter((r) => !r.problem).map((r) => r.environment) : [];
  const title = `Retract ${service.name} ${release.tag}${plan.makeLatest ? `; ${plan.makeLatest.tag} becomes latest` : ''}${deletes ? `; delete ${plural(assets.length, 'asset')}` : ''}${rollbacks.length ? `; roll back ${rollbacks.join(', ')}` : ''}`;
  const request = await deps.flow.file({
    kind: 'retract',
    service: service.name,
    target: `${service.name}/releases`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason ? { reason: cmd.reason } : {}),
    plan,
    title,
    policy: retractionPolicy(service, rollbacks),
    ...(deletes ? { irreversible: [`deleting ${plural(assets.length, 'release asset')}`] } : {}),
    slack: servicePlace(deps, service, inv),
  });
  return { message: ephemeral(filedText(request)), request };
}
