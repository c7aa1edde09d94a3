import type { ApiWarningScheduler } from './api-warnings.js';
import type { DeprecationEntry } from '../src/api-retirement/index.js';
import type { AuditLog } from '../src/audit/log.js';
import type { Config } from '../src/config/model.js';
import type { HealthChecker } from '../src/integrations/health.js';
import type { SyncOwners } from '../src/integrations/kubernetes/owners.js';
import type { Deployments } from '../src/integrations/kubernetes/types.js';
import type { Retractions } from '../src/integrations/github/retractions.js';
import type { Releases } from '../src/integrations/github/types.js';
import type { RequestStore } from '../src/requests/store.js';
import type { TargetLocks } from '../src/requests/target-lock.js';
import type { BackoutRequest } from '../src/requests/types.js';
import type { People } from '../src/slack/directory.js';
import type { Notifier } from '../src/slack/notifier.js';
import type { TrafficProviders } from '../src/integrations/traffic/types.js';
import type { ArgoRolloutsProvider } from '../src/integrations/traffic/argo-rollouts.js';
import type { SwitchProviders } from '../src/integrations/flags/types.js';
import type { CanaryBoard } from './canary-control.js';
import type { MemberRollbacks } from './rollback-group.js';

/** The small typed interfaces jobs use; built once by the composition root. */
export interface JobDeps {
  config: Config;
  deployments: Deployments;
  /** GitOps and release owners of Deployments (read for plans, paused under `gitops: suspend`). */
  owners: SyncOwners;
  health: HealthChecker;
  locks: TargetLocks;
  audit: AuditLog;
  /** For messages beyond the step replies (announcements in a service's channel). */
  notifier: Notifier;
  /** Slack display names, for text read outside Slack (the release banner); undefined when unreadable. */
  people: People;
  /** The deprecation registry services read through the middleware (`/retract api`). */
  apiRegistry: ApiRegistry;
  /** Reminders before API brownouts and sunsets. */
  apiWarnings: ApiWarningScheduler;
  /** GitHub releases (retraction). */
  releases: Releases;
  /** Snapshots of retracted releases, for `/retract undo`. */
  retractions: Retractions;
  /** The member rollbacks a group rollback starts as its children, one at a time. */
  memberRollbacks: MemberRollbacks;
  /** Rollbacks a retraction starts as its children. */
  childRollbacks: ChildRollbacks;
  /** Kill switches: flag providers (Unleash, LaunchDarkly, flagd) and CronJob suspension. */
  switches: SwitchProviders;
  /** Canary traffic providers (Gateway API, Argo Rollouts, NGINX Ingress). */
  traffic: TrafficProviders;
  /** Signals people send a running canary, and the position it publishes. */
  canary: CanaryBoard;
  /** Requests read by id (an abort reads how the canary it signalled ended). */
  requests: Pick<RequestStore, 'get'>;
  /** Sets the status line under a request's state on its card (live canary weight, next step, analysis). */
  statusLine(requestId: string, line: string): Promise<void>;
  /** Argo Rollouts itself, for the gate's one-step promote (Rollouts run by their own pipelines). */
  argo: ArgoRolloutsProvider;
}

/** Files rollbacks as children of a running request (approved by its approval) and reads them back. */
export interface ChildRollbacks {
  /**
   * Rolls `environment` back to its newest revision that does not run `tag`, as request `id`,
   * a child of `parent` (its card goes where the parent's command came from). Filing the same id
   * again is a no-op. Says why when it cannot start.
   */
  start(opts: {
    parent: BackoutRequest;
    environment: string;
    id: string;
    tag: string;
  }): Promise<{ ok: true; title: string; channel: string } | { ok: false; why: string }>;
  get(id: string): Promise<BackoutRequest | undefined>;
}

/** The part of `DeprecationRegistry` the API retirement jobs use. */
export interface ApiRegistry {
  get(service: string, id: string): Promise<DeprecationEntry | undefined>;
  /** Returns the registry's new version. */
  put(entry: DeprecationEntry): Promise<number>;
  /** Returns whether the entry existed. */
  remove(service: string, id: string): Promise<boolean>;
}
