/** What an alert-proposed request keeps for its job's lifecycle (rule, first audit seq), by request id. */
export const alertRequestKey = (prefix: string, requestId: string) => `${prefix}:alert-req:${requestId}`;
/** Set once a run's end has been observed in the metrics (a re-told end must not count twice). */
export const observedEndKey = (prefix: string, requestId: string, run: number) =>
  `${prefix}:timeline-observed:${requestId}:r${run}`;
/** The timers queue's job name for a status page pump (src/incidents/status-queue.ts). */
export const STATUSPAGE_JOB = 'statuspage';
