import { loadConfigFile } from '../config/load.js';
import { plural } from '../text/plural.js';

/** `backout config check [file]`: every problem with its path, exit code 1 when there is any. */
export async function configCheck(path: string, out: (line: string) => void): Promise<number> {
  const result = await loadConfigFile(path);
  if (result.ok) {
    const services = [...result.config.services.values()];
    const envs = services.reduce((n, s) => n + s.environments.size, 0);
    out(`${path}: OK — ${plural(services.length, 'service')}, ${plural(envs, 'environment')}.`);
    return 0;
  }
  out(`${path}: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}:`);
  for (const p of result.problems) out(`  ${p}`);
  return 1;
}
