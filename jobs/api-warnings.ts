import type { Queue } from 'bullmq';
import type { DeprecationEntry, EntryUsage } from '../src/api-retirement/index.js';
import {
  warningId,
  warningsFor,
  warningStillApplies,
  type ApiWarning,
} from '../src/api-retirement/warnings.js';
import type { Notifier } from '../src/slack/notifier.js';
import { apiWarningMessage } from './api-retire-text.js';

export type ApiWarningJob = ApiWarning & { channel: string };

/** The job step's view: schedule the reminders for an entry just written. */
export interface ApiWarningScheduler {
  /** Returns how many reminders are ahead. Scheduling the same entry again adds nothing new. */
  schedule(entry: DeprecationEntry, channel: string): Promise<number>;
}

/** How many callers a reminder names; the usage command lists them all. */
const CALLERS_SHOWN = 10;
const USAGE_DAYS = 30;

/**
 * Reminders before each brownout and the sunset, as durable delayed jobs on the timers queue
 * (they survive restarts like every other timer). When one fires it re-reads the registry: an
 * entry changed or removed since then gets no reminder for a moment that no longer exists.
 */
export class ApiWarnings implements ApiWarningScheduler {
  constructor(
    private readonly deps: {
      timers: Pick<Queue, 'add'>;
      registry: {
        get(service: string, id: string): Promise<DeprecationEntry | undefined>;
        usage(service: string, options: { days?: number; ids?: string[] }): Promise<EntryUsage[]>;
      };
      notifier: Pick<Notifier, 'post'>;
      leadsMs: readonly number[];
      now?: () => number;
    },
  ) {}

  async schedule(entry: DeprecationEntry, channel: string): Promise<number> {
    const now = (this.deps.now ?? Date.now)();
    const warnings = warningsFor(entry, this.deps.leadsMs, now);
    for (const warning of warnings) {
      const data: ApiWarningJob = { ...warning, channel };
      await this.deps.timers.add('api-warning', data, {
        jobId: warningId(warning),
        delay: Math.max(0, warning.dueAt - now),
        attempts: 8,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: true,
        removeOnFail: 100,
      });
    }
    return warnings.length;
  }

  /** Runs when a reminder is due; posts once per reminder whatever the retries. */
  async fire(job: ApiWarningJob): Promise<'posted' | 'no longer applies'> {
    const entry = await this.deps.registry.get(job.service, job.entryId);
    if (!entry || !warningStillApplies(job, entry)) return 'no longer applies';
    const [usage] = await this.deps.registry.usage(job.service, { days: USAGE_DAYS, ids: [entry.id] });
    await this.deps.notifier.post(
      warningId(job),
      job.channel,
      apiWarningMessage(entry, job, usage, { callersShown: CALLERS_SHOWN, days: USAGE_DAYS }),
    );
    return 'posted';
  }
}
