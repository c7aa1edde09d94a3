/**
 * Redis Cluster runs a multi-key script or transaction only when every key hashes to one
 * slot. Every key backout (and BullMQ) writes starts with `<prefix>:`, so a prefix that
 * carries a hash tag (`{backout}`, `acme{backout}`) puts them all in one slot.
 */

/** The hash tag Redis would hash for a key starting with `prefix`, when the prefix fixes it. */
export function prefixHashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  // `{}` hashes the whole key; a `{` closed only later in the key depends on the key.
  if (close < 0 || close === open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

export type PrefixDecision =
  { ok: true; prefix: string; changed: boolean; slotSafe: boolean } | { ok: false; problem: string };

/**
 * The prefix backout uses on this topology. On Cluster an untagged prefix is wrapped in
 * braces (`backout` → `{backout}`); a prefix with braces that do not make a hash tag is
 * refused, since wrapping it would not give one slot either.
 */
export function effectivePrefix(prefix: string, cluster: boolean): PrefixDecision {
  const tagged = prefixHashTag(prefix) !== undefined;
  if (!cluster || tagged) return { ok: true, prefix, changed: false, slotSafe: tagged };
  if (/[{}]/.test(prefix)) {
    return {
      ok: false,
      problem: `BACKOUT_PREFIX "${prefix}" has braces that do not form a hash tag: on Redis Cluster every key must share one slot, so use a prefix such as {backout} (a non-empty name between { and })`,
    };
  }
  return { ok: true, prefix: `{${prefix}}`, changed: true, slotSafe: true };
}
