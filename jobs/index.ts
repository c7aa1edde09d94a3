import type { JobDefinition } from '../src/queue/job-definition.js';
import type { JobDeps } from './deps.js';
import { rollbackJob } from './rollback.js';

/** Every job type backout runs, by request kind. One module per job type. */
export const jobDefinitions: JobDefinition<unknown, JobDeps>[] = [rollbackJob];

export function definitionsByKind(): Map<string, JobDefinition<unknown, JobDeps>> {
  return new Map(jobDefinitions.map((d) => [d.kind, d]));
}

export type { JobDeps };
