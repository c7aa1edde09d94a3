// A real Unleash server for tests: the `unleash-server` npm package (installed into a cache
// directory, not into backout's own dependencies: it brings ~430 packages), on the machine's
// PostgreSQL with a fresh database per start, as a child process on a free port with an admin API
// token created at start (`authentication.initApiTokens`). Killed and its database dropped after.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './wait.js';

export const UNLEASH_VERSION = '8.2.0';
export const UNLEASH_DIR = process.env.BACKOUT_UNLEASH_DIR ?? join(homedir(), '.cache', 'backout-unleash');
/** The PostgreSQL Unleash uses (trust auth for `postgres` on 127.0.0.1, as on the CI machine). */
const PG = {
  host: process.env.BACKOUT_TEST_PGHOST ?? '127.0.0.1',
  port: Number(process.env.BACKOUT_TEST_PGPORT ?? 5432),
  user: process.env.BACKOUT_TEST_PGUSER ?? 'postgres',
};

const MAIN = `
const [impl, database, port, token, host, pgPort, user] = process.argv.slice(2);
const { start } = await import(impl);
const quiet = () => {};
const logger = { debug: quiet, info: quiet, warn: quiet, error: (...a) => console.error(...a), fatal: (...a) => console.error(...a) };
const unleash = await start({
  db: { host, port: Number(pgPort), user, password: '', database, ssl: false },
  server: { host: '127.0.0.1', port: Number(port) },
  getLogger: () => logger,
  authentication: { initApiTokens: [{ environment: '*', project: '*', secret: token, type: 'admin', tokenName: 'backout-tests' }] },
});
console.log('unleash listening on port ' + unleash.server.address().port);
`;

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

/** Installs unleash-server into the cache directory when it is not there yet (.ci/run does it first). */
export async function ensureUnleashInstalled(): Promise<string> {
  const impl = join(UNLEASH_DIR, 'node_modules', 'unleash-server', 'dist', 'lib', 'server-impl.js');
  if (!existsSync(impl)) {
    await promisify(execFile)(
      'npm',
      [
        'install',
        '--prefix',
        UNLEASH_DIR,
        `unleash-server@${UNLEASH_VERSION}`,
        '--no-audit',
        '--no-fund',
        '--omit=dev',
      ],
      { timeout: 300_000 },
    );
  }
  return impl;
}

async function admin(sql: string): Promise<void> {
  const req = createRequire(join(UNLEASH_DIR, 'node_modules', 'unleash-server', 'package.json'));
  const { Client } = req('pg') as { Client: new (opts: object) => PgClient };
  const client = new Client({ ...PG, database: 'postgres', password: '', connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface UnleashServer {
  url: string;
  token: string;
  /** Creates a feature flag in a project (off everywhere, as Unleash creates them). */
  createFeature(name: string, project?: string): Promise<void>;
  /** Turns a feature on or off in an environment through Unleash's own Admin API. */
  toggle(name: string, environment: string, on: boolean, project?: string): Promise<void>;
  /** Whether the feature is enabled in an environment, as Unleash's own Admin API shows it. */
  enabled(name: string, environment: string, project?: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startUnleash(): Promise<UnleashServer> {
  const impl = await ensureUnleashInstalled();
  const database = `backout_test_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`);
  const dir = await mkdtemp(join(tmpdir(), 'backout-unleash-'));
  const main = join(dir, 'main.mjs');
  await writeFile(main, MAIN);
  // Port 0: the server takes a free port itself and says which (no race with other tests for one).
  const port = 0;
  const token = `*:*.backout-${randomBytes(12).toString('hex')}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    [main, impl, database, String(port), token, PG.host, String(PG.port), PG.user],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, INIT_ADMIN_API_TOKENS: '', DATABASE_URL: '' },
    },
  );
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let url = '';
  const headers = { Authorization: token, 'Content-Type': 'application/json', Accept: 'application/json' };
  const call = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`Unleash ${method} ${path} answered ${res.status}: ${await res.text()}`);
    const parsed: unknown = await res.json().catch(() => undefined);
    return parsed;
  };
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor(
      async () => {
        const bound = /unleash listening on port (\d+)/.exec(output.join(''))?.[1];
        if (!bound) return false;
        url = `http://127.0.0.1:${bound}`;
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) }).catch(
          () => undefined,
        );
        return res?.ok === true;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 200,
        what: 'unleash-server to answer /health',
        giveUpIf: () => (gone ? new Error('unleash-server exited') : undefined),
      },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output.join('').slice(-2000)}`, { cause: err });
  }
  return {
    url,
    token,
    async createFeature(name, project = 'default') {
      await call('POST', `/api/admin/projects/${project}/features`, { name, type: 'kill-switch' });
    },
    async toggle(name, environment, on, project = 'default') {
      await call(
        'POST',
        `/api/admin/projects/${project}/features/${name}/environments/${environment}/${on ? 'on' : 'off'}`,
      );
    },
    async enabled(name, environment, project = 'default') {
      const f = (await call('GET', `/api/admin/projects/${project}/features/${name}`)) as {
        environments: { name: string; enabled: boolean }[];
      };
      const env = f.environments.find((e) => e.name === environment);
      if (!env) throw new Error(`feature ${name} has no environment ${environment}`);
      return env.enabled;
    },
    stop,
  };
}
