/** The built-in resources backout reads and writes (custom ones are named where they are used). */
export const DEPLOYMENTS = { group: 'apps', version: 'v1', plural: 'deployments' } as const;
export const REPLICA_SETS = { group: 'apps', version: 'v1', plural: 'replicasets' } as const;
export const INGRESSES = { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses' } as const;
export const CRON_JOBS = { group: 'batch', version: 'v1', plural: 'cronjobs' } as const;
export const SELF_SUBJECT_ACCESS_REVIEWS = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'selfsubjectaccessreviews',
} as const;
