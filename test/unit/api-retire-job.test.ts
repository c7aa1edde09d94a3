import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildEntry, type DeprecationEntry } from '../../src/api-retirement/index.js';
import type { AuditEvent } from '../../src/audit/record.js';
import { StalePlanError } from '../../src/errors.js';
import type { StepContext, StepResult } from '../../src/queue/job-definition.js';
import type { BackoutRequest } from '../../src/requests/types.js';
import type { SlackMessage } from '../../src/slack/notifier.js';
import { apiRetireJob, apiUnretireJob } from '../../jobs/api-retire.js';
import { entryHash, type ApiRetirePlan, type ApiUnretirePlan } from '../../jobs/api-retire-plan.js';
import type { JobDeps } from '../../jobs/deps.js';

const SUNSET = new Date(Date.now() + 90 * 86_400_000).toISOString();

/** The parts of the job's world the steps touch, in memory, with counters. */
function fakeWorld() {
  const entries = new Map<string, DeprecationEntry>();
  const world = {
    entries,
    puts: 0,
    removes: 0,
    audit: [] as AuditEvent[],
    posts: new Map<string, { channel: string; message: SlackMessage }>(),
    locks: new Map<string, string>(),
    /** Set to make the next put land and then fail, as if the worker died right after it. */
    crashAfterPut: false,
    /** Reminders scheduled: [entry id, channel]. */
    scheduled: [] as [string, string][],
  };
  const deps = {
    apiRegistry: {
      get: (_service: string, id: string) => Promise.resolve(entries.get(id)),
      put: (entry: DeprecationEntry) => {
        entries.set(entry.id, entry);
        world.puts++;
        if (world.crashAfterPut) {
          world.crashAfterPut = false;
          return Promise.reject(new Error('worker killed'));
        }
        return Promise.resolve(world.puts);
      },
      remove: (_service: string, id: string) => {
        world.removes++;
        return Promise.resolve(entries.delete(id));
      },
    },
    audit: {
      append: (event: AuditEvent) => {
        world.audit.push(event);
        return Promise.resolve({
          ...event,
          seq: world.audit.length,
          id: 'x',
          ts: '',
          prevHash: '',
          hash: '',
        });
      },
    },
    notifier: {
      post: (key: string, channel: string, message: SlackMessage) => {
        if (!world.posts.has(key)) world.posts.set(key, { channel, message });
        return Promise.resolve();
      },
    },
    apiWarnings: {
      schedule: (entry: DeprecationEntry, channel: string) => {
        world.scheduled.push([entry.id, channel]);
        return Promise.resolve(3);
      },
    },
    locks: {
      acquire: (target: string, holder: string) => {
        const current = world.locks.get(target);
        if (current && current !== holder) return Promise.resolve({ ok: false as const, holder: current });
        world.locks.set(target, holder);
        return Promise.resolve({ ok: true as const });
      },
    },
  } as unknown as JobDeps;
  return { world, deps };
}

function request<P>(kind: 'api-retire' | 'api-unretire', plan: P): BackoutRequest<P> {
  return {
    id: `${kind}-1`,
    kind,
    service: 'checkout-api',
    target: 'checkout-api/api',
    mutating: true,
    requester: 'U0REQUEST',
    approver: 'U0SRE1',
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    plan,
    planHash: 'h',
    title: 't',
    approval: { required: true, reasons: [], approvers: { users: [], usergroups: [] }, twoPerson: true },
    slack: { channel: 'C0INCIDENT' },
    dryRun: false,
    state: 'running',
    version: 1,
    updatedAt: Date.now(),
    run: 1,
  };
}

/** Runs a job's steps like the runner does, sharing checkpoint state across calls (and "crashes"). */
function runner<P>(
  def: { steps: { name: string; run(ctx: StepContext<P, JobDeps>): Promise<StepResult> }[] },
  req: BackoutRequest<P>,
  deps: JobDeps,
) {
  const state: Record<string, unknown> = {};
  const completed = new Set<string>();
  const notes: string[] = [];
  const ctx: StepContext<P, JobDeps> = {
    request: req,
    plan: req.plan,
    state,
    save: (patch) => {
      Object.assign(state, patch);
      return Promise.resolve();
    },
    progress: () => Promise.resolve(),
    note: (_key, text) => {
      notes.push(text);
      return Promise.resolve();
    },
    deps,
    dryRun: false,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  };
  return {
    state,
    notes,
    /** Runs the steps not yet completed; returns the finish outcome, if a step finished early. */
    async run(): Promise<string | undefined> {
      for (const step of def.steps) {
        if (completed.has(step.name)) continue;
        const result = await step.run(ctx);
        completed.add(step.name);
        if (result && 'finish' in result) return result.finish;
      }
      return undefined;
    },
  };
}

const retirePlan = (extra: Partial<ApiRetirePlan> = {}): ApiRetirePlan => ({
  service: 'checkout-api',
  id: 'GET /v1/checkout/*',
  method: 'GET',
  pattern: '/v1/checkout/*',
  sunset: SUNSET,
  successor: 'https://api.example.com/v2/checkout',
  brownouts: [],
  delay: { maxMs: 2000 },
  announceChannel: 'C0CHECKOUT',
  ...extra,
});

describe('the api-retire job', () => {
  it('writes, audits and announces exactly once, deprecated from the moment it is written', async () => {
    const { world, deps } = fakeWorld();
    const before = Date.now();
    const job = runner(apiRetireJob, request('api-retire', retirePlan()), deps);
    expect(await job.run()).toBeUndefined();
    const entry = world.entries.get('GET /v1/checkout/*');
    expect(entry).toMatchObject({
      createdBy: 'U0REQUEST',
      requestId: 'api-retire-1',
      delay: { maxMs: 2000 },
    });
    expect(Date.parse(entry!.deprecatedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(entry!.delay?.from).toBe(entry!.deprecatedAt);
    expect(world.audit).toHaveLength(1);
    expect(world.audit[0]).toMatchObject({
      type: 'registry.changed',
      requestId: 'api-retire-1',
      approver: 'U0SRE1',
      outcome: 'added',
      details: { action: 'put', entryId: 'GET /v1/checkout/*', entry, previous: null },
    });
    expect([...world.posts.keys()]).toEqual(['api-retire-1.announce']);
    expect(world.posts.get('api-retire-1.announce')?.channel).toBe('C0CHECKOUT');
    expect(world.scheduled).toEqual([[retirePlan().id, 'C0CHECKOUT']]);
    expect(job.state.outcome).toBe('deprecated');
    expect(job.notes[0]).toContain('is deprecated');
  });

  it('re-run after dying right after its write recognises the write: one put, one audit record', async () => {
    const { world, deps } = fakeWorld();
    const job = runner(apiRetireJob, request('api-retire', retirePlan()), deps);
    world.crashAfterPut = true;
    await expect(job.run()).rejects.toThrow('worker killed');
    await job.run();
    expect(world.puts).toBe(1);
    expect(world.audit.filter((e) => e.type === 'registry.changed')).toHaveLength(1);
    expect(world.posts.size).toBe(1);
  });

  it('refuses as stale when someone else wrote the endpoint since the plan, and writes nothing', async () => {
    const { world, deps } = fakeWorld();
    const job = runner(apiRetireJob, request('api-retire', retirePlan()), deps);
    const built = buildEntry({
      service: 'checkout-api',
      method: 'GET',
      pattern: '/v1/checkout/*',
      deprecatedAt: new Date(),
      sunset: SUNSET,
      createdBy: 'U0SRE2',
      requestId: 'elsewhere',
    });
    if (!built.ok) throw new Error(built.error);
    const other = built.entry;
    world.entries.set(other.id, other);
    await expect(job.run()).rejects.toThrow(StalePlanError);
    await expect(job.run()).rejects.toThrow(
      /an entry for `GET \/v1\/checkout\/\*` of checkout-api was written after this plan was made/,
    );
    expect(world.puts).toBe(0);
    expect(world.audit).toEqual([]);
    expect(world.entries.get(other.id)).toBe(other);
  });

  it('keeps the replaced entry’s deprecation date, and refuses once the sunset has passed', async () => {
    const { world, deps } = fakeWorld();
    const first = runner(apiRetireJob, request('api-retire', retirePlan()), deps);
    await first.run();
    const previous = world.entries.get('GET /v1/checkout/*')!;
    const update = runner(
      apiRetireJob,
      request(
        'api-retire',
        retirePlan({
          deprecatedAt: previous.deprecatedAt,
          previous: { hash: entryHash(previous), entry: previous },
          brownouts: [],
        }),
      ),
      deps,
    );
    await update.run();
    expect(world.entries.get(previous.id)?.deprecatedAt).toBe(previous.deprecatedAt);
    expect(world.audit.at(-1)?.outcome).toBe('updated');
    expect(update.state.outcome).toBe('deprecation updated');

    const late = runner(
      apiRetireJob,
      request(
        'api-retire',
        retirePlan({
          id: 'GET /v1/late',
          pattern: '/v1/late',
          sunset: new Date(Date.now() - 1000).toISOString(),
        }),
      ),
      deps,
    );
    await expect(late.run()).rejects.toThrow(/passed before this ran/);
  });

  it('is refused while another request holds the service’s API lock', async () => {
    const { world, deps } = fakeWorld();
    world.locks.set('checkout-api/api', 'someone-else');
    await expect(runner(apiRetireJob, request('api-retire', retirePlan()), deps).run()).rejects.toThrow(
      'checkout-api/api is held by request someone-else',
    );
    expect(world.puts).toBe(0);
  });
});

describe('the api-unretire job', () => {
  async function withEntry() {
    const fake = fakeWorld();
    await runner(apiRetireJob, request('api-retire', retirePlan()), fake.deps).run();
    fake.world.audit.length = 0;
    fake.world.posts.clear();
    fake.world.locks.clear();
    const entry = fake.world.entries.get('GET /v1/checkout/*')!;
    const plan: ApiUnretirePlan = {
      service: 'checkout-api',
      id: entry.id,
      previous: { hash: entryHash(entry), entry },
      announceChannel: 'C0CHECKOUT',
    };
    return { ...fake, entry, plan };
  }

  it('removes the entry, audits the removal with what was removed, and announces it', async () => {
    const { world, deps, entry, plan } = await withEntry();
    const job = runner(apiUnretireJob, request('api-unretire', plan), deps);
    expect(await job.run()).toBeUndefined();
    expect(world.entries.size).toBe(0);
    expect(world.audit).toHaveLength(1);
    expect(world.audit[0]).toMatchObject({
      type: 'registry.changed',
      outcome: 'removed',
      details: { action: 'remove', previous: entry, entry: null },
    });
    expect(world.posts.get('api-unretire-1.announce')?.message.text).toContain('Deprecation withdrawn');
  });

  it('finishes as a no-op when the entry is already gone, and as stale when it changed', async () => {
    const gone = await withEntry();
    gone.world.entries.clear();
    expect(await runner(apiUnretireJob, request('api-unretire', gone.plan), gone.deps).run()).toBe(
      'no-op: the entry was already removed',
    );
    expect(gone.world.audit).toEqual([]);

    const changed = await withEntry();
    changed.world.entries.set(changed.entry.id, {
      ...changed.entry,
      sunset: new Date(Date.now() + 5 * 86_400_000).toISOString(),
    });
    await expect(
      runner(apiUnretireJob, request('api-unretire', changed.plan), changed.deps).run(),
    ).rejects.toThrow(
      /the entry for `GET \/v1\/checkout\/\*` of checkout-api changed after this plan was made/,
    );
    expect(changed.world.removes).toBe(0);
  });
});
