import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PACKAGE = join(ROOT, 'packages', 'middleware');
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, timeout: 120_000 });

describe('the middleware package, packed and installed into a fresh project', () => {
  const prefix = testPrefix();
  let project: string;
  let redis: Redis;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'backout-mw-'));
    redis = new Redis(REDIS_URL);
    await new DeprecationRegistry(redis, prefix).put(makeEntry({ sunset: '2099-03-01T00:00:00Z' }));
    await npm(['pack', '--pack-destination', project], PACKAGE);
    const [tarball] = (await readdir(project)).filter((name) => name.endsWith('.tgz'));
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', type: 'module', private: true }),
    );
    await npm(['install', `./${tarball}`], project);
  }, 180_000);

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
    await rm(project, { recursive: true, force: true });
  });

  it('serves the deprecation headers from a plain Node http server that imports it by name', async () => {
    const app = `
      import http from 'node:http';
      import { createDeprecationMiddleware } from '@backout/middleware';
      const mw = createDeprecationMiddleware({ redis: ${JSON.stringify(REDIS_URL)}, service: 'checkout', prefix: ${JSON.stringify(prefix)} });
      if (!(await mw.whenReady(5000))) throw new Error('registry did not load');
      const server = http.createServer((req, res) => mw.node(req, res, () => res.end('ok')));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const response = await fetch('http://127.0.0.1:' + server.address().port + '/v1/orders/1');
      console.log(JSON.stringify({ status: response.status, deprecation: response.headers.get('deprecation'), body: await response.text() }));
      server.close();
      await mw.close();
    `;
    await writeFile(join(project, 'app.mjs'), app);
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: project, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ status: 200, deprecation: '@1767225600', body: 'ok' });
  });

  it('ships its types: a TypeScript consumer type-checks against them', async () => {
    await writeFile(
      join(project, 'consumer.ts'),
      `import { createDeprecationMiddleware, type DeprecationMiddleware } from '@backout/middleware';
       const mw: DeprecationMiddleware = createDeprecationMiddleware({ redis: 'redis://127.0.0.1:6379', service: 'checkout' });
       const ready: Promise<boolean> = mw.whenReady(10);
       // @ts-expect-error service is required
       createDeprecationMiddleware({ redis: 'redis://127.0.0.1:6379' });
       export { ready };`,
    );
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          // ioredis's own declarations need @types it does not ship; the @ts-expect-error still proves ours are real.
          skipLibCheck: true,
          types: [],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], {
      cwd: project,
      timeout: 60_000,
    }).then(
      () => 'ok',
      (err: Error & { stdout?: string }) => err.stdout ?? err.message,
    );
    expect(result).toBe('ok');
  });
});
