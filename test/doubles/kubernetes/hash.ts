// Pod template hashing in the style of the Deployment controller (`controller.ComputeHash`): a 32-bit
// FNV-1a hash of the template, printed in decimal and mapped onto Kubernetes' "safe" alphabet.
// The bytes hashed differ from Go's deep-hash printer, so values are stable but not the ones a real
// cluster would compute for the same template.
import { canonicalJson, clone, isObject } from './json.js';

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Removes one label from a pod template (copy), e.g. `pod-template-hash` before comparing templates. */
export function withoutLabel(template: unknown, label: string): unknown {
  const copy = clone(template);
  if (isObject(copy) && isObject(copy.metadata) && isObject(copy.metadata.labels)) {
    delete copy.metadata.labels[label];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  return copy;
}

export function templateHash(template: unknown, ignoreLabel: string): string {
  const digits = String(fnv1a32(canonicalJson(withoutLabel(template, ignoreLabel))));
  return [...digits].map((ch) => SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}
