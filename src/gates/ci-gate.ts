import type { GatesConfig } from '../config/schema.js';
import type { CiCheck } from '../integrations/github/ci.js';
import { esc } from '../slack/cards.js';
import type { GateResult } from './types.js';

type CiConfig = NonNullable<GatesConfig['ci']>;

/**
 * Judges a commit's CI as the config asks: every reported check (`all`), the branch's required
 * checks, or a named list; ignored checks never count; a check still running, or one that
 * never reported, has not passed.
 */
export function judgeCi(
  cfg: CiConfig,
  ref: string,
  reported: CiCheck[],
  required: string[] | undefined,
): GateResult {
  const ignored = new Set(cfg.ignore);
  const wanted =
    cfg.checks === 'all'
      ? [...new Set(reported.map((c) => c.name))]
      : cfg.checks === 'required'
        ? (required ?? [])
        : cfg.checks;
  const names = wanted.filter((n) => !ignored.has(n));
  const show = (n: string) => esc(n);
  const scope =
    cfg.checks === 'all' ? 'all checks' : cfg.checks === 'required' ? 'required checks' : 'named checks';
  if (cfg.checks === 'required' && required === undefined)
    return {
      gate: 'ci',
      ok: false,
      detail: `branch \`${cfg.branch}\` is not protected, so it has no required checks to read (set gates.ci.checks to all or a list)`,
    };
  if (names.length === 0) return { gate: 'ci', ok: false, detail: `no ${scope} reported on \`${esc(ref)}\`` };
  const bad: string[] = [];
  for (const name of names) {
    const runs = reported.filter((c) => c.name === name);
    if (runs.length === 0) bad.push(`${show(name)} has not reported`);
    else if (runs.some((c) => c.pending))
      bad.push(`${show(name)} is ${esc(runs.find((c) => c.pending)!.state)}`);
    else if (!runs.every((c) => c.passed))
      bad.push(`${show(name)} ${esc(runs.find((c) => !c.passed)!.state)}`);
  }
  if (bad.length > 0)
    return { gate: 'ci', ok: false, detail: `${bad.join('; ')} (${scope} on \`${esc(ref)}\`)` };
  return {
    gate: 'ci',
    ok: true,
    detail: `${names.map(show).join(', ')} passed (${scope} on \`${esc(ref)}\`)`,
  };
}
