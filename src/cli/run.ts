import { isBackoutError } from '../errors.js';
import { closest } from '../text/suggest.js';
import { COMMANDS, commandHelp, commandsUnder, findCommand, overview, type CliCommand } from './catalog.js';
import { completionScript } from './completion.js';
import type { CliIo } from './context.js';
import { packageVersion } from './package.js';

// Each command loads its own modules when it runs, so help, version and completion answer at once.
const RUNNERS: Record<string, (rest: string[], io: CliIo) => Promise<number>> = {
  init: async (rest, io) => (await import('./init.js')).init(rest, io),
  'config check': async (rest, io) => {
    if (rest.length > 1 || rest.some((a) => a.startsWith('-')))
      throw usage(`takes one file at most (got ${rest.join(' ')})`);
    const { configCheck } = await import('./config-check.js');
    return configCheck(rest[0] ?? io.env.BACKOUT_CONFIG ?? './backout.yml', (l) => io.out(l));
  },
  doctor: async (rest, io) => (await import('./doctor.js')).doctor(rest, io),
  'audit verify': async (rest, io) => (await import('./audit-verify.js')).auditVerify(rest, io),
  'audit archive': async (rest, io) => (await import('./audit-archive.js')).auditArchive(rest, io),
  report: async (rest, io) => (await import('./report.js')).report(rest, io),
  timeline: async (rest, io) => (await import('./timeline.js')).timeline(rest, io),
  'report api': async (rest, io) => (await import('./report-api.js')).reportApi(rest, io),
  proxy: async (rest, io) => (await import('./proxy.js')).proxy(rest, io),
  'api openapi': async (rest, io) => (await import('./api-openapi.js')).apiOpenApi(rest, io),
  'redis-acl': async (rest, io) => (await import('./redis-acl.js')).redisAcl(rest, io),
  completion: (rest, io) => {
    if (rest.length > 1) return Promise.reject(usage(`takes one shell (got ${rest.join(' ')})`));
    io.write(completionScript(rest[0]));
    return Promise.resolve(0);
  },
  version: (rest, io) => {
    if (rest.length > 0) return Promise.reject(usage(`takes no arguments (got ${rest.join(' ')})`));
    io.out(versionLine());
    return Promise.resolve(0);
  },
};

class CliUsage extends Error {}
const usage = (message: string) => new CliUsage(message);

export function versionLine(): string {
  return `backout ${packageVersion()} (Node.js ${process.version}, ${process.platform}-${process.arch})`;
}

/**
 * Every command but `start`: help, version, init, completion, config check, doctor, audit, report.
 * Returns undefined for `start` (the caller runs the server). Usage errors exit 2 and point at the
 * command's help; other failures exit 1 with their message.
 */
export async function runCliCommand(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const [first, ...after] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    io.out(overview(packageVersion()));
    return 0;
  }
  if (first === '--version' || first === '-v') return RUNNERS.version!([], io);
  if (first === 'help') {
    const words = after.filter((w) => w !== '--help' && w !== '-h');
    // `backout help --help`: help about help.
    return help(words.length === 0 && after.length > 0 ? ['help'] : words, io);
  }
  const found = findCommand(argv);
  if (!found) return unknown(argv, io);
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(commandHelp(command));
    return 0;
  }
  if (command.name === 'start') return undefined;
  if (command.name === 'help') return help(rest, io);
  try {
    return await RUNNERS[command.name]!(rest, io);
  } catch (err) {
    if (err instanceof CliUsage || (isBackoutError(err) && err.code === 'usage')) {
      io.err(`backout ${command.name}: ${err.message}`);
      io.err(`Usage: ${command.usage}`);
      io.err(`Run "backout help ${command.name}" for the options and examples.`);
      return 2;
    }
    io.err(`backout ${command.name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

function help(words: readonly string[], io: CliIo): number {
  if (words.length === 0) {
    io.out(overview(packageVersion()));
    return 0;
  }
  const found = findCommand(words);
  if (found && found.rest.length === 0) {
    io.out(commandHelp(found.command));
    return 0;
  }
  const group = commandsUnder(words[0]!);
  if (group.length > 0 && words.length === 1) {
    io.out(groupHelp(words[0]!, group));
    return 0;
  }
  return unknown(words, io);
}

function groupHelp(group: string, commands: CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `backout ${group} <command>`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run "backout help ${commands[0]!.name}" for more about a command.`,
  ].join('\n');
}

function unknown(words: readonly string[], io: CliIo): number {
  const group = commandsUnder(words[0]!);
  if (group.length > 0) {
    io.err(
      words.length === 1
        ? `backout ${words[0]}: which one? ${group.map((c) => `"backout ${c.name}"`).join(' or ')}.`
        : `backout ${words[0]}: unknown command "${words[1]}".`,
    );
    io.err(groupHelp(words[0]!, group));
    return 2;
  }
  const names = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!))];
  const guess = closest(words[0]!, names);
  io.err(`backout: unknown command "${words[0]}".${guess ? ` Did you mean "backout ${guess}"?` : ''}`);
  io.err('Run "backout help" for the list of commands.');
  return 2;
}

/** Process streams as a CliIo. */
export function processIo(): CliIo {
  return {
    write: (text) => process.stdout.write(text),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
  };
}
