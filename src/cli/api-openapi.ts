import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import YAML from 'yaml';
import {
  annotateOpenApi,
  checkOpenApi,
  openApiProblem,
  serverBasePath,
  type OpenApiDocument,
} from '../api-retirement/openapi.js';
import { DeprecationRegistry } from '../api-retirement/registry.js';
import { UsageError } from '../errors.js';
import { parseArgs, stringFlag } from './args.js';
import { connectRedis, readEnv, type CliIo } from './context.js';

/**
 * `backout api openapi`: writes the spec with every operation the registry deprecates marked, or
 * with `--check` exits 1 listing where spec and registry disagree (for CI). YAML comments are not
 * kept: the output is the document re-serialised.
 */
export async function apiOpenApi(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: ['service', 'out', 'base-path'], booleans: ['check'] });
  const [specPath, extra] = args.positionals;
  if (!specPath)
    throw new UsageError('name the OpenAPI file, e.g. backout api openapi openapi.yaml --service checkout');
  if (extra) throw new UsageError(`unexpected argument "${extra}"`);
  const service = stringFlag(args, 'service');
  if (!service) throw new UsageError('--service is required: the service name in backout.yml');
  const basePathFlag = stringFlag(args, 'base-path');
  if (basePathFlag !== undefined && !basePathFlag.startsWith('/'))
    throw new UsageError(`--base-path must start with "/", got "${basePathFlag}"`);

  const json = extname(specPath).toLowerCase() === '.json';
  const text = await readFile(specPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${specPath}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  let doc: unknown;
  try {
    doc = json ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new Error(`${specPath} is not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const problem = openApiProblem(doc);
  if (problem) throw new Error(`${specPath}: ${problem}`);
  const spec = doc as OpenApiDocument;
  const basePath = basePathFlag?.replace(/\/$/, '') ?? serverBasePath(spec);

  const env = readEnv(io.env, ['REDIS_URL', 'BACKOUT_PREFIX']);
  if (!env.ok) {
    for (const p of env.problems) io.err(`backout api openapi: ${p}`);
    return 2;
  }
  const redis = await connectRedis(env.env.REDIS_URL);
  let entries;
  try {
    entries = await new DeprecationRegistry(redis, env.env.BACKOUT_PREFIX).list(service);
  } finally {
    redis.disconnect();
  }

  if (args.flags.has('check')) {
    const mismatches = checkOpenApi(spec, entries, basePath);
    if (mismatches.length === 0) {
      io.out(
        `${specPath} is in step with backout's registry for ${service} (${entries.length} deprecated ${entries.length === 1 ? 'entry' : 'entries'}).`,
      );
      return 0;
    }
    io.err(`${specPath} and backout's registry for ${service} disagree (${mismatches.length}):`);
    for (const m of mismatches) io.err(`  ${m.method} ${m.path}: ${m.problem}`);
    io.err(`Run: backout api openapi ${specPath} --service ${service} --out ${specPath}`);
    return 1;
  }

  const { notes } = annotateOpenApi(spec, entries, basePath);
  for (const note of notes) io.err(`note: ${note}`);
  const output = json ? `${JSON.stringify(spec, null, 2)}\n` : YAML.stringify(spec, { lineWidth: 0 });
  const out = stringFlag(args, 'out');
  if (out) {
    await writeFile(out, output);
    io.err(
      `wrote ${out}: ${entries.length} deprecated ${entries.length === 1 ? 'entry' : 'entries'} of ${service} applied`,
    );
  } else io.write(output);
  return 0;
}
