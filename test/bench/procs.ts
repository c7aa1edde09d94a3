/**
 * Child processes of the bench (backout, the baselines, the load generator), kept track of so that
 * every one of them is stopped even when the bench fails, plus resident-memory readings from /proc.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RoundRequest, RoundResult } from './loadgen.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');

const live = new Set<ChildProcess>();

/** Remembers a child so that `killAllChildren` can end it. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** SIGKILLs every child still running (synchronous, so it also works from an `exit` handler). */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

export interface Child {
  process: ChildProcess;
  output: string[];
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Forks one of the bench's TypeScript entry points (through tsx) and waits for its `ready` message. */
export async function forkChild(
  file: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Child> {
  const child = fork(join(HERE, file), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  track(child);
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${file} was not ready after ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ready') done();
    };
    const onExit = (code: number | null) => fail(new Error(`${file} exited (${code}) before it was ready`));
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (err: Error) => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${output.join('')}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  return { process: child, output, stop: (graceMs) => stopProcess(child, graceMs) };
}

/** Talks to test/bench/loadgen.ts: one message per round of concurrent requests. */
export class LoadGenerator {
  private next = 0;
  private readonly pending = new Map<number, (r: RoundResult) => void>();

  constructor(readonly child: Child) {
    child.process.on('message', (m: unknown) => {
      const reply = m as Partial<RoundResult>;
      if (typeof reply.id !== 'number') return;
      this.pending.get(reply.id)?.(reply as RoundResult);
      this.pending.delete(reply.id);
    });
  }

  static async start(): Promise<LoadGenerator> {
    return new LoadGenerator(await forkChild('loadgen.ts', {}));
  }

  round(
    url: string,
    secret: string,
    forms: Record<string, string>[],
    sequential = false,
  ): Promise<RoundResult> {
    const id = this.next++;
    const msg: RoundRequest = { id, url, secret, forms, sequential };
    return new Promise((resolve, reject) => {
      this.pending.set(id, resolve);
      this.child.process.send(msg, (err) => {
        if (err) reject(err);
      });
    });
  }
}

/** Runs a command to completion, collecting its output. */
export function run(
  cmd: string,
  args: string[],
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output, ms: performance.now() - started }));
  });
}

export interface Memory {
  /** Resident set size now (VmRSS), in MB (10^6 bytes). */
  rssMb: number;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakMb: number;
}

/** Reads a process's resident memory from /proc/<pid>/status. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssMb: (kb('VmRSS') * 1024) / 1e6, peakMb: (kb('VmHWM') * 1024) / 1e6 };
}

/**
 * Samples RSS every `intervalMs` until the last `window` samples lie within `toleranceMb` of each other
 * (or `maxMs` passed), and returns the last sample with how long it took to settle.
 */
export async function settledMemory(
  pid: number,
  opts: { intervalMs?: number; window?: number; toleranceMb?: number; maxMs?: number } = {},
): Promise<Memory & { waitedMs: number; settled: boolean }> {
  const { intervalMs = 500, window = 4, toleranceMb = 1, maxMs = 15_000 } = opts;
  const started = Date.now();
  const samples: number[] = [];
  for (;;) {
    const m = memoryOf(pid);
    samples.push(m.rssMb);
    const recent = samples.slice(-window);
    const settled = recent.length === window && Math.max(...recent) - Math.min(...recent) <= toleranceMb;
    const waitedMs = Date.now() - started;
    if (settled || waitedMs >= maxMs) return { ...m, waitedMs, settled };
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Puts a phase's section into BENCHMARKS.md between its markers, replacing an earlier one. */
export function writeMarkedSection(markdown: string, start: string, end: string): void {
  const file = join(ROOT, 'BENCHMARKS.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from !== -1 && to !== -1
      ? `${current.slice(0, from)}${markdown}${current.slice(to + end.length)}`
      : `${current.trimEnd()}\n\n${markdown}\n`;
  writeFileSync(file, next);
}

/** Where a process's resident memory lies, MB, by kind of mapping (from /proc/<pid>/smaps). */
export interface RssByMapping {
  /** glibc malloc's main arena (`[heap]`, grown with brk). */
  mallocMb: number;
  /** Anonymous mappings: V8's heap pages and code, thread stacks, other malloc arenas, large mallocs. */
  anonymousMb: number;
  /** Pages of the `node` executable itself (its code and read-only data, e.g. ICU). */
  binaryMb: number;
  /** Other file-backed pages (shared libraries, mapped files). */
  filesMb: number;
}

/** The mapping in one line, for the bench's log. */
export function describeMapping(m: RssByMapping): string {
  return `malloc [heap] ${m.mallocMb.toFixed(1)} MB, other anonymous ${m.anonymousMb.toFixed(1)} MB, node binary ${m.binaryMb.toFixed(1)} MB, other files ${m.filesMb.toFixed(1)} MB`;
}

export function rssByMapping(pid: number): RssByMapping {
  const by = { mallocMb: 0, anonymousMb: 0, binaryMb: 0, filesMb: 0 };
  let kind: keyof RssByMapping = 'anonymousMb';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1] ?? '';
      kind =
        name === '[heap]'
          ? 'mallocMb'
          : name.startsWith('/')
            ? /\/node$/.test(name)
              ? 'binaryMb'
              : 'filesMb'
            : 'anonymousMb';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) by[kind] += (Number(rss[1]) * 1024) / 1e6;
  }
  return by;
}
