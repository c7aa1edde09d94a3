// What backout's `/retract api` command uses; services embed `./middleware` instead.
export { buildEntry, deprecationEntrySchema, entryId, MAX_DELAY_MS } from './entry.js';
export type { BrownoutWindow, BuildEntryResult, DeprecationEntry, EntryInput } from './entry.js';
export {
  DEFAULT_MAX_WINDOWS,
  formatDuration,
  formatSchedule,
  formatWindow,
  parseBrownoutSchedule,
  parseDuration,
} from './schedule.js';
export type { ScheduleError, ScheduleOptions, ScheduleResult } from './schedule.js';
export { DeprecationRegistry } from './registry.js';
export type { ClientUsage, EntryUsage } from './registry.js';
export { describeTrend, trend } from './trend.js';
export type { Trend } from './trend.js';
export { deprecationHeaders } from './headers.js';
export { decide, PROBLEM_TYPES } from './decide.js';
export type { Decision, RetirementProblem } from './decide.js';
export { DEFAULT_PREFIX } from './keys.js';
