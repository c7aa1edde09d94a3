// The OpenFeature Operator's FeatureFlag (core.openfeature.dev/v1beta1), validated as the API
// server validates a custom resource: against the CRD's openAPIV3Schema
// (config/crd/bases/core.openfeature.dev_featureflags.yaml in open-feature/open-feature-operator).
import { Ajv } from 'ajv';

/** The CRD's openAPIV3Schema for v1beta1, as published (descriptions left out). */
export const FEATURE_FLAG_SCHEMA = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        flagSpec: {
          type: 'object',
          properties: {
            $evaluators: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            flags: {
              type: 'object',
              additionalProperties: {
                type: 'object',
                properties: {
                  defaultVariant: { type: 'string' },
                  state: { type: 'string', enum: ['ENABLED', 'DISABLED'] },
                  targeting: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  variants: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                },
                required: ['defaultVariant', 'state', 'variants'],
              },
            },
          },
          required: ['flags'],
        },
      },
    },
    status: { type: 'object' },
  },
} as const;

export interface IFeatureFlag {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number };
  spec?: {
    flagSpec: {
      flags: Record<
        string,
        {
          state: 'ENABLED' | 'DISABLED';
          defaultVariant: string;
          variants: Record<string, unknown>;
          targeting?: object;
        }
      >;
    };
  };
}

const ajv = new Ajv({ strict: false, allErrors: true });
const check = ajv.compile(FEATURE_FLAG_SCHEMA);

/** Throws with the schema's complaints in kubernetes-models' message form (`data/spec/... must be ...`). */
export class FeatureFlag {
  constructor(private readonly obj: unknown) {}
  validate(): void {
    if (check(this.obj)) return;
    throw new Error(
      (check.errors ?? []).map((e) => `data${e.instancePath} ${e.message ?? 'is invalid'}`).join(', '),
    );
  }
}
