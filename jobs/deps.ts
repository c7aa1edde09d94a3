import type { AuditLog } from '../src/audit/log.js';
import type { Config } from '../src/config/model.js';
import type { HealthChecker } from '../src/integrations/health.js';
import type { Deployments } from '../src/integrations/kubernetes/types.js';
import type { TargetLocks } from '../src/requests/target-lock.js';
import type { Notifier } from '../src/slack/notifier.js';

/** The small typed interfaces jobs use; built once by the composition root. */
export interface JobDeps {
  config: Config;
  deployments: Deployments;
  health: HealthChecker;
  locks: TargetLocks;
  audit: AuditLog;
  /** For messages beyond the step replies (announcements in a service's channel). */
  notifier: Notifier;
}
