import type { EnvironmentConfig, ServiceConfig } from '../config/model.js';
import type { ChangeWindow } from '../policy/windows.js';
import { windowVerdict } from '../policy/windows.js';
import type { CiReader } from '../integrations/github/ci.js';
import type { HealthChecker } from '../integrations/health.js';
import { slackDate } from '../text/time.js';
import { esc } from '../slack/cards.js';
import { judgeCi } from './ci-gate.js';
import type { GateResult } from './types.js';

export interface GateDeps {
  ci: CiReader;
  health: HealthChecker;
  windows: readonly ChangeWindow[];
}

export interface GateInput {
  service: ServiceConfig;
  env: EnvironmentConfig;
  /** The image whose tag names the commit CI ran on. */
  image: string;
  ticket?: string;
  now: number;
}

/** The tag of an image reference (`registry/shop/web:1.4.0` → `1.4.0`); undefined for a digest-only one. */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0]!;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : undefined;
}

/** Every configured gate of the environment, evaluated now, in a fixed order. */
export async function evaluateGates(deps: GateDeps, input: GateInput): Promise<GateResult[]> {
  const gates = input.env.gates;
  const results: GateResult[] = [];
  const verdict = windowVerdict(
    deps.windows,
    { service: input.service.name, environment: input.env.name },
    input.now,
  );
  if (deps.windows.length > 0)
    results.push(
      verdict.open
        ? { gate: 'window', ok: true, detail: 'change windows open' }
        : {
            gate: 'window',
            ok: false,
            detail: `the ${verdict.window.name} ${verdict.window.kind} window is closed to changes${verdict.reopensAt ? ` until ${slackDate(verdict.reopensAt)}` : ''}`,
          },
    );
  if (!gates) return results;
  if (gates.ci) results.push(await ciGate(deps.ci, input, gates.ci));
  if (gates.probes.length > 0) {
    const readings = await deps.health.check({ probes: gates.probes, stabilityWindow: 0, interval: 0 });
    for (const r of readings) results.push({ gate: 'probe', ok: r.ok, detail: esc(r.detail) });
  }
  if (gates.ticket === 'required' || input.ticket)
    results.push(
      input.ticket
        ? { gate: 'ticket', ok: true, detail: `change ticket ${esc(input.ticket)}` }
        : { gate: 'ticket', ok: false, detail: 'a change ticket is required: add `--ticket <url>`' },
    );
  return results;
}

async function ciGate(
  ci: CiReader,
  input: GateInput,
  cfg: NonNullable<NonNullable<EnvironmentConfig['gates']>['ci']>,
): Promise<GateResult> {
  const repo = input.service.github;
  if (!repo)
    return {
      gate: 'ci',
      ok: false,
      detail: `${input.service.name} names no GitHub repo (github: { repo: owner/name })`,
    };
  const tag = imageTag(input.image);
  if (!tag)
    return {
      gate: 'ci',
      ok: false,
      detail: 'the image has no tag naming a commit, so its CI cannot be found',
    };
  const ref = `${cfg.tagPrefix}${tag}`;
  try {
    const [reading, required] = await Promise.all([
      ci.checks(repo, ref),
      cfg.checks === 'required' ? ci.requiredChecks(repo, cfg.branch) : Promise.resolve(undefined),
    ]);
    if (!reading.ok) return { gate: 'ci', ok: false, detail: esc(reading.problem) };
    return judgeCi(cfg, ref, reading.checks, required);
  } catch (err) {
    return {
      gate: 'ci',
      ok: false,
      detail: esc(`could not read CI of ${repo.fullName}@${ref}: ${(err as Error).message}`),
    };
  }
}
