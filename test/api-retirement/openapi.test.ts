import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { annotateOpenApi, checkOpenApi, type OpenApiDocument } from '../../src/api-retirement/openapi.js';
import { DeprecationRegistry } from '../../src/api-retirement/registry.js';
import { runCliCommand } from '../../src/cli/run.js';
import { captureIo } from '../cli/kit.js';
import { makeEntry } from './fixtures.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-kit.js';

const spec = (): OpenApiDocument => ({
  openapi: '3.1.0',
  info: { title: 'Checkout', version: '1' },
  servers: [{ url: 'https://api.example.com' }],
  paths: {
    '/v1/orders/{orderId}': {
      get: { description: 'One order.', responses: { '200': { description: 'the order' } } },
      delete: { responses: { '204': { description: 'gone' } } },
    },
    '/v1/orders/{orderId}/items': { get: { responses: { '200': { description: 'items' } } } },
    '/v2/orders/{orderId}': { get: { responses: { '200': { description: 'the order' } } } },
  },
});

const orders = makeEntry(); // GET /v1/orders/:id, sunset 2026-03-01, successor and policy set
const byHeader = makeEntry({
  method: '*',
  pattern: undefined,
  versionHeader: { name: 'api-version', value: '1' },
});

describe('OpenAPI kept in step with the registry', () => {
  it('marks exactly the operations a request would match, with the signals documented and the successor linked', () => {
    const doc = spec();
    const { notes } = annotateOpenApi(doc, [orders, byHeader]);
    const get = doc.paths!['/v1/orders/{orderId}']!.get as Record<string, unknown>;
    expect(get.deprecated).toBe(true);
    expect(get['x-sunset']).toBe('2026-03-01T00:00:00.000Z');
    expect(get.description).toBe(
      'One order.\n\n**Deprecated (backout):** since 2026-01-01, retired on 2026-03-01. Use https://api.example.com/v2/orders instead. Policy: https://developer.example.com/deprecations/orders-v1.',
    );
    const ok = (get.responses as Record<string, { headers: Record<string, { example: string }> }>)['200']!;
    expect(ok.headers.Deprecation!.example).toBe('@1767225600');
    expect(ok.headers.Sunset!.example).toBe('Sun, 01 Mar 2026 00:00:00 GMT');
    expect(ok.headers.Link!.example).toContain(
      '<https://api.example.com/v2/orders>; rel="successor-version"',
    );
    expect(get.responses).toHaveProperty('410');
    for (const [path, method] of [
      ['/v1/orders/{orderId}', 'delete'],
      ['/v1/orders/{orderId}/items', 'get'],
      ['/v2/orders/{orderId}', 'get'],
    ] as const) {
      expect(
        (doc.paths![path]![method] as { deprecated?: boolean }).deprecated,
        `${method} ${path}`,
      ).toBeUndefined();
    }
    expect(notes).toEqual([
      '* /* [api-version=1]: keyed on the api-version header, which OpenAPI cannot express per operation; not marked',
    ]);
  });

  it('is idempotent, and unmarks what the registry no longer lists', () => {
    const doc = spec();
    annotateOpenApi(doc, [orders]);
    const once = JSON.stringify(doc);
    annotateOpenApi(doc, [orders]);
    expect(JSON.stringify(doc)).toBe(once);
    annotateOpenApi(doc, []);
    expect(doc).toEqual(spec());
  });

  it('--check semantics: every disagreement named, none once annotated', () => {
    const stale = makeEntry({ pattern: '/v1/legacy/:id' });
    const doc = spec();
    expect(checkOpenApi(doc, [orders, stale])).toEqual([
      {
        method: 'GET',
        path: '/v1/orders/{orderId}',
        problem: 'deprecated in the registry (sunset 2026-03-01T00:00:00.000Z) but not marked deprecated',
      },
      {
        method: 'GET',
        path: '/v1/legacy/:id',
        problem: 'in the registry, but no operation in the spec matches it',
      },
    ]);
    annotateOpenApi(doc, [orders]);
    expect(checkOpenApi(doc, [orders])).toEqual([]);
    const later = makeEntry({ sunset: '2026-04-01T00:00:00Z' });
    expect(checkOpenApi(doc, [later])[0]?.problem).toBe(
      'x-sunset is "2026-03-01T00:00:00.000Z", the registry says 2026-04-01T00:00:00.000Z',
    );
    expect(checkOpenApi(doc, [])[0]?.problem).toBe(
      'marked deprecated with an x-sunset, but the registry has no entry for it',
    );
  });

  it('matches behind the server URL path prefix', () => {
    const doc = { ...spec(), servers: [{ url: 'https://api.example.com/shop' }] };
    const shop = makeEntry({ pattern: '/shop/v1/orders/:id' });
    annotateOpenApi(doc, [shop]);
    expect((doc.paths!['/v1/orders/{orderId}']!.get as { deprecated?: boolean }).deprecated).toBe(true);
  });
});

describe('backout api openapi, against the registry in Redis', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let dir: string;
  const env = () => ({ REDIS_URL, BACKOUT_PREFIX: prefix });

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    await new DeprecationRegistry(redis, prefix).put(orders);
    dir = await mkdtemp(join(tmpdir(), 'backout-openapi-'));
    await writeFile(join(dir, 'openapi.yaml'), YAML.stringify(spec()));
    await writeFile(join(dir, 'openapi.json'), JSON.stringify(spec()));
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  });

  it('round trip: --check fails on the plain spec, the written spec passes it, in YAML and JSON', async () => {
    for (const file of ['openapi.yaml', 'openapi.json']) {
      const path = join(dir, file);
      const before = captureIo(env());
      expect(
        await runCliCommand(['api', 'openapi', path, '--service', 'checkout', '--check'], before.io),
      ).toBe(1);
      expect(before.stderr()).toContain('GET /v1/orders/{orderId}: deprecated in the registry');
      expect(before.stderr()).toContain(`Run: backout api openapi ${path} --service checkout --out ${path}`);

      const written = captureIo(env());
      expect(
        await runCliCommand(['api', 'openapi', path, '--service', 'checkout', '--out', path], written.io),
      ).toBe(0);
      const text = await readFile(path, 'utf8');
      const doc = (file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text)) as OpenApiDocument;
      expect((doc.paths!['/v1/orders/{orderId}']!.get as { deprecated: boolean }).deprecated).toBe(true);

      const after = captureIo(env());
      expect(
        await runCliCommand(['api', 'openapi', path, '--service', 'checkout', '--check'], after.io),
      ).toBe(0);
      expect(after.stdout()).toContain('is in step with backout');
    }
  });

  it('says what is wrong with bad input and changes nothing', async () => {
    const swagger = join(dir, 'swagger.json');
    await writeFile(swagger, JSON.stringify({ swagger: '2.0', paths: {} }));
    const cases: [string[], number, string][] = [
      [['api', 'openapi', swagger, '--service', 'checkout'], 1, 'only OpenAPI 3.x documents are supported'],
      [['api', 'openapi', join(dir, 'missing.yaml'), '--service', 'checkout'], 1, 'no such file'],
      [['api', 'openapi', swagger], 2, '--service is required'],
      [['api', 'openapi', '--service', 'checkout'], 2, 'name the OpenAPI file'],
    ];
    for (const [argv, code, message] of cases) {
      const io = captureIo(env());
      expect(await runCliCommand(argv, io.io), argv.join(' ')).toBe(code);
      expect(io.stderr()).toContain(message);
    }
    expect(JSON.parse(await readFile(swagger, 'utf8'))).toEqual({ swagger: '2.0', paths: {} });
  });
});
