import type { AlertRule } from '../config/alerts-schema.js';
import type { EnvironmentConfig, ServiceConfig } from '../config/model.js';
import { UsageError } from '../errors.js';
import type { RequestKind } from '../requests/types.js';
import { requestRollback, type RollbackDeps } from '../../commands/rollback.js';
import { requestSwitch, type FlagDeps } from '../../commands/flag-plan.js';
import { aimCanaryAbort, fileCanaryAbort, type CanaryAbortDeps } from '../../commands/canary-abort-plan.js';
import type { Invocation } from '../../commands/shared.js';

export type ProposalDeps = RollbackDeps & FlagDeps & CanaryAbortDeps;

/** The request kind each `propose:` files (its id prefix is chosen before the plan is made). */
export const PROPOSED_KIND: Record<AlertRule['propose'], RequestKind> = {
  rollback: 'rollback',
  'flag-off': 'flag',
  'canary-abort': 'canary-abort',
};

/** What a matched rule would file, on which lock target; or why nothing can be proposed. */
export type Proposal =
  | {
      target: string;
      file(inv: Invocation, reason: string, alert: { id: string }): Promise<unknown>;
    }
  | { why: string };

export async function proposalFor(
  match: { rule: AlertRule; service: ServiceConfig; environment: EnvironmentConfig },
  deps: ProposalDeps,
): Promise<Proposal> {
  const { rule, service, environment: env } = match;
  const ref = { service: service.name, env: env.name };
  switch (rule.propose) {
    case 'flag-off': {
      const flag = rule.flag ?? service.flags?.killSwitches[0];
      if (!flag) return { why: `${service.name} has no kill switch (flags.killSwitches) to turn off.` };
      return {
        target: `${service.name}/${env.name}/flag-${flag}`,
        file: async (inv, reason, alert) => {
          const filed = await requestSwitch({ ...ref, reason, flag, direction: 'off' }, inv, deps, { alert });
          // Already off: nothing to approve, and the group must not be tied to a request never filed.
          if (!filed.request)
            throw new UsageError(
              (filed.message.text ?? `Flag ${flag} is already off.`).replace(/^:[a-z_]+: /, ''),
            );
        },
      };
    }
    case 'canary-abort': {
      const aim = await aimCanaryAbort(service.name, env, deps);
      if (aim.kind === 'nothing') return { why: aim.why };
      return {
        target: aim.target,
        file: (inv, reason, alert) => fileCanaryAbort(aim, env, { ...inv, reason }, deps, alert),
      };
    }
    case 'rollback':
      return {
        target: `${service.name}/${env.name}`,
        file: (inv, reason, alert) => requestRollback({ ...ref, reason }, inv, deps, { alert }),
      };
  }
}
