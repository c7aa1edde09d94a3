import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { SIGNING_SECRET, type World } from './world.js';
import { SlackClient } from './slack-signing.js';
import { socketDelivery } from './socket-transport.js';
import { waitFor } from './wait.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BotProcess {
  child: ChildProcess;
  port: number;
  url: string;
  client: SlackClient;
  output: string[];
  /** SIGKILL: no shutdown, no cleanup — a crash. */
  crash(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  terminate(): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a server on a port `freePort()` found, and on another one if the port was taken between
 * the look and the start (another test's server won the race for it).
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !/EADDRINUSE|address already in use/i.test((err as Error).message))
        throw err;
    }
  }
}

/**
 * For tests that kill a worker: its job's lock lapses after 5 s instead of 10 s, so the restarted
 * process picks the job up within about 7.5 s.
 */
export const FAST_RECOVERY = { BACKOUT_JOB_LOCK: '5s' } as const;

/** Runs backout as its own process (`src/main.ts` through tsx), as an operator would, against the world's doubles. */
export async function spawnBackout(
  world: World,
  overrides: Record<string, string> = {},
  opts: {
    waitReady?: boolean;
    /** Node arguments that start backout instead of `src/main.ts` through tsx, e.g. `['dist/src/main.js']`. */
    entry?: string[];
  } = {},
): Promise<BotProcess> {
  if (overrides.PORT) return spawnOn(world, Number(overrides.PORT), overrides, opts);
  return opts.waitReady === false
    ? spawnOn(world, await freePort(), overrides, opts)
    : onFreePort((port) => spawnOn(world, port, overrides, opts));
}

async function spawnOn(
  world: World,
  port: number,
  overrides: Record<string, string>,
  opts: { waitReady?: boolean; entry?: string[] },
): Promise<BotProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...world.rawEnv, ...overrides, PORT: String(port) };
  // `backout start`: a bare `backout` prints help.
  const args = [...(opts.entry ?? ['--import', 'tsx', join(ROOT, 'src/main.ts')]), 'start'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}/slack/events`;
  // In a Socket Mode world a web process takes Slack's envelopes over its own WebSocket.
  const socket =
    world.socket && env.SLACK_APP_TOKEN && env.BACKOUT_ROLE !== 'worker' ? world.socket : undefined;
  const bot: BotProcess = {
    child,
    port,
    url,
    client: new SlackClient({
      url,
      signingSecret: SIGNING_SECRET,
      newResponseUrl: () => world.slack.newResponseUrl(),
      ...(socket ? { deliver: socketDelivery(socket) } : {}),
    }),
    output,
    exited,
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      child.kill('SIGTERM');
      return exited;
    },
  };
  if (opts.waitReady !== false) {
    let done = false;
    void exited.then(() => {
      done = true;
    });
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz/ready`).catch(() => undefined);
        if (res?.status !== 200) return false;
        const { checks } = (await res.json()) as { checks: Record<string, unknown> };
        return !socket || checks.slack === true;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'backout to be ready',
        giveUpIf: () =>
          done ? new Error(`backout exited before it was ready:\n${output.join('')}`) : undefined,
      },
    ).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${output.join('')}`);
    });
  }
  return bot;
}
