import { decide } from '../decide.js';
import type { DeprecationEntry } from '../entry.js';
import { compileMatcher, type Matcher, type RequestFacts } from '../match.js';

/** What an adapter does with a request; `none` leaves it untouched. */
export type Outcome =
  | { kind: 'none' }
  | { kind: 'pass'; delayMs: number; headers: Record<string, string> }
  | { kind: 'refuse'; status: number; headers: Record<string, string>; body: string };

export interface EngineOptions {
  entries: () => readonly DeprecationEntry[];
  clientId: (facts: RequestFacts) => string;
  record: (entryId: string, client: string, at: number) => void;
  now: () => Date;
  random: () => number;
  onError: (err: unknown) => void;
}

/** The synchronous request path shared by every adapter: match, count, decide. */
export class DeprecationEngine {
  private compiledFrom: readonly DeprecationEntry[] | undefined;
  private matcher: Matcher = () => undefined;

  constructor(private readonly options: EngineOptions) {}

  evaluate(facts: RequestFacts): Outcome {
    try {
      const entries = this.options.entries();
      // The cache swaps in a new array on every change, so identity tells when to recompile.
      if (entries !== this.compiledFrom) {
        this.matcher = compileMatcher(entries);
        this.compiledFrom = entries;
      }
      const entry = this.matcher(facts);
      if (!entry) return { kind: 'none' };
      const now = this.options.now();
      this.options.record(entry.id, this.options.clientId(facts), now.getTime());
      const decision = decide(entry, now, this.options.random);
      if (decision.action === 'pass')
        return { kind: 'pass', delayMs: decision.delayMs, headers: decision.headers };
      const body = JSON.stringify(decision.body);
      const headers = { ...decision.headers, 'Content-Length': String(Buffer.byteLength(body)) };
      return { kind: 'refuse', status: decision.status, headers, body };
    } catch (err) {
      // Deprecation signals are advisory: a bug here must not take the service's endpoint down.
      this.options.onError(err);
      return { kind: 'none' };
    }
  }
}
