import { UsageError } from '../errors.js';

export interface ParsedArgs {
  flags: Map<string, string | true>;
  positionals: string[];
}

/**
 * `--name value`, `--name=value` and boolean `--name`; anything else is positional.
 * `valued` names the flags that take a value; a flag not in `valued` or `booleans` is refused.
 */
export function parseArgs(
  args: readonly string[],
  spec: { valued: readonly string[]; booleans?: readonly string[] },
): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (spec.valued.includes(name)) {
      const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else if (spec.booleans?.includes(name) && eq === -1) {
      flags.set(name, true);
    } else {
      const known = [...spec.valued, ...(spec.booleans ?? [])].map((f) => `--${f}`).join(', ');
      throw new UsageError(`unknown option --${name}${known ? ` (known: ${known})` : ''}`);
    }
  }
  return { flags, positionals };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}
