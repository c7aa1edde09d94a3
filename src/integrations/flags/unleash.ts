import { z } from 'zod';
import { IntegrationError, NotFoundError } from '../../errors.js';
import { callJson, joinUrl } from './http.js';
import { booleanDesired, type Setting, type SwitchProvider, type SwitchTarget } from './types.js';

const feature = z.object({
  name: z.string(),
  environments: z.array(z.object({ name: z.string(), enabled: z.boolean() })),
});

/**
 * Unleash's Admin API: a feature's state per environment from
 * `GET /api/admin/projects/:project/features/:feature`, toggled with
 * `POST …/environments/:environment/on|off`. The token goes in the `Authorization` header as is.
 */
export class UnleashProvider implements SwitchProvider {
  readonly name = 'unleash' as const;

  constructor(private readonly opts: { url?: string; token?: string; timeoutMs?: number }) {}

  describe(t: SwitchTarget): string {
    return `Unleash project \`${t.project ?? 'default'}\`, environment \`${t.environment}\``;
  }

  private base(): { url: string; headers: Record<string, string> } {
    if (!this.opts.url || !this.opts.token) {
      throw new IntegrationError(
        'unleash',
        'Unleash is not configured: UNLEASH_API_URL and UNLEASH_API_TOKEN must both be set.',
        {
          retryable: false,
          hint: 'Set them in backout’s environment (an admin or service-account token) and restart it.',
        },
      );
    }
    return { url: this.opts.url, headers: { Authorization: this.opts.token, Accept: 'application/json' } };
  }

  private featurePath(t: SwitchTarget, item: string): string {
    return `/api/admin/projects/${encodeURIComponent(t.project ?? 'default')}/features/${encodeURIComponent(item)}`;
  }

  async read(t: SwitchTarget, item: string): Promise<Setting> {
    const { url, headers } = this.base();
    const body = await callJson('Unleash', joinUrl(url, this.featurePath(t, item)), {
      method: 'GET',
      headers,
      what: `read flag ${item}`,
      ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
    });
    const parsed = feature.safeParse(body);
    if (!parsed.success)
      throw new IntegrationError('unleash', `Unleash answered flag ${item} in an unexpected shape.`, {
        retryable: false,
      });
    const env = parsed.data.environments.find((e) => e.name === t.environment);
    if (!env) {
      throw new NotFoundError(`Unleash flag ${item} has no environment \`${t.environment}\`.`, {
        hint: `Its environments: ${parsed.data.environments.map((e) => `\`${e.name}\``).join(', ')}. Set the environment's \`flags.environment\` in the config.`,
      });
    }
    return { on: env.enabled };
  }

  async write(t: SwitchTarget, item: string, to: Setting): Promise<Setting> {
    const { url, headers } = this.base();
    const path = `${this.featurePath(t, item)}/environments/${encodeURIComponent(t.environment)}/${to.on ? 'on' : 'off'}`;
    await callJson('Unleash', joinUrl(url, path), {
      method: 'POST',
      headers,
      what: `turn flag ${item} ${to.on ? 'on' : 'off'}`,
      ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
    });
    return this.read(t, item);
  }

  desired(_t: SwitchTarget, _item: string, direction: 'off' | 'on'): Promise<Setting> {
    return booleanDesired(direction);
  }
}
