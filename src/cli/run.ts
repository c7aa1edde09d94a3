import { isBackoutError } from '../errors.js';
import { auditArchive } from './audit-archive.js';
import { auditVerify } from './audit-verify.js';
import type { CliIo } from './context.js';
import { doctor } from './doctor.js';
import { apiOpenApi, API_OPENAPI_USAGE } from './api-openapi.js';
import { proxy, PROXY_USAGE } from './proxy.js';
import { redisAcl } from './redis-acl.js';
import { report } from './report.js';
import { reportApi, REPORT_API_USAGE } from './report-api.js';

export const CLI_USAGE = `usage: backout [start]
       backout config check [file]
       backout audit verify [--file <audit.jsonl>] [--archive <dir>] [--no-stream]
       backout audit archive [--older-than <duration>]
       backout report --since <duration|date> [--until <duration|date>] [--format csv|json] [--service <name>] [--out <file>] [--no-stream]
       backout doctor [--json]
       ${PROXY_USAGE}
       ${API_OPENAPI_USAGE}
       ${REPORT_API_USAGE}
       backout redis-acl middleware [--user <name>] [--password <password>]`;

/**
 * The one-shot commands (audit, report, doctor). Undefined when `argv` is not one of them.
 * Usage errors exit 2 with the usage; other failures exit 1 with their message.
 */
export async function runCliCommand(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const [command, sub, ...rest] = argv;
  let run: (() => Promise<number>) | undefined;
  if (command === 'audit' && sub === 'verify') run = () => auditVerify(rest, io);
  else if (command === 'audit' && sub === 'archive') run = () => auditArchive(rest, io);
  else if (command === 'report' && sub === 'api') run = () => reportApi(rest, io);
  else if (command === 'report') run = () => report(argv.slice(1), io);
  else if (command === 'doctor') run = () => doctor(argv.slice(1), io);
  else if (command === 'proxy') run = () => proxy(argv.slice(1), io);
  else if (command === 'api' && sub === 'openapi') run = () => apiOpenApi(rest, io);
  else if (command === 'redis-acl') run = () => redisAcl(argv.slice(1), io);
  if (!run) return undefined;
  try {
    return await run();
  } catch (err) {
    if (isBackoutError(err) && err.code === 'usage') {
      io.err(
        `backout ${command}${command === 'audit' || command === 'api' ? ` ${sub}` : ''}: ${err.message}`,
      );
      io.err(CLI_USAGE);
      return 2;
    }
    io.err(`backout ${command}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
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
