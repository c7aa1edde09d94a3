import type { RedisClient } from '../redis/client.js';
import { isOutcome } from './outcome.js';
import { CHAIN_CHECK, CHAIN_WRITE, type ChainLink, type ChainedAuditLog } from '../audit/log.js';
import type { AuditEvent, AuditRecord } from '../audit/record.js';
import {
  TERMINAL_STATES,
  type ApprovalVote,
  type BackoutRequest,
  type RequestSpec,
  type RequestState,
  type RequestStatus,
} from './types.js';
import { runScript } from '../redis/script.js';

const TRANSITION = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', ''} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == state then allowed = true end
end
if not allowed then return {'conflict', state} end
if ARGV[4] == '1' then
  local expires = tonumber(redis.call('HGET', KEYS[1], 'expiresAt'))
  if expires and tonumber(ARGV[3]) >= expires then return {'expired', state} end
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updatedAt', ARGV[3])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return {'ok', state}
`;

/**
 * TRANSITION with its audit record in the same script: KEYS[1..2] and ARGV[1..5] are the
 * audit chain link, KEYS[3] the request; ARGV[6..9] from, to, now, checkExpiry; then fields.
 * Every check comes before the first write, and the record is written first, so either both
 * land or neither does.
 */
const TRANSITION_AUDITED = `${CHAIN_CHECK}
local state = redis.call('HGET', KEYS[3], 'state')
if not state then return {'missing', ''} end
local allowed = false
for s in string.gmatch(ARGV[6], '[^,]+') do
  if s == state then allowed = true end
end
if not allowed then return {'conflict', state} end
if ARGV[9] == '1' then
  local expires = tonumber(redis.call('HGET', KEYS[3], 'expiresAt'))
  if expires and tonumber(ARGV[8]) >= expires then return {'expired', state} end
end
${CHAIN_WRITE}
redis.call('HSET', KEYS[3], 'state', ARGV[7], 'updatedAt', ARGV[8])
for i = 10, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('HINCRBY', KEYS[3], 'version', 1)
return {'ok', state}
`;

/**
 * One Approve click towards a quorum, with its audit record (KEYS/ARGV[1..5] the chain link,
 * KEYS[3] the request). ARGV[6] the approvals JSON the caller read (compare-and-set: another
 * click in between answers 'moved' and the caller re-reads), ARGV[7] the new approvals JSON,
 * ARGV[8] now, ARGV[9] '1' when this vote completes the quorum (pending → approved), then fields.
 */
const VOTE_AUDITED = `${CHAIN_CHECK}
local state = redis.call('HGET', KEYS[3], 'state')
if not state then return {'missing', ''} end
if state ~= 'pending' then return {'conflict', state} end
local expires = tonumber(redis.call('HGET', KEYS[3], 'expiresAt'))
if expires and tonumber(ARGV[8]) >= expires then return {'expired', state} end
local seen = redis.call('HGET', KEYS[3], 'approvals') or ''
if seen ~= ARGV[6] then return {'moved', state} end
${CHAIN_WRITE}
redis.call('HSET', KEYS[3], 'approvals', ARGV[7], 'updatedAt', ARGV[8])
if ARGV[9] == '1' then
  redis.call('HSET', KEYS[3], 'state', 'approved')
  for i = 10, #ARGV, 2 do
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HINCRBY', KEYS[3], 'version', 1)
return {'ok', state}
`;

export type VoteResult =
  | { ok: true }
  | { ok: false; reason: 'missing' | 'moved' }
  | { ok: false; reason: 'conflict' | 'expired'; state: RequestState };

export type TransitionResult =
  | { ok: true; from: RequestState }
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'conflict' | 'expired'; state: RequestState };

/** Fields that change over a request's life, stored as plain hash fields. */
type StatusFields = Partial<Omit<RequestStatus, 'state' | 'version' | 'updatedAt'>>;

/**
 * Requests live in one Redis hash each: the fixed spec as JSON, the status as fields.
 * Every state change is one Lua script, so two replicas handling two clicks on the same
 * Approve button cannot both win.
 */
export class RequestStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** How long finished requests are kept for Retry/Undo and for the record. */
    private readonly retentionSeconds = 30 * 86_400,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:req:${id}`;
  }

  async create(spec: RequestSpec, state: RequestState = 'pending'): Promise<BackoutRequest> {
    const now = Date.now();
    const created = await this.redis.hsetnx(this.key(spec.id), 'spec', JSON.stringify(spec));
    if (!created) throw new Error(`request ${spec.id} already exists`);
    await this.redis
      .multi()
      .hset(this.key(spec.id), {
        state,
        version: 1,
        updatedAt: now,
        expiresAt: spec.expiresAt,
        run: 0,
      })
      .expire(this.key(spec.id), this.retentionSeconds)
      .zadd(`${this.prefix}:reqs:by-time`, spec.createdAt, spec.id)
      .exec();
    return { ...spec, state, version: 1, updatedAt: now, run: 0 };
  }

  async get(id: string): Promise<BackoutRequest | undefined> {
    const h = await this.redis.hgetall(this.key(id));
    if (!h.spec || !h.state) return undefined;
    return decode(h);
  }

  /**
   * Moves a request from one of `from` to `to`, setting `fields`, atomically.
   * `checkExpiry` refuses the move once the approval window has passed.
   */
  async transition(
    id: string,
    from: RequestState[],
    to: RequestState,
    fields: StatusFields = {},
    opts: { checkExpiry?: boolean; now?: number } = {},
  ): Promise<TransitionResult> {
    const args: (string | number)[] = [
      from.join(','),
      to,
      opts.now ?? Date.now(),
      opts.checkExpiry ? '1' : '0',
    ];
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) args.push(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    const [status, state] = (await runScript(this.redis, TRANSITION, 1, this.key(id), ...args)) as [
      string,
      string,
    ];
    if (status === 'ok') return { ok: true, from: state as RequestState };
    if (status === 'missing') return { ok: false, reason: 'missing' };
    return { ok: false, reason: status as 'conflict' | 'expired', state: state as RequestState };
  }

  /**
   * `transition` and its audit record in one atomic step: the record is in the chain exactly
   * when the request moved. A failed audit write throws and leaves the request as it was.
   */
  async transitionAudited(
    audit: ChainedAuditLog,
    event: AuditEvent,
    id: string,
    from: RequestState[],
    to: RequestState,
    fields: StatusFields = {},
    opts: { checkExpiry?: boolean; now?: number } = {},
  ): Promise<TransitionResult & { record?: AuditRecord }> {
    const args: (string | number)[] = [
      from.join(','),
      to,
      opts.now ?? Date.now(),
      opts.checkExpiry ? '1' : '0',
    ];
    const { record, result } = await audit.appendWith<TransitionResult>(event, async (link) => {
      const [status, state] = await this.evalLinked(TRANSITION_AUDITED, id, link, args, fields);
      if (status === 'head-moved') return 'head-moved';
      if (status === 'ok') return { written: true, result: { ok: true, from: state as RequestState } };
      if (status === 'missing') return { written: false, result: { ok: false, reason: 'missing' } };
      return {
        written: false,
        result: { ok: false, reason: status as 'conflict' | 'expired', state: state as RequestState },
      };
    });
    return record ? { ...result, record } : result;
  }

  /** The approvals field exactly as stored ('' when none): what a vote compares and sets. */
  async rawApprovals(id: string): Promise<string> {
    return (await this.redis.hget(this.key(id), 'approvals')) ?? '';
  }

  /**
   * Adds one approval atomically with its audit record, and when it completes the quorum, moves the
   * request pending → approved with the fields in the same script: of two clicks racing on two
   * replicas one lands and the other is told the approvals moved, so none is counted twice and
   * only one click can start the job.
   */
  async voteAudited(
    audit: ChainedAuditLog,
    event: AuditEvent,
    id: string,
    vote: { seen: string; next: string; completes: boolean; now: number },
    fields: StatusFields = {},
  ): Promise<VoteResult & { record?: AuditRecord }> {
    const args: (string | number)[] = [vote.seen, vote.next, vote.now, vote.completes ? '1' : '0'];
    const { record, result } = await audit.appendWith<VoteResult>(event, async (link) => {
      const [status, state] = await this.evalLinked(VOTE_AUDITED, id, link, args, fields);
      if (status === 'head-moved') return 'head-moved';
      if (status === 'ok') return { written: true, result: { ok: true } };
      if (status === 'missing' || status === 'moved')
        return { written: false, result: { ok: false, reason: status } };
      return {
        written: false,
        result: { ok: false, reason: status as 'conflict' | 'expired', state: state as RequestState },
      };
    });
    return record ? { ...result, record } : result;
  }

  /** Runs an audited script: the audit chain's keys and arguments, the request's key, then the status fields. */
  private async evalLinked(
    script: string,
    id: string,
    link: ChainLink,
    args: (string | number)[],
    fields: StatusFields,
  ): Promise<[string, string]> {
    const flat = [...args];
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) flat.push(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    return (await runScript(this.redis, script, 3, ...link.keys, this.key(id), ...link.args, ...flat)) as [
      string,
      string,
    ];
  }

  /** Sets status fields that are not a state change (status line, outcome, run counter). */
  async annotate(id: string, fields: StatusFields): Promise<void> {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) flat[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    if (Object.keys(flat).length === 0) return;
    await this.redis.multi().hset(this.key(id), flat).hincrby(this.key(id), 'version', 1).exec();
  }

  /**
   * Where the request's own audit records start (its request.created seq), so what reads its
   * history later (the timeline at its job's end) starts there rather than at the stream's start.
   */
  async rememberAuditStart(id: string, seq: number): Promise<void> {
    await this.redis.set(`${this.prefix}:req-audit-from:${id}`, seq, 'EX', this.retentionSeconds);
  }

  async auditStart(id: string): Promise<number | undefined> {
    const seq = Number(await this.redis.get(`${this.prefix}:req-audit-from:${id}`));
    return Number.isInteger(seq) && seq > 0 ? seq : undefined;
  }

  async incrementRun(id: string): Promise<number> {
    return this.redis.hincrby(this.key(id), 'run', 1);
  }

  /** Drops index entries of requests past their retention (their hashes have expired already). */
  async trimIndex(now = Date.now()): Promise<number> {
    return this.redis.zremrangebyscore(
      `${this.prefix}:reqs:by-time`,
      '-inf',
      now - this.retentionSeconds * 1000,
    );
  }

  /** Ids of requests created in [fromMs, toMs], oldest first. */
  async idsBetween(fromMs: number, toMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(`${this.prefix}:reqs:by-time`, fromMs, toMs);
  }

  /**
   * The requests filed since `sinceMs` that are in `state` now. Their states are read in batches
   * of pipelined HGETs, and only the matching requests read whole: the sweep asks every 30 s, and
   * reading each of two days' requests in turn cost a round trip and a parse apiece.
   */
  async listInState(sinceMs: number, state: RequestState): Promise<BackoutRequest[]> {
    const ids = await this.idsBetween(sinceMs, Date.now());
    const out: BackoutRequest[] = [];
    for (let from = 0; from < ids.length; from += STATE_BATCH) {
      const batch = ids.slice(from, from + STATE_BATCH);
      const pipe = this.redis.pipeline();
      for (const id of batch) pipe.hget(this.key(id), 'state');
      const states = (await pipe.exec()) ?? [];
      for (const [i, id] of batch.entries()) {
        const [err, current] = states[i] ?? [null, null];
        if (err) throw err;
        if (current !== state) continue;
        const request = await this.get(id);
        if (request?.state === state) out.push(request);
      }
    }
    return out;
  }
}

/** How many request states one pipelined read asks for. */
const STATE_BATCH = 500;

export function isTerminal(state: RequestState): boolean {
  return TERMINAL_STATES.has(state);
}

function decode(h: Record<string, string>): BackoutRequest {
  const spec = JSON.parse(h.spec!) as RequestSpec;
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const status: RequestStatus = {
    state: h.state as RequestState,
    version: Number(h.version ?? 1),
    updatedAt: Number(h.updatedAt ?? spec.createdAt),
    run: Number(h.run ?? 0),
    ...(h.approver ? { approver: h.approver } : {}),
    ...(h.approvedAt ? { approvedAt: num(h.approvedAt)! } : {}),
    ...(h.breakGlass ? { breakGlass: h.breakGlass === 'true' } : {}),
    ...(h.approvals ? { approvals: JSON.parse(h.approvals) as ApprovalVote[] } : {}),
    ...(h.decidedBy ? { decidedBy: h.decidedBy } : {}),
    ...(h.decidedAt ? { decidedAt: num(h.decidedAt)! } : {}),
    ...(h.outcome ? { outcome: h.outcome } : {}),
    ...(isOutcome(h.verdict) ? { verdict: h.verdict } : {}),
    ...(h.statusLine ? { statusLine: h.statusLine } : {}),
    ...(h.progress ? { progress: JSON.parse(h.progress) as RequestStatus['progress'] } : {}),
  };
  return { ...spec, ...status };
}
