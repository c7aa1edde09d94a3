/**
 * `npm run bench`: measures backout against baselines in one run and writes BENCHMARKS.md.
 *
 * 1. Slash-command ack at 1, 50 and 200 concurrent (help, history, a rollback) vs a bare Bolt app and
 *    a plain node:http floor.
 * 2. Approve click → worker start vs a bare BullMQ add → process; approve → first Kubernetes write.
 * 3. backout's own overhead per rollback (job time minus the Kubernetes double's convergence).
 *    Timers on time: 1,000 pending approval-expiry timers, lateness p99.
 * 4. Resident memory: idle by role, after 1,000 rollback jobs, live heap after forced GCs.
 * 5. Scale: 2,000 services, 2 web + 2 worker processes, 50 incidents at once (its own section).
 *
 * 6. Socket Mode ack latency against HTTP's (its own section).
 *
 * `BENCH_ONLY=<ack|approval|timers|memory|soak|scale|socket-mode>` runs one phase and writes only its section of
 * BENCHMARKS.md. `npm run bench -- --soak 30m` runs the soak alone (mixed commands, heap and RSS slope).
 * `BENCH_BOT_FLAGS` adds Node flags to the backout process of figures 1–3, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` for a CPU profile of it.
 *
 * backout runs as its own process, built (`npm run build`, then `node dist/src/main.js`), against the
 * test doubles on a unique Redis prefix. Every child process and Redis key is cleaned up, also on failure.
 */
// First, before any library: on a Node too old for them, one line that says how to get one.
import '../../src/node-guard.js';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { freePort, spawnBackout, type BotProcess } from '../kit/process.js';
import { createWorld, deleteKeys, SIGNING_SECRET } from '../kit/world.js';
import { benchAck } from './ack.js';
import { benchApproval } from './approval.js';
import { stepMeans, stepTotals } from './metrics.js';
import { INSPECT_LATER } from './inspect.js';
import {
  forkChild,
  killAllChildren,
  LoadGenerator,
  ROOT,
  describeMapping,
  rssByMapping,
  run,
  settledMemory,
  stopProcess,
  track,
  writeMarkedSection,
} from './procs.js';
import {
  ACK_MARKS,
  MEMORY_MARKS,
  renderAckSection,
  renderMemorySection,
  renderReport,
  TARGETS,
  type BenchReport,
  type Machine,
} from './report.js';
import { benchMemory, benchOverhead, ConvergenceLog } from './rollbacks.js';
import { measureModuleCosts } from './module-costs.js';
import { benchProxy, renderProxyBench, writeProxySection } from './proxy.js';
import { benchTimers, renderTimers, TIMERS_MARKS } from './timers.js';
import { benchSoak, parseSoakDuration, renderSoak, SOAK_MARKS } from './soak.js';
import { benchScale, renderScaleBench, writeScaleSection } from './scale.js';
import { benchSocketMode, renderSocketModeBench, writeSocketModeSection } from './socket-mode.js';
import {
  approvalServices,
  benchConfigYaml,
  memoryServices,
  NAMESPACE,
  PLAIN_SERVICES,
  plainServices,
  seedBench,
  TICK_MS,
} from './setup.js';

const START_SCRIPT = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
).scripts.start.split(/\s+/);
/** The Node flags `npm start` (and the container image) run backout with, read from package.json. */
const START_FLAGS: string[] = START_SCRIPT.filter((a) => a.startsWith('--'));
/**
 * The environment `npm start` sets (glibc's malloc settings, `NAME=${NAME:-default}`): the
 * defaults, for every backout process the bench starts and for the module-cost process.
 */
const START_ENV: Record<string, string> = Object.fromEntries(
  START_SCRIPT.flatMap((a) => {
    const m = /^([A-Z_]+)=(?:\$\{\1:-([^}]*)\}|([^$]*))$/.exec(a);
    return m ? [[m[1]!, m[2] ?? m[3] ?? '']] : [];
  }),
);

const OVERHEAD_ROLLBACKS = 30;
/** Phases `BENCH_ONLY=<phase>` runs alone, writing only their own section of BENCHMARKS.md. */
const ALONE = ['ack', 'approval', 'timers', 'memory', 'soak', 'scale', 'socket-mode'];
const MEMORY_JOBS = 1_000;

const t0 = performance.now();
const log = (line: string) =>
  process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (let fn = cleanups.pop(); fn; fn = cleanups.pop()) {
    await fn().catch((err: unknown) => log(`cleanup: ${(err as Error).message}`));
  }
}
process.on('exit', killAllChildren);
// A signal may arrive more than once (a terminal signals the whole group, and tsx relays it too):
// clean up once, and stay until that is done.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => {
      log('cleaned up');
      process.exit(130);
    });
  });
}

function machine(redisInfo: string, loadAtStart: number[]): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU',
    cores: availableParallelism(),
    memoryGb: totalmem() / 1e9,
    os: `${type()} ${release()}`,
    node: process.version,
    redis: /^redis_version:(\S+)/m.exec(redisInfo)?.[1] ?? 'unknown',
    loadAtStart,
    loadAtEnd: loadavg(),
  };
}

async function build(
  startedAt: number,
): Promise<{ entry: string[] | undefined; label: string; note: string }> {
  log('▶ npm run build');
  const result = await run('npm', ['run', 'build']);
  const entryFile = join(ROOT, 'dist/src/main.js');
  let fresh: boolean;
  try {
    fresh = statSync(entryFile).mtimeMs >= startedAt - 1_000;
  } catch {
    fresh = false;
  }
  const firstError = /^.*error TS\d+.*$/m.exec(result.output)?.[0].slice(0, 240);
  const took = `${(result.ms / 1000).toFixed(1)} s`;
  log(`  build exited ${result.code} in ${took}${firstError ? `: ${firstError}` : ''}`);
  const note =
    result.code === 0
      ? `\`npm run build\` succeeded in ${took}`
      : `\`npm run build\` exited ${result.code} in ${took} (${firstError ?? 'see its output'})` +
        (fresh ? ', but tsc emitted `dist/`, which is what was measured' : ' and emitted nothing');
  return fresh
    ? {
        entry: [...START_FLAGS, entryFile],
        label: `built output, \`${Object.entries(START_ENV)
          .map(([k, v]) => `${k}=${v} `)
          .join('')}node ${[...START_FLAGS, 'dist/src/main.js'].join(' ')}\` (as \`npm start\`)`,
        note,
      }
    : {
        entry: undefined,
        label: '`src/main.ts` through tsx (no fresh build; RSS includes the TS loader)',
        note,
      };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const failures: string[] = [];
  async function phase<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    log(`▶ ${name}`);
    try {
      return await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      failures.push(`${name}: ${message}`);
      log(`✗ ${name}: ${message}`);
      return undefined;
    }
  }

  const built = await build(startedAt.getTime());
  const world = await createWorld({ config: () => benchConfigYaml() });
  cleanups.push(() => world.close());
  seedBench(world);
  const convergence = new ConvergenceLog(world.prod);
  cleanups.push(() => Promise.resolve(convergence.close()));
  const rssPrefix = `${world.prefix}-rss`;
  const barePrefix = `${world.prefix}-bare`;
  const scalePrefixes = { big: `${world.prefix}-scale`, small: `${world.prefix}-scale200` };
  for (const prefix of [rssPrefix, `${rssPrefix}-soak`, barePrefix, scalePrefixes.big, scalePrefixes.small])
    cleanups.push(() => deleteKeys(world.redis, prefix));

  const report: BenchReport = {
    machine: machine(await world.redis.info('server'), loadAtStart),
    command: process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'tsx test/bench/main.ts',
    startedAt,
    durationMs: 0,
    backout: { entry: built.label, build: built.note },
    config: {
      services: 1 + plainServices.length + approvalServices.length,
      memoryServices: 1 + memoryServices.length,
      tickMs: TICK_MS,
    },
    failures,
  };

  const spawn = async (env: Record<string, string>, nodeFlags: string[] = []): Promise<BotProcess> => {
    const entry = built.entry ?? ['--import', 'tsx', join(ROOT, 'src/main.ts')];
    const bot = await spawnBackout(world, { ...START_ENV, ...env }, { entry: [...nodeFlags, ...entry] });
    track(bot.child);
    cleanups.push(() => stopProcess(bot.child));
    return bot;
  };

  // `--soak <duration>` runs the soak alone.
  const only = process.env.BENCH_ONLY ?? (process.argv.includes('--soak') ? 'soak' : undefined);
  if (only !== undefined && !ALONE.includes(only))
    throw new Error(`BENCH_ONLY=${only}: one of ${ALONE.join(', ')} can run alone`);
  const socketModePhase = async () => {
    const bench = await phase('socket-mode', () =>
      benchSocketMode({ log, ...(built.entry ? { entry: built.entry } : {}) }),
    );
    writeSocketModeSection(
      renderSocketModeBench(
        bench,
        failures.find((f) => f.startsWith('socket-mode')),
      ),
    );
    log('wrote the Socket Mode section of BENCHMARKS.md');
  };
  if (only === 'socket-mode') {
    await socketModePhase();
    return failures.length ? 1 : 0;
  }
  const scalePhase = async () => {
    const scale = await phase('scale', () =>
      benchScale({
        world,
        spawn,
        stop: (bot) => stopProcess(bot.child),
        prefixes: scalePrefixes,
        log,
      }),
    );
    const failure = failures.find((f) => f.startsWith('scale'));
    writeScaleSection(renderScaleBench(scale, failure));
    log(`wrote the scale section of BENCHMARKS.md`);
  };
  if (only === 'scale') {
    await scalePhase();
    log(`scale phase alone took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return failures.length ? 1 : 0;
  }

  let timersSection: string | undefined;
  const botFlags = process.env.BENCH_BOT_FLAGS?.split(' ').filter(Boolean) ?? [];
  const want = (name: string) => only === undefined || only === name;
  // Figures 1–3 on one backout process.
  const a =
    want('ack') || want('timers') || want('approval')
      ? await phase('start backout', () => spawn({}, botFlags))
      : undefined;
  if (a && only === 'timers') {
    const timers = await phase('timers', () =>
      benchTimers({ redis: world.redis, prefix: world.prefix, log }),
    );
    writeMarkedSection(
      renderTimers(
        timers,
        failures.find((f) => f.startsWith('timers')),
      ),
      TIMERS_MARKS.start,
      TIMERS_MARKS.end,
    );
    log('wrote the timers section of BENCHMARKS.md');
    return failures.length ? 1 : 0;
  }
  if (a) {
    const jobs = new Queue('jobs', { connection: world.redis, prefix: world.prefix });
    cleanups.push(() => jobs.close());
    if (only === 'approval') {
      // Alone, the figure is printed, not written: its section is part of the full report.
      const approval = await phase('approval', () =>
        benchApproval({ world, bot: a, jobs, services: approvalServices, barePrefix, log }),
      );
      if (approval) log(JSON.stringify(approval, null, 1));
      return failures.length ? 1 : 0;
    }
    report.ack = await phase('ack', async () => {
      const bare = async (env: Record<string, string>) => {
        const port = await freePort();
        const child = await forkChild('bare-bolt.ts', {
          BENCH_PORT: String(port),
          BENCH_SIGNING_SECRET: SIGNING_SECRET,
          BENCH_SLACK_API_URL: world.slack.apiUrl,
          ...env,
        });
        return { child, url: `http://127.0.0.1:${port}/slack/events` };
      };
      const httpPort = await freePort();
      const [plain, floor, loadgen] = await Promise.all([
        bare({}),
        forkChild('bare-http.ts', { BENCH_PORT: String(httpPort), BENCH_SIGNING_SECRET: SIGNING_SECRET }),
        LoadGenerator.start(),
      ]);
      try {
        return await benchAck({
          world,
          loadgen,
          targets: [
            { key: 'backout', label: 'backout', url: a.url, answersLater: true },
            { key: 'bare', label: 'bare Bolt app', url: plain.url },
            { key: 'http', label: 'plain node:http', url: `http://127.0.0.1:${httpPort}/slack/events` },
          ],
          log,
        });
      } finally {
        await Promise.all([plain.child.stop(), floor.stop(), loadgen.child.stop()]);
      }
    });
    if (only === 'ack') {
      if (report.ack)
        writeMarkedSection(
          `${ACK_MARKS.start}\n${renderAckSection(report.ack, report.config.services)}${ACK_MARKS.end}`,
          ACK_MARKS.start,
          ACK_MARKS.end,
        );
      log('wrote the acknowledgement section of BENCHMARKS.md');
      return failures.length ? 1 : 0;
    }
    const metricsUrl = `http://127.0.0.1:${a.port}/metrics`;
    const stepsBefore = await stepTotals(metricsUrl).catch(() => undefined);
    report.approval = await phase('approval', () =>
      benchApproval({ world, bot: a, jobs, services: approvalServices, barePrefix, log }),
    );
    report.overhead = await phase('overhead', () =>
      benchOverhead({
        bot: a,
        jobs,
        redis: world.redis,
        prefix: world.prefix,
        namespace: NAMESPACE,
        convergence,
        services: plainServices.slice(0, OVERHEAD_ROLLBACKS),
        log,
      }),
    );
    const stepsAfter = await stepTotals(metricsUrl).catch(() => undefined);
    const timers = await phase('timers', () =>
      benchTimers({ redis: world.redis, prefix: world.prefix, log }),
    );
    timersSection = renderTimers(
      timers,
      failures.find((f) => f.startsWith('timers')),
    );
    if (stepsBefore && stepsAfter) report.steps = stepMeans(stepsBefore, stepsAfter);
    await stopProcess(a.child);
  }

  // Figure 4 on fresh processes with their own prefix, so nothing from 1–3 is in their memory or queues.
  report.memory = want('memory')
    ? await phase('memory', async () => {
        const config = join(world.dir, 'backout-rss.yml');
        writeFileSync(config, benchConfigYaml({ memory: true }));
        const env = {
          BACKOUT_PREFIX: rssPrefix,
          AUDIT_LOG_DIR: join(world.dir, 'audit-rss'),
          BACKOUT_CONFIG: config,
        };
        // The web role first, alone: its idle RSS.
        const web = await spawn({ ...env, BACKOUT_ROLE: 'web' });
        const webIdle = await settledMemory(web.child.pid!);
        log(
          `  web role idle RSS ${webIdle.rssMb.toFixed(1)} MB (${describeMapping(rssByMapping(web.child.pid!))})`,
        );
        await stopProcess(web.child);
        const b = await spawn(env, [INSPECT_LATER]);
        const jobs = new Queue('jobs', { connection: world.redis, prefix: rssPrefix });
        try {
          const figures = await benchMemory({
            bot: b,
            slack: world.slack,
            jobs,
            redis: world.redis,
            prefix: rssPrefix,
            namespace: NAMESPACE,
            convergence,
            services: memoryServices,
            perRound: PLAIN_SERVICES,
            target: MEMORY_JOBS,
            log,
          });
          return { ...figures, webIdle };
        } finally {
          await jobs.close();
          await stopProcess(b.child);
        }
      })
    : undefined;
  // The soak: `--soak <duration>`, or `BENCH_ONLY=soak` (2 minutes); not part of the default run.
  const soakArg = process.argv.indexOf('--soak');
  const soakMs =
    soakArg !== -1
      ? parseSoakDuration(process.argv[soakArg + 1] ?? '')
      : only === 'soak'
        ? 2 * 60_000
        : undefined;
  if (soakMs !== undefined) {
    const soak = await phase('soak', async () => {
      const config = join(world.dir, 'backout-soak.yml');
      writeFileSync(config, benchConfigYaml({ memory: true }));
      const bot = await spawn(
        {
          BACKOUT_PREFIX: `${rssPrefix}-soak`,
          AUDIT_LOG_DIR: join(world.dir, 'audit-soak'),
          BACKOUT_CONFIG: config,
        },
        [INSPECT_LATER],
      );
      try {
        return await benchSoak({ bot, services: plainServices, durationMs: soakMs, log });
      } finally {
        await stopProcess(bot.child);
      }
    });
    writeMarkedSection(
      renderSoak(
        soak,
        failures.find((f) => f.startsWith('soak')),
      ),
      SOAK_MARKS.start,
      SOAK_MARKS.end,
    );
    log('wrote the soak section of BENCHMARKS.md');
    if (only !== undefined || soakArg !== -1) return failures.length ? 1 : 0;
  }
  if (only === 'memory') {
    if (report.memory)
      writeMarkedSection(
        `${MEMORY_MARKS.start}\n${renderMemorySection(report.memory, report)}${MEMORY_MARKS.end}`,
        MEMORY_MARKS.start,
        MEMORY_MARKS.end,
      );
    log('wrote the memory section of BENCHMARKS.md');
    return failures.length ? 1 : 0;
  }

  report.moduleCosts = await phase('module costs', () =>
    Promise.resolve(measureModuleCosts(START_FLAGS, START_ENV)),
  );

  report.durationMs = performance.now() - t0;
  report.machine.loadAtEnd = loadavg();
  const markdown = renderReport(report);
  // The soak is not part of the default run: keep the section of the last one.
  const previous = existsSync(join(ROOT, 'BENCHMARKS.md'))
    ? readFileSync(join(ROOT, 'BENCHMARKS.md'), 'utf8')
    : '';
  const soakFrom = previous.indexOf(SOAK_MARKS.start);
  const soakTo = previous.indexOf(SOAK_MARKS.end);
  const keptSoak =
    soakFrom !== -1 && soakTo > soakFrom
      ? `\n${previous.slice(soakFrom, soakTo + SOAK_MARKS.end.length)}\n`
      : '';
  writeFileSync(join(ROOT, 'BENCHMARKS.md'), markdown + keptSoak);
  if (timersSection) writeMarkedSection(timersSection, TIMERS_MARKS.start, TIMERS_MARKS.end);
  log('▶ backout proxy vs NGINX');
  writeProxySection(renderProxyBench(await benchProxy(log)));
  log('▶ scale');
  await scalePhase();
  await socketModePhase();
  log(
    `wrote BENCHMARKS.md (run took ${(report.durationMs / 1000).toFixed(1)} s, target < ${TARGETS.durationMs / 1000} s)`,
  );
  const summary = markdown.split('\n## ')[2];
  if (summary) process.stdout.write(`\n## ${summary}\n`);
  return failures.length ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanUp();
}
process.exit(code);
