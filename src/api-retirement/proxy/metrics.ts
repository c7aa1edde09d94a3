import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { UsageStats } from '../usage-recorder.js';

type Decision = 'none' | 'pass' | 'refuse';
const DECISION_LABEL: Record<Decision, string> = { none: 'untouched', pass: 'deprecated', refuse: 'refused' };

/** The proxy's own /metrics: what it decided, what the upstream did, and how fresh its registry is. */
export class ProxyMetrics {
  private readonly registry = new Registry();
  private readonly requests: Counter<'service' | 'decision'>;
  private readonly upstreamErrors: Counter<'service' | 'cause'>;
  readonly contentType = this.registry.contentType;

  constructor(
    private readonly service: string,
    stats: () => UsageStats & { registryVersion: number },
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'backout_proxy_' });
    this.requests = new Counter({
      name: 'backout_proxy_requests_total',
      help: 'Requests seen, by what the retirement registry decided (untouched, deprecated, refused)',
      labelNames: ['service', 'decision'],
      registers: [this.registry],
    });
    this.upstreamErrors = new Counter({
      name: 'backout_proxy_upstream_errors_total',
      help: 'Requests the upstream did not answer, by cause (timeout, ECONNREFUSED, …)',
      labelNames: ['service', 'cause'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'backout_proxy_registry_version',
      help: 'Version of the retirement registry in use (-1 before the first load)',
      labelNames: ['service'],
      registers: [this.registry],
      collect() {
        this.set({ service }, stats().registryVersion);
      },
    });
  }

  decided(kind: Decision): void {
    this.requests.inc({ service: this.service, decision: DECISION_LABEL[kind] });
  }

  upstreamError(cause: string): void {
    this.upstreamErrors.inc({ service: this.service, cause });
  }

  async count(decision: 'untouched' | 'deprecated' | 'refused'): Promise<number> {
    const metric = await this.requests.get();
    return metric.values.find((v) => v.labels.decision === decision)?.value ?? 0;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
