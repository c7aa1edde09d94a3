import { PatchStrategy, type KubeClients } from '../kubernetes/clients.js';
import { z } from 'zod';
import { IntegrationError, NotFoundError, UsageError } from '../../errors.js';
import { kubeError } from '../kubernetes/errors.js';
import type { Setting, SwitchProvider, SwitchTarget } from './types.js';

const FEATURE_FLAGS = { group: 'core.openfeature.dev', version: 'v1beta1', plural: 'featureflags' } as const;

/** The part of the OpenFeature Operator's FeatureFlag (v1beta1) a kill switch reads. */
const featureFlag = z.object({
  spec: z.object({
    flagSpec: z.object({
      flags: z.record(
        z.string(),
        z.object({
          state: z.enum(['ENABLED', 'DISABLED']),
          defaultVariant: z.string(),
          variants: z.record(z.string(), z.unknown()),
          targeting: z.record(z.string(), z.unknown()).optional(),
        }),
      ),
    }),
  }),
});

/**
 * OpenFeature flagd through the OpenFeature Operator's `FeatureFlag` resource: a kill switch
 * flips the flag's `defaultVariant` between the off and on variants (a JSON merge patch on
 * `spec.flagSpec.flags.<key>`, as `kubectl patch --type merge` sends), with `state: ENABLED`.
 * A DISABLED flag evaluates to the caller's code default, which says nothing about "off".
 */
export class FlagdProvider implements SwitchProvider {
  readonly name = 'flagd' as const;

  constructor(private readonly clients: KubeClients) {}

  describe(t: SwitchTarget): string {
    return `FeatureFlag \`${t.namespace}/${t.featureFlag}\` (context \`${t.context}\`)`;
  }

  private where(t: SwitchTarget): { context: string; namespace: string; name: string } {
    if (!t.context || !t.namespace || !t.featureFlag)
      throw new IntegrationError(
        'flagd',
        'The flagd target lacks its context, namespace or FeatureFlag name.',
        {
          retryable: false,
        },
      );
    return { context: t.context, namespace: t.namespace, name: t.featureFlag };
  }

  private async flags(t: SwitchTarget): Promise<z.infer<typeof featureFlag>['spec']['flagSpec']['flags']> {
    const { context, namespace, name } = this.where(t);
    let body: unknown;
    try {
      body = await (await this.clients.for(context)).get({ ...FEATURE_FLAGS, namespace, name });
    } catch (err) {
      throw kubeError(err, `FeatureFlag ${namespace}/${name}`, context);
    }
    const parsed = featureFlag.safeParse(body);
    if (!parsed.success)
      throw new IntegrationError(
        'flagd',
        `FeatureFlag ${namespace}/${name} is not shaped as core.openfeature.dev/v1beta1 says.`,
        {
          retryable: false,
        },
      );
    return parsed.data.spec.flagSpec.flags;
  }

  async read(t: SwitchTarget, item: string): Promise<Setting> {
    const flag = (await this.flags(t))[item];
    if (!flag)
      throw new NotFoundError(`${this.describe(t)} has no flag \`${item}\`.`, {
        hint: "Check the flag's key and the service's `flags.featureFlag` in the config.",
      });
    const off = t.offVariant ?? 'off';
    return {
      on: flag.state === 'ENABLED' && flag.defaultVariant !== off,
      variant: flag.defaultVariant,
      state: flag.state,
      ...(flag.targeting && Object.keys(flag.targeting).length > 0
        ? {
            caveat: `flag \`${item}\` has targeting rules, which decide before defaultVariant for the requests they match`,
          }
        : {}),
    };
  }

  async write(t: SwitchTarget, item: string, to: Setting): Promise<Setting> {
    const { context, namespace, name } = this.where(t);
    const body = {
      spec: { flagSpec: { flags: { [item]: { defaultVariant: to.variant, state: to.state ?? 'ENABLED' } } } },
    };
    try {
      await (
        await this.clients.for(context)
      ).patch({ ...FEATURE_FLAGS, namespace, name }, body, PatchStrategy.MergePatch);
    } catch (err) {
      throw kubeError(err, `FeatureFlag ${namespace}/${name}`, context);
    }
    return this.read(t, item);
  }

  async desired(t: SwitchTarget, item: string, direction: 'off' | 'on'): Promise<Setting> {
    const variant = direction === 'off' ? (t.offVariant ?? 'off') : (t.onVariant ?? 'on');
    const flag = (await this.flags(t))[item];
    if (flag && !(variant in flag.variants)) {
      throw new UsageError(
        `Flag \`${item}\` in ${this.describe(t)} has no variant \`${variant}\`, so it cannot be turned ${direction} that way. Nothing was changed.`,
        {
          hint: `Its variants: ${Object.keys(flag.variants)
            .map((v) => `\`${v}\``)
            .join(', ')}. Set the service's \`flags.offVariant\` / \`onVariant\`.`,
        },
      );
    }
    return { on: direction === 'on', variant, state: 'ENABLED' };
  }
}
