import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { packageRoot } from '../cli/package.js';

const manifestSchema = z.object({
  oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()).min(1) }) }),
});

/** The bot scopes the Slack app manifest (`manifest.yml` at the package root) asks for. */
export async function manifestBotScopes(path = join(packageRoot(), 'manifest.yml')): Promise<string[]> {
  const parsed = manifestSchema.safeParse(parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} has no oauth_config.scopes.bot list`);
  return parsed.data.oauth_config.scopes.bot;
}
