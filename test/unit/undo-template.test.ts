import { describe, expect, it } from 'vitest';
import { sameTemplate, withoutHash } from '../../src/integrations/kubernetes/undo.js';
import type { PodTemplate } from '../../src/integrations/kubernetes/types.js';

const template = (labels: Record<string, string> | undefined): PodTemplate => ({
  metadata: {
    creationTimestamp: null,
    ...(labels ? { labels } : {}),
    annotations: { team: 'checkout' },
  },
  spec: { containers: [{ name: 'app', image: 'api:2' }] },
});

describe('withoutHash: the template kubectl restores and compares', () => {
  it('drops pod-template-hash and keeps every key in its place, so the patch body serialises as before', () => {
    const original = template({ app: 'api', 'pod-template-hash': '5d8f7', tier: 'web' });
    const before = JSON.stringify(original);
    const stripped = withoutHash(original);
    expect(JSON.stringify(stripped)).toBe(
      '{"metadata":{"creationTimestamp":null,"labels":{"app":"api","tier":"web"},"annotations":{"team":"checkout"}},"spec":{"containers":[{"name":"app","image":"api:2"}]}}',
    );
    // The template read from the cluster is left as it was.
    expect(JSON.stringify(original)).toBe(before);
  });

  it('drops a label map left empty, and an empty one, as kubectl does', () => {
    expect(JSON.stringify(withoutHash(template({ 'pod-template-hash': 'x' })).metadata)).toBe(
      '{"creationTimestamp":null,"annotations":{"team":"checkout"}}',
    );
    expect(JSON.stringify(withoutHash(template({})).metadata)).toBe(
      '{"creationTimestamp":null,"annotations":{"team":"checkout"}}',
    );
  });

  it('a template without the hash is returned as it is; templates differing only in the hash are the same', () => {
    const plain = template({ app: 'api' });
    expect(withoutHash(plain)).toBe(plain);
    expect(sameTemplate(template({ app: 'api', 'pod-template-hash': 'a' }), plain)).toBe(true);
    expect(sameTemplate(template({ app: 'web' }), plain)).toBe(false);
  });
});
