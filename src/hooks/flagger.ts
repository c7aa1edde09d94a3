import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ChainedAuditLog } from '../audit/log.js';
import type { Config, EnvironmentConfig } from '../config/model.js';
import { asBackoutError, PolicyError } from '../errors.js';
import { describePrincipals, isEmpty, isIn } from '../policy/policy.js';
import type { Directory } from '../slack/directory.js';
import { BodyTooLargeError, readBody } from '../http/body-limit.js';
import { sendWhole } from '../http/send.js';
import type { Logger } from '../observability/logger.js';
import type { RedisClient } from '../redis/client.js';
import type { CardRenderer } from '../requests/card-view.js';
import type { Decision, RequestFlow } from '../requests/flow.js';
import { newRequestId } from '../requests/ids.js';
import type { RequestStore } from '../requests/store.js';
import type { BackoutRequest } from '../requests/types.js';
import { auditContext } from '../queue/step-runner.js';
import { esc } from '../slack/cards.js';
import { utcText } from '../text/time.js';
import type { FlaggerGatePlan, FlaggerHook } from '../../jobs/flagger-gate.js';
import { checkBearer } from './bearer.js';
import { runScript } from '../redis/script.js';

/**
 * Flagger's webhook protocol (docs/gitbook/usage/webhooks.md): Flagger POSTs
 * `{name, namespace, phase, checksum, metadata}` to each hook every analysis interval and goes on
 * only on a 2xx; anything else means "not yet" (its event says why: our body). backout answers
 * 200 once a person approved in Slack (confirm-rollout, confirm-promotion), or once someone asked
 * for a rollback (rollback), and 403 until then.
 */
const payloadSchema = z.object({
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63),
  phase: z.string().max(64).default(''),
  checksum: z.string().max(128).default(''),
  type: z.string().max(64).optional(),
  metadata: z.record(z.string(), z.string()).default({}),
});
type Payload = z.infer<typeof payloadSchema>;

const HOOKS = new Set(['confirm-rollout', 'confirm-promotion', 'rollback']);
const PATH = /^\/hooks\/flagger\/([a-z-]+)$/;
/** Gate claims outlive any canary analysis; a new revision has a new checksum anyway. */
const CLAIM_TTL_S = 7 * 86_400;

/** Re-points a gate's claim from an expired request to its successor, only if no one did already. */
const RECLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
`;

export interface FlaggerDeps {
  token: string | undefined;
  config: Config;
  flow: RequestFlow;
  requests: RequestStore;
  cards: CardRenderer;
  audit: ChainedAuditLog;
  redis: RedisClient;
  prefix: string;
  directory: Directory;
  log: Logger;
}

interface Answer {
  status: number;
  text: string;
}

export class FlaggerHooks {
  constructor(private readonly deps: FlaggerDeps) {}

  /** The HTTP route: true when the path is one of Flagger's hooks (answered here). */
  readonly route = (req: IncomingMessage, res: ServerResponse, path: string, method: string): boolean => {
    const m = PATH.exec(path);
    if (!m) return false;
    const auth = checkBearer(req, this.deps.token);
    if (auth === 'unset') return reply(res, { status: 404, text: `no route for ${method} ${path}` });
    if (auth === 'bad') return reply(res, { status: 401, text: 'missing or wrong bearer token' });
    if (method !== 'POST' || !HOOKS.has(m[1]!))
      return reply(res, { status: 404, text: `no route for ${method} ${path}` });
    this.answer(req, res, m[1]! as FlaggerHook | 'rollback')
      .then((a) => reply(res, a))
      .catch((err: unknown) => {
        if (err instanceof BodyTooLargeError) return;
        this.deps.log.error({ err, path }, 'flagger hook failed');
        reply(res, { status: 500, text: `backout could not decide: ${asBackoutError(err).message}` });
      });
    return true;
  };

  private async answer(
    req: IncomingMessage,
    res: ServerResponse,
    hook: FlaggerHook | 'rollback',
  ): Promise<Answer> {
    const raw = await readBody(req, res, 256 * 1024);
    let parsed;
    try {
      parsed = payloadSchema.safeParse(JSON.parse(raw.toString('utf8')));
    } catch {
      return { status: 400, text: 'the body is not JSON' };
    }
    if (!parsed.success)
      return {
        status: 400,
        text: `not a Flagger webhook payload: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
      };
    const p = parsed.data;
    const env = this.environmentOf(p);
    if (!env)
      return {
        status: 404,
        text: `no backout environment runs ${p.namespace}/${p.name} (kubernetes.namespace ${p.namespace} and deployment ${p.name}); Flagger waits`,
      };
    if (hook === 'rollback') {
      const asked = await this.deps.redis.get(this.rollbackKey(p));
      return asked
        ? { status: 200, text: `rollback asked for by ${asked}` }
        : { status: 403, text: 'nobody asked for a rollback' };
    }
    return this.gate(hook, p, env);
  }

  /** A confirm-* call: the first one files the request and posts its card; later ones read it. */
  private async gate(hook: FlaggerHook, p: Payload, env: EnvironmentConfig): Promise<Answer> {
    const { redis } = this.deps;
    const key = this.gateKey(hook, p);
    let id = await redis.get(key);
    if (!id) {
      const fresh = newRequestId('flagger-gate');
      if ((await redis.set(key, fresh, 'EX', CLAIM_TTL_S, 'NX')) === 'OK')
        return this.file(key, fresh, hook, p, env);
      id = await redis.get(key);
    }
    const request = id ? await this.deps.requests.get(id) : undefined;
    if (!request) return { status: 403, text: 'the approval card is being posted; waiting' };
    switch (request.state) {
      case 'approved':
      case 'running':
      case 'succeeded':
        return { status: 200, text: `approved by ${request.approver ?? 'policy'} (${request.id})` };
      case 'pending':
        await this.showLatest(request, p);
        return { status: 403, text: `waiting for approval in Slack (${request.id})` };
      case 'expired': {
        // Nobody decided in time: ask again on a fresh card, once, whichever replica gets here first.
        const fresh = newRequestId('flagger-gate');
        const moved = await runScript(redis, RECLAIM, 1, key, request.id, fresh, CLAIM_TTL_S);
        if (moved === 1) return this.file(key, fresh, hook, p, env);
        return { status: 403, text: 'the approval expired; asking again' };
      }
      default:
        return {
          status: 403,
          text: `${request.state}${request.decidedBy ? ` by ${request.decidedBy}` : ''} in Slack (${request.id}); a new revision asks again`,
        };
    }
  }

  private async file(
    key: string,
    id: string,
    hook: FlaggerHook,
    p: Payload,
    env: EnvironmentConfig,
  ): Promise<Answer> {
    const plan: FlaggerGatePlan = {
      service: env.service,
      environment: env.name,
      hook,
      canary: p.name,
      namespace: p.namespace,
      checksum: p.checksum,
      phase: p.phase,
      metadata: p.metadata,
    };
    const channel = env.channel ?? this.deps.config.incidentChannel;
    if (!channel) {
      await this.deps.redis.del(key);
      return {
        status: 503,
        text: `${env.service} in ${env.name} has no Slack channel to ask in (set channel in the config)`,
      };
    }
    try {
      await this.deps.flow.file({
        id,
        kind: 'flagger-gate',
        service: env.service,
        environment: env.name,
        target: `${env.service}/${env.name}`,
        // Flagger changes the cluster, not backout: no target lock.
        mutating: false,
        requester: 'Flagger',
        system: true,
        plan,
        title:
          hook === 'confirm-promotion'
            ? `Let Flagger promote ${p.namespace}/${p.name} in ${env.name}`
            : `Let Flagger start the canary ${p.namespace}/${p.name} in ${env.name}`,
        policy: env.policy,
        // As for backout's own canaries: promotion to 100 % always waits for a person.
        ...(hook === 'confirm-promotion' ? { irreversible: ['promoting to 100 %'] } : {}),
        ...(hook === 'confirm-promotion'
          ? { forward: `Promoting the Flagger canary ${p.name} to 100 %` }
          : {}),
        slack: { channel },
      });
    } catch (err) {
      // Not filed (a closed window, a policy): the next call tries again.
      await this.deps.redis.del(key);
      const e = asBackoutError(err);
      return { status: 403, text: e.message.replace(/<!date\^\d+\^[^|]*\|([^>]*)>/g, '$1') };
    }
    const request = await this.deps.requests.get(id);
    return request && request.state !== 'pending'
      ? { status: 200, text: `no approval needed here (${id})` }
      : { status: 403, text: `waiting for approval in Slack (${id})` };
  }

  /** Later calls edit the card's status line with what Flagger says now (never a second card). */
  private async showLatest(request: BackoutRequest, p: Payload): Promise<void> {
    const meta = Object.entries(p.metadata)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ');
    const line = `Flagger asked again at ${utcText(Date.now(), { seconds: true })}: phase ${p.phase}${meta ? ` · ${meta}` : ''}`;
    await this.deps.requests.annotate(request.id, { statusLine: esc(line) });
    await this.deps.cards.refresh(request.id);
  }

  /** The card's Roll back: Flagger's rollback webhook answers 200 from now on. */
  async rollBack(request: BackoutRequest, user: string): Promise<Decision> {
    const plan = request.plan as FlaggerGatePlan;
    const policy = this.deps.config.services.get(plan.service)?.environments.get(plan.environment)?.policy;
    if (!policy)
      throw new PolicyError(
        `${plan.service} in ${plan.environment} is no longer in the config; nothing was changed.`,
      );
    // Like aborting backout's own canaries: the environment's requesters or approvers.
    const may =
      isEmpty(policy.requesters) ||
      (await isIn(user, policy.requesters, this.deps.directory)) ||
      (!isEmpty(policy.approvers) && (await isIn(user, policy.approvers, this.deps.directory)));
    if (!may)
      throw new PolicyError(
        `You are not allowed to roll back ${plan.namespace}/${plan.canary}. Nothing was changed.`,
        {
          hint: `Requests here can be filed by ${describePrincipals(policy.requesters)}.`,
        },
      );
    const set = await this.deps.redis.set(
      this.rollbackKey({ ...plan, name: plan.canary }),
      `<@${user}>`,
      'EX',
      CLAIM_TTL_S,
      'NX',
    );
    if (set !== 'OK')
      return {
        ok: false,
        message: 'A rollback of this canary was already asked for; Flagger acts at its next call.',
      };
    await this.deps.audit.append({
      type: 'canary.aborted',
      ...auditContext(request),
      details: {
        by: user,
        provider: 'flagger',
        canary: `${plan.namespace}/${plan.canary}`,
        checksum: plan.checksum,
      },
    });
    if (request.state === 'pending')
      await this.deps.flow.cancel(request.id, `Roll back asked for by <@${user}>`);
    return {
      ok: true,
      message: `Rollback asked for: Flagger's rollback webhook answers yes at its next call, and Flagger returns all traffic of ${plan.namespace}/${plan.canary} to the primary.`,
    };
  }

  private environmentOf(p: Payload): EnvironmentConfig | undefined {
    for (const service of this.deps.config.services.values())
      for (const env of service.environments.values())
        if (env.kubernetes.namespace === p.namespace && env.kubernetes.deployment === p.name) return env;
    return undefined;
  }

  private gateKey(hook: FlaggerHook, p: Pick<Payload, 'namespace' | 'name' | 'checksum'>): string {
    return `${this.deps.prefix}:flagger:gate:${hook}:${p.namespace}/${p.name}/${p.checksum}`;
  }

  private rollbackKey(p: Pick<Payload, 'namespace' | 'name' | 'checksum'>): string {
    return `${this.deps.prefix}:flagger:rollback:${p.namespace}/${p.name}/${p.checksum}`;
  }
}

function reply(res: ServerResponse, a: Answer): true {
  if (!res.headersSent) sendWhole(res, a.status, 'text/plain; charset=utf-8', a.text);
  return true;
}
