import {
  buildEntry,
  entryId,
  MAX_DELAY_MS,
  parseBrownoutSchedule,
  type BrownoutWindow,
  type DeprecationEntry,
  type EntryUsage,
} from '../src/api-retirement/index.js';
import { patternProblem } from '../src/api-retirement/pattern.js';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import type { Config, ServiceConfig } from '../src/config/model.js';
import { pickEnvironment } from '../src/config/model.js';
import { NotFoundError, QueueUnavailableError, UsageError } from '../src/errors.js';
import { checkRequester } from '../src/policy/policy.js';
import type { Decision, RequestFlow } from '../src/requests/flow.js';
import type { BackoutRequest } from '../src/requests/types.js';
import { ephemeral } from '../src/slack/cards.js';
import type { Directory } from '../src/slack/directory.js';
import type { SlackMessage } from '../src/slack/notifier.js';
import { closest } from '../src/text/suggest.js';
import { entryHash, snapshot, type ApiRetirePlan, type ApiUnretirePlan } from '../jobs/api-retire-plan.js';
import { changes, code, formatInstant } from '../jobs/api-retire-text.js';
import { API_USAGE, type RetractCommand } from './retract-grammar.js';
import { listMessage, usageMessage, USAGE_DAYS } from './retract-api-views.js';
import { filedText } from './rollback.js';
import { placeFor, resolveService, type Invocation } from './shared.js';

export type RetractApiCommand = Extract<RetractCommand, { kind: `api-${string}` }>;

/** The part of `DeprecationRegistry` the command reads (the jobs write). */
export interface ApiRegistryReader {
  list(service: string): Promise<DeprecationEntry[]>;
  get(service: string, id: string): Promise<DeprecationEntry | undefined>;
  usage(service: string, options?: { days?: number; now?: Date; ids?: string[] }): Promise<EntryUsage[]>;
}

/** Dependencies of `/retract api …`. */
export interface RetractApiDeps {
  config: Config;
  directory: Directory;
  flow: RequestFlow;
  apiRegistry: ApiRegistryReader;
  /** Whether Redis answers right now (list and usage read it without filing anything). */
  queueAvailable(): boolean;
}

const SCHEDULE_HINT =
  'A schedule is comma-separated items, each "<ISO start>/<duration> <share>% [410|503]" (e.g. 2027-02-01T14:00Z/1h 25%), "daily HH:MM/<duration> <share>%" or "weekly <Mon..Sun> HH:MM/<duration> <share>%"; times are UTC.';
const PATTERN_HINT =
  'A path pattern is literal segments, `:name` segments (one segment each) and an optional final `*` (the rest of the path), e.g. /v1/orders/:id or /v1/checkout/*.';

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** `--sunset`: `2027-03-01` (midnight UTC) or an ISO date-time with a zone, strictly in the future. */
export function parseSunset(text: string, now: Date): Date {
  const value = text.trim();
  const dateOnly = DATE_ONLY.exec(value);
  const match = dateOnly ?? DATE_TIME.exec(value);
  if (!match) {
    throw new UsageError(
      `--sunset takes a date such as 2027-03-01 (midnight UTC) or an ISO date-time such as 2027-03-01T09:00Z; "${value.slice(0, 60)}" is neither.`,
      { hint: API_USAGE },
    );
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', zone] = match;
  if (!dateOnly && zone === undefined) {
    throw new UsageError(
      `--sunset ${value} needs a time zone: write ${value}Z for UTC, or an offset such as ${value}+01:00.`,
    );
  }
  const [year, month, day] = [Number(y), Number(mo), Number(d)];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw new UsageError(`--sunset ${value} is not a real date and time.`, { hint: API_USAGE });
  }
  const iso = dateOnly ? `${value}T00:00:00Z` : value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const sunset = new Date(iso);
  if (Number.isNaN(sunset.getTime()))
    throw new UsageError(`--sunset ${value} is not a date backout can read.`, { hint: API_USAGE });
  if (sunset.getTime() <= now.getTime()) {
    throw new UsageError(
      `--sunset ${value} (${formatInstant(sunset.getTime())}) is not in the future: the endpoint would answer \`410 Gone\` at once, without any warning.`,
      { hint: 'Pick a later date, far enough ahead for callers to move to the successor.' },
    );
  }
  return sunset;
}

/** `--delay <max>`: the longest delay the ramp reaches, at most 30 s. */
export function parseDelay(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1) {
    throw new UsageError(
      `--delay takes the longest delay as a duration such as 2s or 500ms; "${text.slice(0, 40)}" is not one.`,
      {
        hint: API_USAGE,
      },
    );
  }
  if (ms > MAX_DELAY_MS) {
    throw new UsageError(
      `--delay ${text} is over the ${formatDuration(MAX_DELAY_MS)} cap: a longer delay would hold each request, and its connection, too long.`,
    );
  }
  return ms;
}

export function parseSchedule(text: string, now: Date, sunset: Date): BrownoutWindow[] {
  const result = parseBrownoutSchedule(text, { now, sunset });
  if (!result.ok) throw new UsageError(result.error.message, { hint: SCHEDULE_HINT });
  return result.windows;
}

/** Checks a path pattern and folds empty segments (`/v1//x/` → `/v1/x`), which match the same paths. */
export function normalisePattern(pattern: string): string {
  const problem = patternProblem(pattern);
  if (problem)
    throw new UsageError(`The path pattern "${pattern.slice(0, 80)}" ${problem}.`, { hint: PATTERN_HINT });
  return `/${pattern
    .split('/')
    .filter((part) => part !== '')
    .join('/')}`;
}

/** Where announcements go: the default environment's channel (or the service's), else the incident channel. */
export function announceChannel(config: Config, service: ServiceConfig): string | undefined {
  return pickEnvironment(service)?.channel ?? service.channel ?? config.incidentChannel;
}

type RetireCommand = Extract<RetractApiCommand, { kind: 'api-retire' }>;

/** Validates the command against the clock and the registry and turns it into a plan. */
export async function planRetire(
  cmd: RetireCommand,
  config: Config,
  registry: ApiRegistryReader,
  requester: string,
  now: Date,
): Promise<{ service: ServiceConfig; plan: ApiRetirePlan; previous?: DeprecationEntry }> {
  const service = resolveService(config, cmd.service);
  const pattern = normalisePattern(cmd.pattern);
  const sunset = parseSunset(cmd.sunset, now);
  const brownouts = cmd.brownout === undefined ? [] : parseSchedule(cmd.brownout, now, sunset);
  const delayMs = parseDelay(cmd.delay);
  const id = entryId({ method: cmd.method, pattern });
  const previous = await registry.get(service.name, id);
  const previousRamp = previous?.delay && (previous.delay.from ?? previous.deprecatedAt);
  const channel = announceChannel(config, service);
  const plan: ApiRetirePlan = {
    service: service.name,
    id,
    method: cmd.method,
    pattern,
    sunset: sunset.toISOString(),
    ...(cmd.successor !== undefined && { successor: cmd.successor }),
    ...(cmd.policy !== undefined && { policy: cmd.policy }),
    brownouts,
    // A replaced entry keeps its deprecation date and, when it had one, where its delay ramp began.
    ...(delayMs !== undefined && { delay: { maxMs: delayMs, ...(previousRamp && { from: previousRamp }) } }),
    ...(previous && { deprecatedAt: previous.deprecatedAt, previous: snapshot(previous) }),
    ...(channel !== undefined && { announceChannel: channel }),
  };
  // The job builds the same entry at write time; anything the schema refuses is refused now.
  const trial = buildEntry({
    service: plan.service,
    method: plan.method,
    pattern: plan.pattern,
    deprecatedAt: plan.deprecatedAt ?? now,
    sunset: plan.sunset,
    successor: plan.successor,
    policy: plan.policy,
    brownouts: plan.brownouts,
    delay: plan.delay && { from: plan.delay.from ?? now, maxMs: plan.delay.maxMs },
    createdBy: requester,
    requestId: 'plan',
    createdAt: now,
  });
  if (!trial.ok)
    throw new UsageError(`That deprecation would not be valid: ${trial.error}`, { hint: API_USAGE });
  return { service, plan, ...(previous && { previous }) };
}

async function requestRetire(
  cmd: RetireCommand,
  inv: Invocation,
  deps: RetractApiDeps,
): Promise<SlackMessage> {
  const service = resolveService(deps.config, cmd.service);
  await checkRequester(
    inv.user,
    service.policy,
    deps.directory,
    `deprecate API endpoints of ${service.name}`,
  );
  const { plan, previous } = await planRetire(cmd, deps.config, deps.apiRegistry, inv.user, new Date());
  if (previous && changes(previous, plan).length === 0) {
    return ephemeral(
      `:information_source: ${code(plan.id)} of ${plan.service} is already deprecated with exactly these settings (sunset ${formatInstant(plan.sunset)}), so nothing was filed.`,
    );
  }
  const request = await deps.flow.file({
    kind: 'api-retire',
    service: plan.service,
    target: `${plan.service}/api`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason && { reason: cmd.reason }),
    plan,
    title: `${previous ? 'Update the deprecation of' : 'Deprecate'} \`${plan.id}\` of ${plan.service}, sunset ${formatInstant(plan.sunset)}`,
    policy: service.policy,
    slack: placeFor(deps.config, pickEnvironment(service), inv),
  });
  return ephemeral(filedText(request));
}

/** Files the removal of one entry; says what exists when the entry does not. */
export async function requestUnretire(
  cmd: { service: string; method: string; pattern: string; reason?: string },
  inv: Invocation,
  deps: RetractApiDeps,
): Promise<{ message: SlackMessage; request?: BackoutRequest }> {
  const service = resolveService(deps.config, cmd.service);
  await checkRequester(
    inv.user,
    service.policy,
    deps.directory,
    `remove API deprecations of ${service.name}`,
  );
  const id = entryId({ method: cmd.method, pattern: normalisePattern(cmd.pattern) });
  const entry = await deps.apiRegistry.get(service.name, id);
  if (!entry) {
    const ids = (await deps.apiRegistry.list(service.name)).map((e) => e.id);
    const guess = closest(id, ids);
    throw new NotFoundError(
      `${service.name} has no deprecation for ${code(id)}, so there is nothing to undo and nothing was changed.${guess ? ` Did you mean ${code(guess)}?` : ''}`,
      {
        hint: ids.length
          ? `Deprecated endpoints of ${service.name}: ${ids.slice(0, 20).map(code).join(', ')}.`
          : `${service.name} has no deprecated endpoints.`,
      },
    );
  }
  const channel = announceChannel(deps.config, service);
  const plan: ApiUnretirePlan = {
    service: service.name,
    id,
    previous: { hash: entryHash(entry), entry },
    ...(channel !== undefined && { announceChannel: channel }),
  };
  const request = await deps.flow.file({
    kind: 'api-unretire',
    service: service.name,
    target: `${service.name}/api`,
    mutating: true,
    requester: inv.user,
    ...(cmd.reason && { reason: cmd.reason }),
    plan,
    title: `Remove the deprecation of \`${id}\` of ${service.name}`,
    policy: service.policy,
    slack: placeFor(deps.config, pickEnvironment(service), inv),
  });
  return { message: ephemeral(filedText(request)), request };
}

/** The "Remove this deprecation" button on a finished retirement: a new request with its own approval. */
export async function undoRetirement(
  request: BackoutRequest,
  user: string,
  place: { channel: string; responseUrl?: string },
  deps: RetractApiDeps,
): Promise<Decision> {
  const plan = request.plan as ApiRetirePlan;
  const { message, request: filed } = await requestUnretire(
    { service: plan.service, method: plan.method, pattern: plan.pattern, reason: `Undo ${request.id}` },
    {
      user,
      channel: place.channel,
      ...(place.responseUrl && { responseUrl: place.responseUrl }),
      ...(request.slack.threadTs && { threadTs: request.slack.threadTs }),
    },
    deps,
  );
  return { ok: filed !== undefined, message: message.text };
}

/** `/retract api …`: plan, list, usage and undo of API retirements. */
export async function runRetractApi(
  cmd: RetractApiCommand,
  inv: Invocation,
  deps: RetractApiDeps,
): Promise<SlackMessage> {
  switch (cmd.kind) {
    case 'api-retire':
      return requestRetire(cmd, inv, deps);
    case 'api-undo':
      return (await requestUnretire(cmd, inv, deps)).message;
    case 'api-list':
    case 'api-usage': {
      const service = resolveService(deps.config, cmd.service);
      if (!deps.queueAvailable()) throw new QueueUnavailableError();
      const now = new Date();
      const entries = await deps.apiRegistry.list(service.name);
      if (cmd.kind === 'api-list') return listMessage(service.name, entries, now);
      const usage = entries.length
        ? await deps.apiRegistry.usage(service.name, { days: USAGE_DAYS, now, ids: entries.map((e) => e.id) })
        : [];
      return usageMessage(service.name, entries, usage, now);
    }
  }
}
