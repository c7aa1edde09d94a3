import { PatchStrategy, type KubeClients } from '../kubernetes/clients.js';
import { CRON_JOBS } from '../kubernetes/resources.js';
import { IntegrationError } from '../../errors.js';
import { kubeError } from '../kubernetes/errors.js';
import { booleanDesired, type Setting, type SwitchProvider, type SwitchTarget } from './types.js';

/**
 * A service's batch work: a CronJob is "on" while it schedules and "off" while `spec.suspend`
 * is true — set with the merge patch `kubectl patch cronjob <name> -p '{"spec":{"suspend":true}}'`
 * sends. Jobs already running are not touched (as with kubectl).
 */
export class CronJobSwitches implements SwitchProvider {
  readonly name = 'cronjobs' as const;

  constructor(private readonly clients: KubeClients) {}

  describe(t: SwitchTarget): string {
    return `CronJobs in \`${t.namespace}\` (context \`${t.context}\`)`;
  }

  private where(t: SwitchTarget): { context: string; namespace: string } {
    if (!t.context || !t.namespace)
      throw new IntegrationError('kubernetes', 'The CronJob target lacks its context or namespace.', {
        retryable: false,
      });
    return { context: t.context, namespace: t.namespace };
  }

  async read(t: SwitchTarget, item: string): Promise<Setting> {
    const { context, namespace } = this.where(t);
    try {
      const cj = await (
        await this.clients.for(context)
      ).get<{ spec?: { suspend?: boolean } }>({ ...CRON_JOBS, namespace, name: item });
      return { on: cj.spec?.suspend !== true };
    } catch (err) {
      throw kubeError(err, `CronJob ${namespace}/${item}`, context);
    }
  }

  async write(t: SwitchTarget, item: string, to: Setting): Promise<Setting> {
    const { context, namespace } = this.where(t);
    try {
      await (
        await this.clients.for(context)
      ).patch(
        { ...CRON_JOBS, namespace, name: item },
        { spec: { suspend: !to.on } },
        PatchStrategy.MergePatch,
      );
    } catch (err) {
      throw kubeError(err, `CronJob ${namespace}/${item}`, context);
    }
    return this.read(t, item);
  }

  desired(_t: SwitchTarget, _item: string, direction: 'off' | 'on'): Promise<Setting> {
    return booleanDesired(direction);
  }
}
