/**
 * A stand-in for Flagger's webhook client (fluxcd/flagger pkg/controller/webhook.go): each analysis
 * interval it POSTs `{name, namespace, phase, checksum, metadata}` as JSON to the hook's URL with
 * a 10 s timeout, and counts the hook as passed when the status is at most 202 (anything above is
 * an error whose text is the response body: Flagger halts and asks again next interval).
 */
export interface FlaggerCanary {
  name: string;
  namespace: string;
  phase: string;
  checksum: string;
  metadata?: Record<string, string>;
}

export interface HookCall {
  at: number;
  url: string;
  status: number;
  body: string;
}

export class FlaggerStandIn {
  readonly calls: HookCall[] = [];
  private timer: NodeJS.Timeout | undefined;
  private round = 0;

  constructor(private readonly opts: { token?: string }) {}

  /** One webhook call, exactly as Flagger makes it. */
  async call(url: string, canary: FlaggerCanary): Promise<{ passed: boolean; status: number; body: string }> {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {}),
      },
      body: JSON.stringify({
        name: canary.name,
        namespace: canary.namespace,
        phase: canary.phase,
        checksum: canary.checksum,
        ...(canary.metadata ? { metadata: canary.metadata } : {}),
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    this.calls.push({ at: Date.now(), url, status: res.status, body });
    return { passed: res.status <= 202, status: res.status, body };
  }

  /**
   * Flagger's loop while the canary waits at a gate: call the hook every `intervalMs` (round-robin
   * over `urls`, as a Service in front of several replicas would) until it passes.
   */
  waitAtGate(
    urls: string[],
    canary: () => FlaggerCanary,
    intervalMs: number,
  ): Promise<{ calls: number; body: string }> {
    return new Promise((resolve, reject) => {
      const tick = () => {
        const url = urls[this.round++ % urls.length]!;
        this.call(url, canary())
          .then((r) => {
            if (r.passed) {
              this.timer = undefined;
              resolve({ calls: this.calls.length, body: r.body });
            } else this.timer = setTimeout(tick, intervalMs);
          })
          .catch(reject);
      };
      tick();
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
