import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { parseEnv, type Env } from '../config/env.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/model.js';
import { kubeconfigProblems } from '../integrations/kubernetes/clients.js';
import { prometheusSecretProblems } from '../integrations/prometheus/secrets-check.js';

/** The environment and the config file, checked together: every problem of both, or both values. */
export async function readStartupSettings(
  raw: NodeJS.ProcessEnv,
): Promise<{ ok: true; env: Env; config: Config } | { ok: false; problems: string[] }> {
  const env = parseEnv(raw);
  const configPath = raw.BACKOUT_CONFIG || './backout.yml';
  const config = await loadConfigFile(configPath);
  const problems = [
    ...(env.ok ? [] : env.problems),
    ...crossCheckProblems(config.ok ? config.config : config.raw, raw),
    ...(config.ok ? [] : config.problems.map((p) => `${configPath}: ${p}`)),
  ];
  if (env.ok && config.ok && problems.length === 0) return { ok: true, env: env.env, config: config.config };
  return { ok: false, problems };
}

const isConfig = (v: unknown): v is Config =>
  typeof v === 'object' && v !== null && 'services' in v && v.services instanceof Map;
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Settings that are each valid alone but not together, and files the environment names. Works on a
 * loaded config or on the raw document of an invalid one, so these come in the same message.
 */
function crossCheckProblems(config: unknown, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  let githubServices: string[] = [];
  if (isConfig(config)) {
    githubServices = [...config.services.values()].filter((s) => s.github).map((s) => s.name);
  } else if (isRecord(config) && isRecord(config.services)) {
    githubServices = Object.entries(config.services)
      .filter(([, s]) => isRecord(s) && s.github !== undefined)
      .map(([name]) => name);
  }
  if (githubServices.length > 0 && !env.GITHUB_TOKEN) {
    problems.push(
      githubServices.length === 1
        ? `GITHUB_TOKEN is missing: service ${githubServices[0]} names a GitHub repo`
        : `GITHUB_TOKEN is missing: services ${githubServices.join(', ')} name a GitHub repo`,
    );
  }
  const paths = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  for (const path of paths) {
    if (!existsSync(path)) problems.push(`KUBECONFIG names ${path}, which does not exist`);
  }
  if (paths.length > 0 && paths.every((p) => existsSync(p)))
    problems.push(...kubeconfigProblems(env.KUBECONFIG));
  if (isConfig(config)) problems.push(...prometheusSecretProblems(config, env));
  return problems;
}

/** One message that lists every problem at once and says where to look. */
export function formatStartupProblems(problems: string[]): string {
  return [
    `backout cannot start: ${problems.length} problem${problems.length === 1 ? '' : 's'} with its settings.`,
    ...problems.map((p) => `  - ${p}`),
    '',
    'The variables are described in README.md ("Environment"), the file in README.md ("Configuration file")',
    'and backout.example.yml. Create the Slack app from manifest.yml to get the tokens.',
    '`backout config check` validates the file alone; `backout doctor` checks every connection.',
  ].join('\n');
}
