import { createRequire } from 'node:module';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import type Koffi from 'koffi';

/** At most one trim per this long: a trim after a burst of major collections is enough. */
const MIN_INTERVAL_MS = 1_000;

type Trim = () => void;

/**
 * glibc's malloc only gives memory back to the system from the top of its heap. After a burst of
 * jobs (sockets, parsers, compiled code, buffers), what was freed in the middle stays resident:
 * tens of MB that the process no longer uses. `malloc_trim(0)` hands those pages back (Ruby does
 * the same after its full collections). Without glibc (musl), or if the FFI library cannot load,
 * this is a no-op.
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
  /** Gives freed malloc memory back now. */
  trimNow(): void;
  stop(): void;
}

/**
 * After every major (mark-compact) collection, once per second at most: the collection has just
 * freed what the heap's objects held outside it, so this is when there is memory to give back.
 * The observer costs one callback per collection; the trim, a walk of malloc's free lists.
 */
export function returnFreedMemoryAfterMajorGcs(): FreedMemoryReturner {
  const trim = loadTrim();
  if (!trim) return { active: false, trimNow: () => undefined, stop: () => undefined };
  let lastAt = 0;
  let pending: NodeJS.Timeout | undefined;
  const trimNow = () => {
    pending = undefined;
    lastAt = Date.now();
    trim();
  };
  const observer = new PerformanceObserver((list) => {
    if (pending) return;
    const major = list
      .getEntries()
      .some(
        (e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR,
      );
    if (!major) return;
    pending = setTimeout(trimNow, Math.max(0, lastAt + MIN_INTERVAL_MS - Date.now()));
    pending.unref();
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    active: true,
    trimNow,
    stop: () => {
      observer.disconnect();
      if (pending) clearTimeout(pending);
    },
  };
}
