import { createRequire } from 'node:module';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import type Koffi from 'koffi';

/** How often a wanted trim looks whether the process has gone quiet. */
const CHECK_MS = 250;
/** Quiet: the event loop busy less than this share of a check's interval... */
const QUIET_UTILIZATION = 0.05;
/** ...for this many checks in a row (two seconds: longer than the lulls between a burst's waves). */
const QUIET_CHECKS = 8;

type Trim = () => void;

/**
 * glibc's malloc only gives memory back to the system from the top of its heap. After a burst of
 * jobs (sockets, parsers, buffers), what was freed in the middle stays resident: tens of MB that
 * the process no longer uses. `malloc_trim(0)` hands those pages back (Ruby does the same after its
 * full collections). Without glibc (musl), or if the FFI library cannot load, there is nothing to do.
 */
function loadTrim(): Trim | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // Loaded only here: an FFI binding for one libc call, taken from the process's own symbols.
    const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
    const mallocTrim = koffi.load(null).func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return () => void mallocTrim(0);
  } catch {
    return undefined;
  }
}

export interface FreedMemoryReturner {
  /** Whether trimming is available here (glibc). */
  readonly active: boolean;
  /** How many trims have run (so a caller can tell one happened without reading /proc). */
  readonly trims: number;
  /** Gives freed malloc memory back now. */
  trimNow(): void;
  stop(): void;
}

/**
 * After a major (mark-compact) collection, which is what frees the memory the heap's objects held
 * outside it, trims once the process is quiet. A trim walks malloc's free lists and returns their
 * pages, holding malloc's lock: a few ms on a tidy heap, tens of ms on one a burst left fragmented.
 * So it waits for two seconds in which the event loop was nearly idle, never in the middle of a
 * burst (whose freed memory would be taken again anyway), and runs once per quiet spell.
 */
export function returnFreedMemoryAfterMajorGcs(): FreedMemoryReturner {
  const trim = loadTrim();
  if (!trim) return { active: false, trims: 0, trimNow: () => undefined, stop: () => undefined };
  let timer: NodeJS.Timeout | undefined;
  let since = performance.eventLoopUtilization();
  let quietChecks = 0;
  let trims = 0;
  const trimNow = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    trim();
    trims += 1;
  };
  const whenQuiet = () => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, since).utilization;
    since = now;
    quietChecks = busy < QUIET_UTILIZATION ? quietChecks + 1 : 0;
    if (quietChecks >= QUIET_CHECKS) trimNow();
    else schedule();
  };
  const schedule = () => {
    timer = setTimeout(whenQuiet, CHECK_MS);
    timer.unref();
  };
  const observer = new PerformanceObserver((list) => {
    if (timer) return;
    const major = list
      .getEntries()
      .some(
        (e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR,
      );
    if (!major) return;
    since = performance.eventLoopUtilization();
    quietChecks = 0;
    schedule();
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    active: true,
    get trims() {
      return trims;
    },
    trimNow,
    stop: () => {
      observer.disconnect();
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
