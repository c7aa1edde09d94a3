import { formatCheck, summarise } from '../doctor/check.js';
import { runDoctor } from '../doctor/doctor.js';
import { parseArgs } from './args.js';
import type { CliIo } from './context.js';

/**
 * `backout doctor [--json]`: one line per check (✓ passed, ✗ failed, ! warning) with the
 * fix for each failure; exit code 0 only when nothing failed (warnings do not fail).
 */
export async function doctor(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: [], booleans: ['json'] });
  const checks = await runDoctor(io.env);
  const failed = checks.some((c) => c.status === 'fail');
  if (args.flags.has('json')) {
    io.write(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
  } else {
    for (const c of checks) io.out(formatCheck(c));
    io.out(summarise(checks));
  }
  return failed ? 1 : 0;
}
