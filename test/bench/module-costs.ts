import { spawnSync } from 'node:child_process';
import { ROOT } from './procs.js';

/** The libraries backout loads at start-up, in the order measured (each adds to the ones before). */
export const MEASURED_MODULES = [
  '@slack/bolt',
  'bullmq',
  'ioredis',
  'zod',
  'yaml',
  'pino',
  'prom-client',
  '@octokit/rest',
  '@kubernetes/client-node',
] as const;

export interface ModuleCost {
  module: string;
  /** RSS after importing this module and every one before it, MB. */
  rssMb: number;
  /** What this module added, MB. */
  addedMb: number;
}

/**
 * Where idle memory goes: a fresh Node process (same flags as `npm start`) imports the
 * libraries one after the other and reports its RSS after each, settled. Measured in this
 * run, on this machine.
 */
export function measureModuleCosts(
  flags: string[],
  env: Record<string, string>,
): { baseMb: number; modules: ModuleCost[] } {
  const script = `
    const mods = ${JSON.stringify(MEASURED_MODULES)};
    const settle = () => new Promise((r) => setTimeout(r, 300));
    (async () => {
      const rows = [];
      await settle();
      rows.push(['node', process.memoryUsage().rss]);
      for (const m of mods) { await import(m); await settle(); rows.push([m, process.memoryUsage().rss]); }
      process.stdout.write(JSON.stringify(rows));
    })();`;
  const run = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const rows = JSON.parse(run.stdout) as [string, number][];
  const baseMb = rows[0]![1] / 1e6;
  const modules = rows.slice(1).map(([module, rss], i) => ({
    module,
    rssMb: rss / 1e6,
    addedMb: (rss - rows[i]![1]) / 1e6,
  }));
  return { baseMb, modules };
}
