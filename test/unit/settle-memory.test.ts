import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('releasing start-up memory', () => {
  it('runs a full collection in a process started without --expose-gc, and leaves no gc() behind', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { releaseStartupMemory } = await import('./src/observability/settle-memory.ts');
const before = process.memoryUsage().heapUsed;
globalThis.garbage = Array.from({ length: 200_000 }, (_, i) => ({ i, s: 'x' + i }));
delete globalThis.garbage;
releaseStartupMemory();
releaseStartupMemory();
console.log(JSON.stringify({ gc: typeof globalThis.gc, collected: process.memoryUsage().heapUsed < before + 5e6 }));`,
      ],
      { cwd: ROOT, timeout: 30_000 },
    );
    expect(JSON.parse(stdout.trim())).toEqual({ gc: 'undefined', collected: true });
  });
});
