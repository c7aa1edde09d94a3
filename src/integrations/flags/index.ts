import type { KubeClients } from '../kubernetes/clients.js';
import { CronJobSwitches } from './cronjobs.js';
import { FlagdProvider } from './flagd.js';
import { LaunchDarklyProvider } from './launchdarkly.js';
import type { SwitchProvider, SwitchProviderName, SwitchProviders } from './types.js';
import { UnleashProvider } from './unleash.js';

export type { Setting, SwitchProvider, SwitchProviderName, SwitchProviders, SwitchTarget } from './types.js';
export { describeSetting, sameSetting } from './types.js';

/** The flag providers and CronJob switch, built once; the settings come from the environment (SPEC §5). */
export function createSwitchProviders(opts: {
  kube: KubeClients;
  unleash: { url?: string; token?: string };
  launchdarkly: { url?: string; token?: string };
}): SwitchProviders {
  const all: Record<SwitchProviderName, SwitchProvider> = {
    unleash: new UnleashProvider(opts.unleash),
    launchdarkly: new LaunchDarklyProvider(opts.launchdarkly),
    flagd: new FlagdProvider(opts.kube),
    cronjobs: new CronJobSwitches(opts.kube),
  };
  return { get: (name) => all[name] };
}
