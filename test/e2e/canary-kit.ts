// Shared set-up for the canary end-to-end tests: one service per traffic provider, each with
// its own channel, stable and canary workloads, and the object that carries the split.
import { expect } from 'vitest';
import { findButton, type SlackClient } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { PEOPLE, type World } from '../kit/world.js';
import type { SlackMessage } from '../doubles/slack.js';

export const NS = 'shop';
export type Provider = 'nginx' | 'gateway' | 'argo';

/** Service, channel and objects per provider. */
export const SERVICES = {
  nginx: { service: 'web', channel: 'C0WEB', image: 'shop/web:2.0.0', stable: 'shop/web:1.0.0' },
  gateway: { service: 'api', channel: 'C0API', image: 'shop/api:2.0.0', stable: 'shop/api:1.0.0' },
  argo: { service: 'shop', channel: 'C0SHOP', image: 'shop/shop:2.0.0', stable: 'shop/shop:1.0.0' },
} as const;

export interface CanaryTiming {
  dwell: string;
  interval: string;
  maxFailedChecks?: number;
  /** Whether starting a canary needs an Approve (the 100 % gate always does). */
  startApproval?: boolean;
  /** The canary's steps (default 5, 20, 50, 100). */
  steps?: number[];
}

/** The error-rate query of a service: scripted per service in the Prometheus double. */
export const errorRateQuery = (service: string) => `job="${service}",code=~"5.."`;

function health(w: { prometheus: string; probe: string }, service: string): string {
  return `
        health:
          probes:
            - { url: "${w.probe}/healthz/ready", expectStatus: 200 }
          prometheus:
            url: ${w.prometheus}
            checks:
              - { name: error-rate, query: 'sum(rate(http_requests_total{${errorRateQuery(service)}}[1m])) / sum(rate(http_requests_total{job="${service}"}[1m]))', max: 0.005 }
              - { name: p99-latency, query: 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{job="${service}"}[1m])) by (le))', max: 0.8 }`;
}

export function canaryConfigYaml(
  timing: CanaryTiming,
  per: Partial<Record<Provider, Partial<CanaryTiming>>> = {},
) {
  const canary = (p: Provider, provider: string, key: string, name: string) => {
    const t = { ...timing, ...per[p] };
    return `
        canary:
          provider: ${provider}
          ${key}: ${name}
          steps: [${(t.steps ?? [5, 20, 50, 100]).join(', ')}]
          dwell: ${t.dwell}
          interval: ${t.interval}
          maxFailedChecks: ${t.maxFailedChecks ?? 2}`;
  };
  return (w: { prometheus: string; probe: string }) => `
slack:
  incidentChannel: ${PEOPLE.incident}
policy:
  approvers: { users: [${PEOPLE.sre1}, ${PEOPLE.sre2}], usergroups: [${PEOPLE.oncallGroup}] }
  approval: ${timing.startApproval === false ? 'not-required' : 'required'}
  twoPerson: true
  approvalTtl: 15m
services:
  web:
    environments:
      production:
        kubernetes: { context: prod, namespace: ${NS}, deployment: web }
        channel: ${SERVICES.nginx.channel}
        rollout: { timeout: 20s }${health(w, 'web')}${canary('nginx', 'nginx-ingress', 'ingress', 'web-canary')}
  api:
    environments:
      production:
        kubernetes: { context: prod, namespace: ${NS}, deployment: api }
        channel: ${SERVICES.gateway.channel}
        rollout: { timeout: 20s }${health(w, 'api')}${canary('gateway', 'gateway-api', 'httpRoute', 'api')}
  shop:
    environments:
      production:
        kubernetes: { context: prod, namespace: ${NS}, deployment: shop }
        channel: ${SERVICES.argo.channel}
        rollout: { timeout: 20s }${health(w, 'shop')}${canary('argo', 'argo-rollouts', 'rollout', 'shop')}
`;
}

const ingressSpec = (service: string) => ({
  ingressClassName: 'nginx',
  rules: [
    {
      host: 'web.example.com',
      http: {
        paths: [
          {
            path: '/',
            pathType: 'Prefix' as const,
            backend: { service: { name: service, port: { number: 80 } } },
          },
        ],
      },
    },
  ],
});

/** Stable and canary Deployments, the stable and canary Ingresses, the HTTPRoute and the Rollout. */
export function seedCanaries(world: World): void {
  const k = world.prod;
  for (const p of ['nginx', 'gateway'] as const) {
    const { service, stable } = SERVICES[p];
    k.addDeployment({
      namespace: NS,
      name: service,
      replicas: 3,
      containers: [[{ name: 'app', image: stable }]],
    });
    k.addDeployment({
      namespace: NS,
      name: `${service}-canary`,
      replicas: 1,
      containers: [[{ name: 'app', image: stable }]],
    });
  }
  k.addIngress({ metadata: { name: 'web', namespace: NS }, spec: ingressSpec('web') });
  k.addIngress({
    metadata: {
      name: 'web-canary',
      namespace: NS,
      annotations: {
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '0',
      },
    },
    spec: ingressSpec('web-canary'),
  });
  k.addHttpRoute({
    metadata: { name: 'api', namespace: NS },
    spec: {
      parentRefs: [{ name: 'gateway' }],
      rules: [
        {
          backendRefs: [
            { name: 'api', port: 80, weight: 100 },
            { name: 'api-canary', port: 80, weight: 0 },
          ],
        },
      ],
    },
  });
  k.addRollout({
    metadata: { name: 'shop', namespace: NS },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: { containers: [{ name: 'app', image: SERVICES.argo.stable }] },
      },
      strategy: {
        canary: {
          canaryService: 'shop-canary',
          stableService: 'shop',
          steps: [
            { setWeight: 5 },
            { pause: {} },
            { setWeight: 20 },
            { pause: {} },
            { setWeight: 50 },
            { pause: {} },
          ],
        },
      },
    },
  });
}

/** The canary weight each traffic patch set, in order (Argo: the plugin patches instead). */
export function weightPatches(world: World, provider: Provider): unknown[] {
  if (provider === 'nginx') {
    return world.prod
      .patches('Ingress', 'web-canary')
      .filter((p) => p.status === 200)
      .map((p) =>
        Number(
          (p.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
            'nginx.ingress.kubernetes.io/canary-weight'
          ],
        ),
      );
  }
  if (provider === 'gateway') {
    return world.prod
      .patches('HTTPRoute', 'api')
      .filter((p) => p.status === 200)
      .map(
        (p) =>
          (p.body as { path: string; value: unknown }[]).find((op) =>
            op.path.endsWith('/backendRefs/1/weight'),
          )?.value,
      );
  }
  return world.prod
    .patches('Rollout', 'shop')
    .filter((p) => p.status === 200 && p.resource?.subresource === 'status')
    .map((p) => p.body);
}

export function canaryWeightNow(world: World, provider: Provider): number {
  if (provider === 'nginx') {
    const a = world.prod.get('Ingress', NS, 'web-canary')?.metadata?.annotations ?? {};
    return Number(a['nginx.ingress.kubernetes.io/canary-weight'] ?? 0);
  }
  if (provider === 'gateway') {
    const refs = world.prod.get('HTTPRoute', NS, 'api')?.spec?.rules?.[0]?.backendRefs ?? [];
    return refs.find((r) => r.name === 'api-canary')?.weight ?? 0;
  }
  return world.prod.get('Rollout', NS, 'shop')?.status?.canary?.weights?.canary.weight ?? 0;
}

export function stableImage(world: World, provider: Provider): string | undefined {
  if (provider === 'argo') {
    const ro = world.prod.get('Rollout', NS, 'shop');
    return ro?.status?.stableRS === ro?.status?.currentPodHash
      ? ro?.spec?.template?.spec?.containers[0]?.image
      : undefined;
  }
  return world.prod.get('Deployment', NS, SERVICES[provider].service)?.spec?.template.spec?.containers[0]
    ?.image;
}

export async function slash(
  client: SlackClient,
  world: World,
  provider: Provider,
  text: string,
  user: string = PEOPLE.requester,
) {
  const responseUrl = world.slack.newResponseUrl();
  const ack = await client.command({
    command: '/canary',
    text: `${SERVICES[provider].service} ${text}`,
    user_id: user,
    channel_id: SERVICES[provider].channel,
    response_url: responseUrl,
  });
  expect(ack.status).toBe(200);
  return { ack, responseUrl };
}

/** The answer that came through a response_url (after the acknowledgement), as text. */
export async function answerAt(world: World, responseUrl: string, what = 'answer'): Promise<string> {
  const r = await waitFor(() => world.slack.responses(responseUrl)[0], { what });
  return JSON.stringify(r.body);
}

export function card(world: World, provider: Provider, timeoutMs = 15_000): Promise<SlackMessage> {
  return waitFor(
    () =>
      world.slack
        .messages(SERVICES[provider].channel)
        .find((m) => !m.thread_ts && m.text.startsWith('Canary ')),
    {
      what: `${provider} canary card`,
      timeoutMs,
    },
  );
}

export async function click(
  client: SlackClient,
  world: World,
  provider: Provider,
  message: SlackMessage,
  actionId: string,
  user: string,
): Promise<string> {
  const button = findButton(message.blocks, actionId);
  const responseUrl = world.slack.newResponseUrl();
  await client.blockAction({
    user,
    channel: SERVICES[provider].channel,
    messageTs: message.ts,
    actionId: button.actionId,
    value: button.value,
    responseUrl,
  });
  return answerAt(world, responseUrl, `answer to ${actionId} by ${user}`);
}

/** The first reply in a card's thread whose text contains `containing`, once posted. */
export function threadReply(
  world: World,
  provider: Provider,
  cardTs: string,
  containing: string,
  what: string,
  timeoutMs = 15_000,
): Promise<SlackMessage> {
  return waitFor(
    () => world.slack.thread(SERVICES[provider].channel, cardTs).find((m) => m.text.includes(containing)),
    { what, timeoutMs },
  );
}

/** The promotion gate message in the canary's thread, once posted. */
export function gateMessage(
  world: World,
  provider: Provider,
  cardTs: string,
  timeoutMs = 30_000,
): Promise<SlackMessage> {
  return threadReply(
    world,
    provider,
    cardTs,
    'Approval needed to go to 100 %',
    `${provider} promotion gate`,
    timeoutMs,
  );
}

export async function cardSays(
  world: World,
  provider: Provider,
  cardTs: string,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<SlackMessage> {
  return waitFor(
    () => {
      const m = world.slack.message(SERVICES[provider].channel, cardTs);
      return m && pattern.test(m.text) ? m : undefined;
    },
    { what: `${provider} card to say ${pattern}`, timeoutMs },
  );
}

export interface AuditSeen {
  type: string;
  requestId?: string;
  outcome?: string;
  actor?: string;
  approver?: string;
  details?: Record<string, unknown>;
}

/** The audit records written so far, in chain order (the Redis stream). */
export async function auditRecords(world: World): Promise<AuditSeen[]> {
  const entries = await world.redis.xrange(`${world.prefix}:audit:stream`, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1]!) as AuditSeen);
}

/**
 * For `.catch()` on a wait: prints the thread (and the bot's logs above debug) before rethrowing,
 * so a timed-out canary test shows what backout said.
 */
export function showOnFailure(
  world: World,
  bot: { logs: string[] } | undefined,
  provider: Provider,
  ts: string,
) {
  return (err: unknown): never => {
    console.log(world.slack.transcript(SERVICES[provider].channel, ts));
    if (bot) console.log(bot.logs.filter((l) => !l.includes('"level":20')).join(''));
    throw err;
  };
}
