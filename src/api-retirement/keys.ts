/** Redis names for the deprecation registry and its usage evidence; service names contain no ':'. */
export const DEFAULT_PREFIX = 'backout';

export const registryKeys = (prefix: string) => ({
  registry: (service: string) => `${prefix}:api:registry:${service}`,
  version: (service: string) => `${prefix}:api:registry-version:${service}`,
  changed: `${prefix}:api:registry:changed`,
  /** Per entry per UTC day (`YYYY-MM-DD`): client → request count. */
  usageCount: (service: string, day: string, entryId: string) =>
    `${prefix}:api:usage:${service}:${day}:count:${entryId}`,
  /** Per entry per UTC day: client → last seen (epoch ms). */
  usageSeen: (service: string, day: string, entryId: string) =>
    `${prefix}:api:usage:${service}:${day}:seen:${entryId}`,
});

export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}
