import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/record.js';

/** SHA-256 of the plan's canonical JSON: what was approved, exactly. */
export function planHash(plan: unknown): string {
  return createHash('sha256').update(canonicalJson(plan)).digest('hex');
}
