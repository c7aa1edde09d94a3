import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding backout's package.json (and manifest.yml), found by walking up
 * from this module, so it is the same from `src/` (tsx) and from `dist/src/` (built).
 */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && readPackage(pkg).name === 'backout') return dir;
    if (dirname(dir) === dir) throw new Error("cannot find backout's package.json above this module");
  }
}

/** backout's version from package.json, or `unknown` when it cannot be read. */
export function packageVersion(): string {
  try {
    const version = readPackage(join(packageRoot(), 'package.json')).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function readPackage(path: string): { name?: unknown; version?: unknown } {
  return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
}
