import { createHash } from 'node:crypto';
import type { BrownoutWindow, DeprecationEntry } from '../src/api-retirement/index.js';
import { canonicalJson } from '../src/audit/record.js';

/** A registry entry as a plan saw it: the job refuses to act when the hash moved. */
export interface EntrySnapshot {
  hash: string;
  entry: DeprecationEntry;
}

/** `/retract api <service> <METHOD> <pattern> --sunset …`: put one entry in the service's registry. */
export interface ApiRetirePlan {
  service: string;
  /** The registry entry id, `${method} ${pattern}`. */
  id: string;
  method: string;
  pattern: string;
  /** ISO date-times. */
  sunset: string;
  successor?: string;
  policy?: string;
  brownouts: BrownoutWindow[];
  /** The capped delay; `from` absent means from the moment the entry is written. */
  delay?: { maxMs: number; from?: string };
  /** Kept from the entry this one replaces; absent means the moment the entry is written. */
  deprecatedAt?: string;
  /** The entry with the same id when the plan was made; absent when there was none. */
  previous?: EntrySnapshot;
  /** Where the change is announced once written. */
  announceChannel?: string;
}

/** `/retract api <service> undo <METHOD> <pattern>`: remove one entry. */
export interface ApiUnretirePlan {
  service: string;
  id: string;
  previous: EntrySnapshot;
  announceChannel?: string;
}

/** SHA-256 of the entry's canonical JSON, so key order never makes two equal entries differ. */
export function entryHash(entry: DeprecationEntry): string {
  return createHash('sha256').update(canonicalJson(entry)).digest('hex');
}

export function snapshot(entry: DeprecationEntry | undefined): EntrySnapshot | undefined {
  return entry && { hash: entryHash(entry), entry };
}
