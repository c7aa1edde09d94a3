import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../kit/process.js';
import { waitFor } from '../kit/wait.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');

export interface Child {
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

function track(child: ChildProcess): Child {
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The Python upstream (test/api-retirement/upstream.py) on a free port. */
export async function startPythonUpstream(): Promise<Child & { url: string }> {
  const child = spawn('python3', [join(HERE, 'upstream.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tracked = track(child);
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => resolve(Number(line)));
    child.once('exit', (code) =>
      reject(new Error(`python upstream exited with ${code}: ${tracked.output.join('')}`)),
    );
  });
  return { ...tracked, url: `http://127.0.0.1:${port}` };
}

/** `backout proxy` as an operator runs it (src/main.ts through tsx), with Redis from the environment. */
export async function startProxyProcess(
  args: string[],
  env: Record<string, string>,
): Promise<Child & { url: string; adminUrl: string; rssBytes(): number }> {
  const [port, admin] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/main.ts'),
      'proxy',
      ...args,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      `127.0.0.1:${admin}`,
    ],
    { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tracked = track(child);
  const adminUrl = `http://127.0.0.1:${admin}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`backout proxy exited: ${tracked.output.join('')}`);
      const health = await fetch(`${adminUrl}/healthz`).catch(() => undefined);
      return health?.ok && ((await health.json()) as { registry: string }).registry === 'loaded';
    },
    { what: 'backout proxy to load its registry', timeoutMs: 20_000 },
  );
  return {
    ...tracked,
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
  };
}
