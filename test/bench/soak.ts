/**
 * The soak: a backout process (role `all`) driven with a steady mix of commands for a fixed time
 * (`npm run bench -- --soak 30m`; `BENCH_ONLY=soak` runs 2 minutes), its live heap and RSS read after
 * a forced GC at regular intervals. A leak shows as a slope; the figure is the least-squares slope
 * of each over the run after its first quarter (start-up caches and JIT settle in that part).
 */
import { join } from 'node:path';
import { PEOPLE } from '../kit/world.js';
import type { BotProcess } from '../kit/process.js';
import { Inspector } from './inspect.js';
import { settledMemory } from './procs.js';
import type { BenchService } from './setup.js';

export interface SoakSample {
  atMs: number;
  heapUsedMb: number;
  rssMb: number;
}

export interface SoakFigures {
  durationMs: number;
  commands: number;
  /** Commands per kind sent. */
  mix: Record<string, number>;
  samples: SoakSample[];
  /** MB per minute, least squares over the samples after the first quarter of the run. */
  heapSlopeMbPerMin: number;
  rssSlopeMbPerMin: number;
}

/** Least-squares slope of y over x (x in ms), in y per minute. */
function slopePerMin(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60_000;
}

/** Parses `30m`, `90s`, `1h` or plain milliseconds. */
export function parseSoakDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`--soak ${text}: give a duration such as 30m, 90s or 1h`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

export async function benchSoak(opts: {
  bot: BotProcess;
  services: BenchService[];
  durationMs: number;
  /** Time between samples. */
  sampleEveryMs?: number;
  log: (line: string) => void;
}): Promise<SoakFigures> {
  const { bot, services, durationMs } = opts;
  const sampleEveryMs = opts.sampleEveryMs ?? Math.max(5_000, Math.floor(durationMs / 40));
  const pid = bot.child.pid!;
  const inspector = await Inspector.open(bot.child, bot.output);
  const samples: SoakSample[] = [];
  const mix: Record<string, number> = { help: 0, history: 0, rollback: 0, usage: 0 };
  const started = Date.now();
  // BENCH_HEAP_SNAPSHOTS=<dir>: a heap snapshot at the end of the first quarter and at the end, to diff.
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  let snapped = false;
  const sample = async () => {
    const heap = await inspector.collect();
    if (snapshots && !snapped && Date.now() - started >= durationMs / 4) {
      snapped = true;
      await inspector.snapshot(join(snapshots, 'soak-quarter.heapsnapshot'));
    }
    const rss = (await settledMemory(pid, { maxMs: 2_000 })).rssMb;
    samples.push({ atMs: Date.now() - started, heapUsedMb: heap.heapUsedMb, rssMb: rss });
    opts.log(
      `  soak ${((Date.now() - started) / 1000).toFixed(0)} s: heap ${heap.heapUsedMb.toFixed(1)} MB, RSS ${rss.toFixed(1)} MB`,
    );
  };
  try {
    await sample();
    let i = 0;
    let nextSample = Date.now() + sampleEveryMs;
    while (Date.now() - started < durationMs) {
      const s = services[i % services.length]!;
      // Each second: a help, a history, a usage error and a rollback (a job, cards, thread replies).
      const sends: [string, string, string][] = [
        ['help', 'help', PEOPLE.checkout],
        ['history', `${s.name} history`, s.channel],
        ['usage', `${s.name} --to`, s.channel],
        ['rollback', `${s.name} --reason soak`, s.channel],
      ];
      await Promise.all(
        sends.map(async ([kind, text, channel]) => {
          mix[kind] = (mix[kind] ?? 0) + 1;
          await bot.client
            .command({ command: '/rollback', text, user_id: PEOPLE.requester, channel_id: channel })
            .catch(() => undefined);
        }),
      );
      i += 1;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (Date.now() >= nextSample) {
        await sample();
        nextSample = Date.now() + sampleEveryMs;
      }
    }
    await sample();
    if (snapshots) await inspector.snapshot(join(snapshots, 'soak-end.heapsnapshot'));
  } finally {
    inspector.close();
  }
  const settled = samples.filter((x) => x.atMs >= durationMs / 4);
  return {
    durationMs: Date.now() - started,
    commands: Object.values(mix).reduce((a, b) => a + b, 0),
    mix,
    samples,
    heapSlopeMbPerMin: slopePerMin(settled.map((x) => ({ x: x.atMs, y: x.heapUsedMb }))),
    rssSlopeMbPerMin: slopePerMin(settled.map((x) => ({ x: x.atMs, y: x.rssMb }))),
  };
}

export const SOAK_MARKS = { start: '<!-- soak-bench:start -->', end: '<!-- soak-bench:end -->' };
/** "No growth": the live heap after GC may drift by at most this much per minute (3 MB over 30 min). */
export const SOAK_HEAP_SLOPE_MB_PER_MIN = 0.1;

export function renderSoak(f: SoakFigures | undefined, failure?: string): string {
  const out: string[] = [SOAK_MARKS.start, '## Soak: memory over time under mixed commands', ''];
  if (!f) {
    out.push(`**not measured**${failure ? `: ${failure}` : ''}`, '', SOAK_MARKS.end);
    return out.join('\n');
  }
  const minutes = (f.durationMs / 60_000).toFixed(1);
  const met = f.heapSlopeMbPerMin <= SOAK_HEAP_SLOPE_MB_PER_MIN;
  out.push(
    `One backout process (role \`all\`, built output, started with \`--inspect-port=127.0.0.1:0\`), driven for ${minutes} min ` +
      `(\`npm run bench -- --soak <duration>\`; \`BENCH_ONLY=soak\` runs 2 min) with, every second, one \`/rollback help\`, one ` +
      '`/rollback svc-NNN history`, one usage error and one `/rollback svc-NNN --reason soak` (a job, its card and thread), ' +
      `the services in rotation: ${f.commands} commands (${Object.entries(f.mix)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')}). ` +
      `At ${f.samples.length} points a full GC is forced through the inspector and the live heap and RSS read. ` +
      'Slope = least squares over the samples after the first quarter of the run.',
    '',
    '| | first sample | last sample | slope |',
    '|---|---|---|---|',
    `| Live heap after GC | ${f.samples[0]!.heapUsedMb.toFixed(1)} MB | ${f.samples.at(-1)!.heapUsedMb.toFixed(1)} MB | ${f.heapSlopeMbPerMin.toFixed(3)} MB/min |`,
    `| RSS after GC | ${f.samples[0]!.rssMb.toFixed(1)} MB | ${f.samples.at(-1)!.rssMb.toFixed(1)} MB | ${f.rssSlopeMbPerMin.toFixed(3)} MB/min |`,
    '',
    `Verdict (live heap slope ≤ ${SOAK_HEAP_SLOPE_MB_PER_MIN} MB/min): ${met ? '**met**' : `**gap**: ${f.heapSlopeMbPerMin.toFixed(3)} MB/min`}.` +
      (f.durationMs < 30 * 60_000
        ? ` A ${minutes}-minute run; issue 18 asks for 30 minutes (\`npm run bench -- --soak 30m\`).`
        : ''),
    '',
    '| t (s) | live heap MB | RSS MB |',
    '|---|---|---|',
    ...f.samples.map(
      (x) => `| ${(x.atMs / 1000).toFixed(0)} | ${x.heapUsedMb.toFixed(1)} | ${x.rssMb.toFixed(1)} |`,
    ),
    '',
    SOAK_MARKS.end,
  );
  return out.join('\n');
}
