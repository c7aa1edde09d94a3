import { execFile } from 'node:child_process';
import { access, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { KubeClients } from '../integrations/kubernetes/clients.js';
import { DEPLOYMENTS } from '../integrations/kubernetes/resources.js';
import { parseArgs, stringFlag } from './args.js';
import type { CliIo } from './context.js';

const LOOKUP_TIMEOUT_MS = 3_000;

/** What `backout init` found on this machine. */
export interface Discovery {
  /** Deployments per context, in the context's namespace (empty when it could not be listed). */
  contexts: { name: string; namespace: string; deployments: string[]; problem?: string }[];
  /** `owner/name` of the current directory's git remote, when it has one. */
  repo?: string;
  notes: string[];
}

/** `owner/name` from a git remote URL (https, ssh or scp-like), or undefined. */
export function repoOfRemote(url: string): string | undefined {
  const m =
    /^(?:[\w+]+:\/\/(?:[^@/]+@)?[^/]+(?::\d+)?\/|[^@:/]+@[^:]+:)([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(
      url.trim(),
    );
  return m ? `${m[1]}/${m[2]}` : undefined;
}

const asName = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63) || 'default';

async function discover(env: NodeJS.ProcessEnv, cwd: string): Promise<Discovery> {
  const notes: string[] = [];
  const contexts: Discovery['contexts'] = [];
  try {
    const kube = new KubeClients(env.KUBECONFIG);
    for (const name of await kube.contexts()) {
      const namespace = (await kube.namespaceOf(name)) ?? 'default';
      try {
        const list = await Promise.race([
          kube
            .for(name)
            .then((api) =>
              api.get<{ items: { metadata?: { name?: string } }[] }>({ ...DEPLOYMENTS, namespace }),
            ),
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error(`no answer within ${LOOKUP_TIMEOUT_MS / 1000} s`)),
              LOOKUP_TIMEOUT_MS,
            ).unref(),
          ),
        ]);
        contexts.push({
          name,
          namespace,
          deployments: list.items.map((d) => d.metadata?.name ?? '').filter(Boolean),
        });
      } catch (err) {
        const problem = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        contexts.push({ name, namespace, deployments: [], problem });
        notes.push(`context ${name}: could not list Deployments in ${namespace} (${problem})`);
      }
    }
    if (contexts.length === 0) notes.push('the kubeconfig has no contexts');
  } catch (err) {
    notes.push(`no kubeconfig read (${err instanceof Error ? err.message : String(err)})`);
  }
  let repo: string | undefined;
  try {
    const { stdout } = await promisify(execFile)('git', ['remote', 'get-url', 'origin'], {
      cwd,
      timeout: LOOKUP_TIMEOUT_MS,
    });
    repo = repoOfRemote(stdout);
    if (!repo) notes.push(`the git remote "origin" (${stdout.trim()}) does not name owner/repo`);
  } catch {
    notes.push('no git remote "origin" in this directory');
  }
  return { contexts, ...(repo ? { repo } : {}), notes };
}

/** The commented backout.yml for what was discovered; always a valid config. */
export function renderInit(found: Discovery): string {
  const byDeployment = new Map<string, { context: string; namespace: string }[]>();
  for (const c of found.contexts) {
    for (const d of c.deployments) {
      byDeployment.set(d, [...(byDeployment.get(d) ?? []), { context: c.name, namespace: c.namespace }]);
    }
  }
  const lines = [
    '# backout configuration, written by `backout init`. Check it with `backout config check`;',
    '# backout.example.yml shows every key. Durations are strings: 500ms, 90s, 15m, 2h, 1d.',
    '# Secrets never go here: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and GITHUB_TOKEN come from the environment.',
    ...found.notes.map((n) => `# Not found: ${n}.`),
    '',
    'slack:',
    '  incidentChannel: C0CHANGEME         # TODO: the id (C0…) of the channel where incident threads go',
    '',
    'policy:',
    '  requesters: { users: [], usergroups: [] }   # empty: anyone in the workspace may ask',
    '  approvers: { users: [], usergroups: [] }    # TODO: Slack user ids (U0…) and user group ids (S0…); empty: anyone but the requester',
    '  approval: required                  # required | not-required',
    '  twoPerson: true                     # the approver must not be the requester',
    '  approvalTtl: 15m                    # a pending request expires after this',
    '',
    'services:',
  ];
  const repoLine = found.repo
    ? [`    github: { repo: ${found.repo} }   # from this directory's git remote: releases for /retract`]
    : ['    # github: { repo: owner/name }   # releases for /retract'];
  if (byDeployment.size === 0) {
    const context = found.contexts[0];
    lines.push(
      '  # TODO: no Deployment was found; name yours here (one entry per service).',
      `  ${asName(found.repo?.split('/')[1] ?? 'my-service')}:`,
      ...repoLine,
      '    environments:',
      '      production:',
      '        default: true                 # used when a command names no --env',
      `        kubernetes: { context: ${context?.name ?? 'prod'}, namespace: ${context?.namespace ?? 'default'}, deployment: my-service }   # TODO`,
    );
  }
  for (const [deployment, places] of [...byDeployment].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${asName(deployment)}:`, ...repoLine, '    environments:');
    const seen = new Set<string>();
    places.forEach((p, i) => {
      let env = asName(p.context);
      while (seen.has(env)) env = `${env}-${p.namespace}`.slice(0, 63);
      seen.add(env);
      lines.push(
        `      ${env}:`,
        ...(i === 0 ? ['        default: true                 # used when a command names no --env'] : []),
        `        kubernetes: { context: ${p.context}, namespace: ${p.namespace}, deployment: ${deployment} }`,
        "        # channel: C0…                # this environment's incident channel",
        '        # health: { probes: [{ url: "https://…/healthz/ready" }], stabilityWindow: 2m }',
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

/** `backout init [--out <file>] [--force]`. */
export async function init(argv: readonly string[], io: CliIo, cwd = process.cwd()): Promise<number> {
  const args = parseArgs(argv, { valued: ['out'], booleans: ['force'] });
  const out = stringFlag(args, 'out') ?? './backout.yml';
  if (out !== '-' && !args.flags.has('force')) {
    const exists = await access(out).then(
      () => true,
      () => false,
    );
    if (exists) {
      io.err(
        `backout init: ${out} exists already; nothing was written. Use --force to overwrite it, or --out <file>.`,
      );
      return 1;
    }
  }
  const found = await discover(io.env, cwd);
  const text = renderInit(found);
  if (out === '-') {
    io.write(text);
    return 0;
  }
  await writeFile(out, text);
  const services = found.contexts.reduce((n, c) => n + c.deployments.length, 0);
  io.out(
    `Wrote ${out}: ${found.contexts.length} kube context${found.contexts.length === 1 ? '' : 's'}, ${services} Deployment${services === 1 ? '' : 's'}${found.repo ? `, GitHub repo ${found.repo}` : ''}.`,
  );
  io.out('Next: fill in the TODOs, then `backout config check` and `backout doctor`.');
  return 0;
}
