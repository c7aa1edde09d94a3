import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Runs in a child: 2,000 buffers of 32 KB (malloc's heap, below its mmap threshold), one in twenty
// kept so that glibc cannot give the rest back from the top, then a major collection frees the others.
const SCRIPT = `
import { readFileSync } from 'node:fs';
const { returnFreedMemoryAfterMajorGcs } = await import('./src/observability/return-freed-memory.ts');
const { waitFor } = await import('./test/kit/wait.ts');
const heapMb = () => {
  const smaps = readFileSync('/proc/self/smaps', 'utf8');
  const at = smaps.indexOf('[heap]');
  return at < 0 ? 0 : Number(/\\nRss:\\s+(\\d+) kB/.exec(smaps.slice(at))[1]) / 1024;
};
const returner = returnFreedMemoryAfterMajorGcs();
let all = Array.from({ length: 2000 }, (_, i) => Buffer.alloc(32 * 1024, i));
const kept = all.filter((_, i) => i % 20 === 0);
const allocated = heapMb();
all = undefined;
globalThis.gc();
const afterGc = heapMb();
// Two and a half seconds of a busy event loop (40 ms of work every 50 ms): no trim in a burst.
let busyLowest = afterGc;
await new Promise((resolve) => {
  const until = Date.now() + 2_500;
  const tick = setInterval(() => {
    const end = performance.now() + 40;
    while (performance.now() < end);
    busyLowest = Math.min(busyLowest, heapMb());
    if (Date.now() >= until) {
      clearInterval(tick);
      resolve();
    }
  }, 50);
});
const trimsWhileBusy = returner.trims;
// Then quiet. The wait looks only at the trim count: reading /proc/self/smaps takes milliseconds, and
// on a loaded machine polling it would itself keep the event loop from counting as quiet.
await waitFor(() => returner.trims > trimsWhileBusy || undefined, {
  timeoutMs: 15_000,
  intervalMs: 100,
  what: 'a trim once the process is quiet',
}).catch(() => undefined);
const returned = heapMb();
returner.stop();
console.log(JSON.stringify({ active: returner.active, kept: kept.length, allocated, afterGc, busyLowest, trimsWhileBusy, trims: returner.trims, returned }));
`;

describe('returning freed memory after major collections', () => {
  it('gives back what a collection freed in the middle of malloc’s heap (which glibc keeps on its own) once the process is quiet', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', SCRIPT],
      { cwd: ROOT, timeout: 30_000 },
    );
    const r = JSON.parse(stdout.trim()) as {
      active: boolean;
      kept: number;
      allocated: number;
      afterGc: number;
      busyLowest: number;
      trimsWhileBusy: number;
      trims: number;
      returned: number;
    };
    expect(r.active).toBe(true);
    expect(r.kept).toBe(100);
    expect(r.allocated).toBeGreaterThan(60);
    // The collection freed 95 % of the buffers, yet glibc alone kept their pages resident...
    expect(r.afterGc).toBeGreaterThan(r.allocated * 0.9);
    // ...and the trim waited while the event loop was busy...
    expect(r.trimsWhileBusy).toBe(0);
    expect(r.busyLowest).toBeGreaterThan(r.allocated * 0.9);
    // ...then, once it was quiet, trimmed once and handed them back.
    expect(r.trims).toBe(1);
    expect(r.returned).toBeLessThan(r.allocated / 4);
  });
});
