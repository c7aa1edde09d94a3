#!/usr/bin/env node
// First, before any library: on a Node too old for them, one line that says how to get a suitable one.
import './node-guard.js';
import { processIo, runCliCommand } from './cli/run.js';
import type { Backout } from './app.js';
import { releaseStartupMemory } from './observability/settle-memory.js';
import { returnFreedMemoryAfterMajorGcs } from './observability/return-freed-memory.js';

/**
 * `backout start`. SIGTERM/SIGINT are taken from the first moment: a stop asked for while starting
 * (Redis not answering yet) ends the start and exits 0 at once; later it stops the running bot.
 */
async function start(rest: readonly string[]): Promise<number> {
  if (rest.length > 0) {
    process.stderr.write(
      `backout start: takes no arguments (got ${rest.join(' ')}). Run "backout help start".\n`,
    );
    return 2;
  }
  const stopAsked = new AbortController();
  // Filled in once started; a signal before that only aborts the start.
  const running: { app?: Backout; stopped?: () => void } = {};
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopAsked.signal.aborted) return;
    stopAsked.abort();
    const app = running.app;
    if (!app) return;
    app.log.info({ signal }, 'signal received');
    const hard = setTimeout(() => {
      app.log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, shutdownBound + 5_000);
    hard.unref();
    void app.stop().finally(() => running.stopped?.());
  };
  let shutdownBound = 10_000;
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const { formatStartupProblems, readStartupSettings } = await import('./cli/startup-problems.js');
  const settings = await readStartupSettings(process.env);
  if (!settings.ok) {
    process.stderr.write(`${formatStartupProblems(settings.problems)}\n`);
    return 1;
  }
  if (stopAsked.signal.aborted) return 0;
  shutdownBound = settings.env.BACKOUT_SHUTDOWN_TIMEOUT;
  // Loaded here so that the one-shot commands (audit, report, doctor) start without the server.
  const { startBackout } = await import('./app.js');
  const started = await startBackout(settings.env, settings.config, { signal: stopAsked.signal });
  releaseStartupMemory();
  const freedMemory = returnFreedMemoryAfterMajorGcs();
  freedMemory.trimNow();
  if (!freedMemory.active)
    started.log.debug('malloc_trim is not available here: freed memory is left to the allocator');
  const done = new Promise<void>((resolve) => (running.stopped = resolve));
  running.app = started;
  // A stop asked for while starting: stop now.
  if (stopAsked.signal.aborted) await started.stop();
  else await done;
  // Stopped in order (jobs finished or handed back, logs written): exit now, so that connections
  // still retrying a Redis that does not answer cannot hold the process.
  process.exit(0);
}

async function main(argv: string[]): Promise<number> {
  const code = await runCliCommand(argv, processIo());
  if (code !== undefined) return code;
  return start(argv.slice(1));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`backout: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
