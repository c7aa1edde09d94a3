import { z } from 'zod';
import { IntegrationError, NotFoundError } from '../../errors.js';
import { callJson, joinUrl } from './http.js';
import { booleanDesired, type Setting, type SwitchProvider, type SwitchTarget } from './types.js';

const flag = z.object({
  key: z.string(),
  environments: z.record(z.string(), z.object({ on: z.boolean() })),
});

export const LAUNCHDARKLY_DEFAULT_URL = 'https://app.launchdarkly.com';
const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch';

/**
 * LaunchDarkly's REST API v2: a flag's targeting state per environment from
 * `GET /api/v2/flags/:projectKey/:flagKey?env=:environmentKey`, switched with a semantic patch
 * (`turnFlagOff` / `turnFlagOn` on one environment). The access token goes in `Authorization`.
 */
export class LaunchDarklyProvider implements SwitchProvider {
  readonly name = 'launchdarkly' as const;

  constructor(private readonly opts: { url?: string; token?: string; timeoutMs?: number }) {}

  describe(t: SwitchTarget): string {
    return `LaunchDarkly project \`${t.project ?? 'default'}\`, environment \`${t.environment}\``;
  }

  private base(): { url: string; token: string } {
    if (!this.opts.token) {
      throw new IntegrationError(
        'launchdarkly',
        'LaunchDarkly is not configured: LAUNCHDARKLY_API_TOKEN is not set.',
        {
          retryable: false,
          hint: 'Set it (an access token with writer rights on the project) and restart backout.',
        },
      );
    }
    return { url: this.opts.url ?? LAUNCHDARKLY_DEFAULT_URL, token: this.opts.token };
  }

  private flagUrl(t: SwitchTarget, item: string): string {
    return joinUrl(
      this.base().url,
      `/api/v2/flags/${encodeURIComponent(t.project ?? 'default')}/${encodeURIComponent(item)}`,
    );
  }

  async read(t: SwitchTarget, item: string): Promise<Setting> {
    const { token } = this.base();
    const body = await callJson(
      'LaunchDarkly',
      `${this.flagUrl(t, item)}?env=${encodeURIComponent(t.environment)}`,
      {
        method: 'GET',
        headers: { Authorization: token, Accept: 'application/json' },
        what: `read flag ${item}`,
        ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
      },
    );
    const parsed = flag.safeParse(body);
    if (!parsed.success)
      throw new IntegrationError(
        'launchdarkly',
        `LaunchDarkly answered flag ${item} in an unexpected shape.`,
        {
          retryable: false,
        },
      );
    const env = parsed.data.environments[t.environment];
    if (!env) {
      throw new NotFoundError(`LaunchDarkly flag ${item} has no environment \`${t.environment}\`.`, {
        hint: "Set the environment's `flags.environment` to its LaunchDarkly environment key.",
      });
    }
    return { on: env.on };
  }

  async write(t: SwitchTarget, item: string, to: Setting, comment?: string): Promise<Setting> {
    const { token } = this.base();
    await callJson('LaunchDarkly', this.flagUrl(t, item), {
      method: 'PATCH',
      headers: { Authorization: token, 'Content-Type': SEMANTIC_PATCH, Accept: 'application/json' },
      body: JSON.stringify({
        environmentKey: t.environment,
        ...(comment ? { comment: comment.slice(0, 500) } : {}),
        instructions: [{ kind: to.on ? 'turnFlagOn' : 'turnFlagOff' }],
      }),
      what: `turn flag ${item} ${to.on ? 'on' : 'off'}`,
      ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}),
    });
    return this.read(t, item);
  }

  desired(_t: SwitchTarget, _item: string, direction: 'off' | 'on'): Promise<Setting> {
    return booleanDesired(direction);
  }
}
