import { isRetracted } from './banner.js';
import type { Release } from './types.js';

/** Why a release cannot replace a retracted one (be the one people are told to use), or undefined. */
export function whyNotReplacement(r: Release): string | undefined {
  if (r.draft) return 'it is a draft';
  if (r.prerelease) return 'it is a pre-release';
  if (isRetracted(r.body)) return 'it is retracted itself';
  return undefined;
}

function newestFirst(a: Release, b: Release): number {
  return Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id - a.id;
}

/** The default replacement: the newest release created before `target` that is neither draft, pre-release nor retracted. */
export function defaultReplacement(releases: Release[], target: Release): Release | undefined {
  const sorted = [...releases].sort(newestFirst);
  const at = sorted.findIndex((r) => r.id === target.id);
  const earlier = at >= 0 ? sorted.slice(at + 1) : sorted.filter((r) => newestFirst(target, r) < 0);
  return earlier.find((r) => whyNotReplacement(r) === undefined);
}

/**
 * The tag part of an image reference: `registry:5000/shop/checkout:1.4.2@sha256:…` → `1.4.2`.
 * Undefined when the image has no tag (digest only, or implicit `latest`).
 */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0] ?? image;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : undefined;
}

/**
 * Whether a running image carries a release's tag. The rule: the image's tag equals the
 * release tag, or equals it without a leading "v" (or with one added) — `v1.4.2` matches
 * `shop/checkout:v1.4.2` and `shop/checkout:1.4.2`. Suffixed builds (`1.4.2-alpine`), digests
 * and `latest` do not match: backout only acts on images that name the release exactly.
 */
export function imageCarriesTag(image: string, tag: string): boolean {
  const t = imageTag(image);
  if (!t) return false;
  const bare = (s: string) => s.replace(/^v(?=\d)/, '');
  return t === tag || bare(t) === bare(tag);
}
