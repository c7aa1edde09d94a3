/**
 * Kill switches: feature flags (Unleash, LaunchDarkly, OpenFeature flagd) and a service's
 * CronJobs, each switched off or on through one provider behind this interface.
 */
export type SwitchProviderName = 'unleash' | 'launchdarkly' | 'flagd' | 'cronjobs';

/** Where a switch lives, as the provider addresses it. */
export interface SwitchTarget {
  provider: SwitchProviderName;
  /** The provider's environment key (Unleash / LaunchDarkly environment). */
  environment: string;
  /** Unleash project id, LaunchDarkly project key. */
  project?: string;
  /** flagd and CronJobs: the Kubernetes context and namespace. */
  context?: string;
  namespace?: string;
  /** flagd: the FeatureFlag resource's name. */
  featureFlag?: string;
  /** flagd: which variants mean off and on. */
  offVariant?: string;
  onVariant?: string;
}

/**
 * A switch's state as the provider shows it. `on` is what people read; `variant` and `state`
 * carry what flagd needs to put a flag back exactly as it was.
 */
export interface Setting {
  on: boolean;
  /** flagd: the flag's defaultVariant. */
  variant?: string;
  /** flagd: ENABLED | DISABLED. */
  state?: string;
  /** Something people must know before trusting the switch (flagd targeting that overrides the default). */
  caveat?: string;
}

export interface SwitchProvider {
  readonly name: SwitchProviderName;
  /** "Unleash project default, environment production" — for cards and errors. */
  describe(t: SwitchTarget): string;
  /** Reads one switch (a flag key, a CronJob name). NotFoundError when it does not exist. */
  read(t: SwitchTarget, item: string): Promise<Setting>;
  /** Sets one switch to `to`, as the provider's own API does it; returns what it reads back. */
  write(t: SwitchTarget, item: string, to: Setting, comment?: string): Promise<Setting>;
  /**
   * The setting that turns this switch off or on. Throws a UsageError when this switch cannot
   * be switched that way (a flagd flag without the off variant).
   */
  desired(t: SwitchTarget, item: string, direction: 'off' | 'on'): Promise<Setting>;
}

export interface SwitchProviders {
  get(name: SwitchProviderName): SwitchProvider;
}

/** Two settings are the same when everything a provider would write back agrees. */
export function sameSetting(a: Setting, b: Setting): boolean {
  return a.on === b.on && (a.variant ?? '') === (b.variant ?? '') && (a.state ?? '') === (b.state ?? '');
}

export function describeSetting(s: Setting): string {
  const extra = [
    s.variant !== undefined ? `defaultVariant \`${s.variant}\`` : '',
    s.state && s.state !== 'ENABLED' ? s.state : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `*${s.on ? 'on' : 'off'}*${extra ? ` (${extra})` : ''}`;
}

/** Plain boolean switches (Unleash, LaunchDarkly, CronJobs): off is off, on is on. */
export function booleanDesired(direction: 'off' | 'on'): Promise<Setting> {
  return Promise.resolve({ on: direction === 'on' });
}
