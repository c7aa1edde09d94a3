#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { parseEnv } from './config/env.js';
import type { Config } from './config/model.js';
import { loadConfigFile } from './config/load.js';
import { configCheck } from './cli/config-check.js';
import { formatStartupProblems } from './cli/startup-problems.js';
import { prometheusSecretProblems } from './integrations/prometheus/secrets-check.js';
import { kubeconfigProblems } from './integrations/kubernetes/clients.js';
import { CLI_USAGE as USAGE, processIo, runCliCommand } from './cli/run.js';

/** Settings that are each valid alone but not together, and files the environment names. */
function crossCheckProblems(config: Config, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const githubServices = [...config.services.values()].filter((s) => s.github);
  if (githubServices.length > 0 && !env.GITHUB_TOKEN) {
    problems.push(
      `GITHUB_TOKEN is missing: services ${githubServices.map((s) => s.name).join(', ')} name a GitHub repo`,
    );
  }
  const paths = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  for (const path of paths) {
    if (!existsSync(path)) problems.push(`KUBECONFIG names ${path}, which does not exist`);
  }
  problems.push(...prometheusSecretProblems(config, env));
  if (paths.length > 0 && paths.every((p) => existsSync(p)))
    problems.push(...kubeconfigProblems(env.KUBECONFIG));
  return problems;
}

async function start(): Promise<number> {
  const env = parseEnv(process.env);
  const configPath = process.env.BACKOUT_CONFIG || './backout.yml';
  const config = await loadConfigFile(configPath);
  const problems = [
    ...(env.ok ? [] : env.problems),
    ...(config.ok ? [] : config.problems.map((p) => `${configPath}: ${p}`)),
    ...(config.ok ? crossCheckProblems(config.config, process.env) : []),
  ];
  if (!env.ok || !config.ok || problems.length > 0) {
    process.stderr.write(`${formatStartupProblems(problems)}\n`);
    return 1;
  }
  // Loaded here so that the one-shot commands (audit, report, doctor) start without the server.
  const { startBackout } = await import('./app.js');
  const app = await startBackout(env.env, config.config);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      app.log.info({ signal }, 'signal received');
      const hard = setTimeout(() => {
        app.log.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, env.env.BACKOUT_SHUTDOWN_TIMEOUT + 5_000);
      hard.unref();
      app.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === undefined || command === 'start') return start();
  if (command === 'config' && sub === 'check') {
    return configCheck(rest[0] ?? process.env.BACKOUT_CONFIG ?? './backout.yml', (l) =>
      process.stdout.write(`${l}\n`),
    );
  }
  const cli = await runCliCommand(argv, processIo());
  if (cli !== undefined) return cli;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  process.stderr.write(`backout: unknown command "${argv.join(' ')}"\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`backout: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
