import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { AlertIntake, type IntakeAnswer, type IntakeDeps } from '../incidents/intake.js';
import type { AlertGroup } from '../incidents/alert.js';
import { genericAlertRoute } from './alert-webhook.js';
import { alertmanagerRoute } from './alertmanager.js';
import { createHookRouter, type HookRoute } from './router.js';

/**
 * Every webhook backout serves under /hooks/: one entry per route, one token for all of them
 * (BACKOUT_WEBHOOK_TOKEN). A new hook is one more entry in `routes`.
 */
export function createHooks(opts: {
  token: string | undefined;
  intake: Omit<IntakeDeps, 'onProposed'>;
  metrics: Metrics;
  log: Logger;
}) {
  const intake = new AlertIntake({
    ...opts.intake,
    onProposed: (startedAt, filedAt) =>
      opts.metrics.timeToMitigate.observe(
        { stage: 'alert_to_proposal' },
        Math.max(0, (filedAt - startedAt) / 1000),
      ),
  });
  // Counts what came of each notification, whichever route it arrived on.
  const counted: Pick<AlertIntake, 'receive'> = {
    receive: async (group: AlertGroup): Promise<IntakeAnswer> => {
      const answer = await intake.receive(group);
      opts.metrics.alerts.inc({ source: group.source, outcome: answer.outcome });
      return answer;
    },
  };
  const routes: HookRoute[] = [alertmanagerRoute(counted), genericAlertRoute(counted, () => opts.token)];
  return createHookRouter({ token: opts.token, routes, log: opts.log.child({ component: 'hooks' }) });
}
