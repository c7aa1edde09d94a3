import type { JobDefinition } from '../src/queue/job-definition.js';
import { apiRetireJob, apiUnretireJob } from './api-retire.js';
import { canaryJob } from './canary.js';
import { canaryAbortJob } from './canary-abort.js';
import type { JobDeps } from './deps.js';
import { flagJob } from './flag.js';
import { flaggerGateJob } from './flagger-gate.js';
import { rolloutGateJob } from './rollout-gate.js';
import { rollbackGroupJob } from './rollback-group.js';
import { retractJob } from './retract.js';
import { retractUndoJob } from './retract-undo.js';
import { rollbackJob } from './rollback.js';

/** Every job type backout runs, by request kind. One module per job type. */
export const jobDefinitions: JobDefinition<unknown, JobDeps>[] = [
  rollbackJob,
  apiRetireJob,
  apiUnretireJob,
  retractJob,
  retractUndoJob,
  canaryJob,
  canaryAbortJob,
  flagJob,
  rollbackGroupJob,
  flaggerGateJob,
  rolloutGateJob,
];

export function definitionsByKind(): Map<string, JobDefinition<unknown, JobDeps>> {
  return new Map(jobDefinitions.map((d) => [d.kind, d]));
}

export type { JobDeps };
