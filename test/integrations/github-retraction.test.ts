import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runningTag } from '../../commands/retract-running.js';
import {
  isRetracted,
  retractedBy,
  retractionBanner,
  withBanner,
  withoutBanner,
} from '../../src/integrations/github/banner.js';
import {
  defaultReplacement,
  imageCarriesTag,
  imageTag,
  whyNotReplacement,
} from '../../src/integrations/github/selection.js';
import type { Release } from '../../src/integrations/github/types.js';
import type { DeploymentHistory, RevisionEntry } from '../../src/integrations/kubernetes/types.js';

function rel(tag: string, day: number, over: Partial<Release> = {}): Release {
  return {
    id: day,
    tag,
    name: tag,
    body: `Release ${tag}`,
    draft: false,
    prerelease: false,
    immutable: false,
    createdAt: new Date(Date.UTC(2026, 0, day)).toISOString(),
    publishedAt: null,
    updatedAt: null,
    htmlUrl: `https://github.com/acme/x/releases/tag/${tag}`,
    assets: [],
    ...over,
  };
}

const banner = (reason?: string, names: { requesterName?: string; approverName?: string } = {}) =>
  retractionBanner({
    requestId: 'rt-abcd2345',
    at: new Date('2026-05-01T14:03:59Z'),
    requester: 'U0REQUEST',
    approver: 'U0SRE1',
    requesterName: 'Ada Lovelace',
    approverName: 'grace.h',
    ...names,
    ...(reason !== undefined ? { reason } : {}),
    replacement: { tag: 'v1.4.1', url: 'https://github.com/acme/x/releases/tag/v1.4.1' },
  });

describe('the RETRACTED banner', () => {
  it('reads well on github.com and carries a machine-readable marker', () => {
    expect(banner('corrupts carts')).toBe(
      [
        '<!-- backout:retracted request=rt-abcd2345 -->',
        '> [!WARNING]',
        '> **RETRACTED** on 2026-05-01 14:03 UTC by Ada Lovelace, approved by grace.h.',
        '> Reason: corrupts carts',
        '> Use [v1.4.1](https://github.com/acme/x/releases/tag/v1.4.1) instead.',
        '<!-- /backout:retracted -->',
      ].join('\n'),
    );
    const body = withBanner(banner('x'), 'notes');
    expect(retractedBy(body)).toBe('rt-abcd2345');
    expect(isRetracted('notes')).toBe(false);
    expect(isRetracted('text <!-- backout:retracted request=rt-abcd2345 -->')).toBe(false);
  });

  it('names people by id when their Slack names could not be read, and never lets a name mention anyone', () => {
    const unnamed = banner('x', { requesterName: '', approverName: '  ' });
    expect(unnamed).toContain('by Slack user U0REQUEST, approved by Slack user U0SRE1.');
    const odd = banner('x', { requesterName: '<b>@alice</b>' });
    expect(odd).toContain('by &lt;b>@\u2060alice&lt;/b>, approved by grace.h.');
  });

  it('keeps a reason on one quoted line, without HTML or GitHub @-mentions', () => {
    const text = banner('broke <script> for @alice\nand -->\r\n@bob');
    const reason = text.split('\n').find((l) => l.startsWith('> Reason:'));
    expect(reason).toBe('> Reason: broke &lt;script> for @\u2060alice and --> @\u2060bob');
  });

  it('comes off exactly, whatever the notes and the reason (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (notes, reason) => {
        const b = banner(reason);
        expect(b.split('\n').every((l) => l.startsWith('> ') || l.startsWith('<!--'))).toBe(true);
        const body = withBanner(b, notes);
        expect(retractedBy(body)).toBe('rt-abcd2345');
        expect(withoutBanner(body)).toBe(notes);
      }),
    );
  });
});

describe('choosing the replacement', () => {
  const releases = [
    rel('v1.5.0', 5, { draft: true }),
    rel('v1.4.2', 4),
    rel('v1.4.1', 3, { prerelease: true }),
    rel('v1.4.0', 2, { body: withBanner(banner(), 'old') }),
    rel('v1.3.0', 1),
  ];

  it('is the newest earlier release that is neither draft, pre-release nor retracted', () => {
    expect(defaultReplacement(releases, releases[1]!)?.tag).toBe('v1.3.0');
    expect(defaultReplacement(releases, releases[4]!)).toBeUndefined();
    expect(releases.map(whyNotReplacement)).toEqual([
      'it is a draft',
      undefined,
      'it is a pre-release',
      'it is retracted itself',
      undefined,
    ]);
  });
});

describe('matching running images to a release tag', () => {
  it.each([
    ['shop/checkout:1.4.2', 'v1.4.2', true],
    ['shop/checkout:v1.4.2', 'v1.4.2', true],
    ['shop/checkout:v1.4.2', '1.4.2', true],
    ['registry.internal:5000/shop/checkout:1.4.2@sha256:abc', 'v1.4.2', true],
    ['shop/checkout:1.4.2-alpine', 'v1.4.2', false],
    ['shop/checkout:1.4.20', 'v1.4.2', false],
    ['registry.internal:5000/shop/checkout', 'v1.4.2', false],
    ['shop/checkout@sha256:abc', 'v1.4.2', false],
    ['shop/checkout:version-1', 'ersion-1', false],
  ])('%s carries %s: %s', (image, tag, expected) => {
    expect(imageCarriesTag(image, tag)).toBe(expected);
  });

  it('reads the tag after the last colon of the name', () => {
    expect(imageTag('registry.internal:5000/shop/checkout')).toBeUndefined();
    expect(imageTag('checkout:1.0')).toBe('1.0');
  });

  function history(current: number, images: string[], paused = false): DeploymentHistory {
    const revisions: RevisionEntry[] = images
      .map((image, i) => ({
        revision: i + 1,
        replicaSet: `rs-${i + 1}`,
        images: [{ name: 'app', image }],
        current: i + 1 === current,
        template: {},
        annotations: {},
      }))
      .reverse();
    const live = images[current - 1]!;
    return {
      deployment: {
        name: 'checkout-api',
        namespace: 'shop',
        uid: 'u',
        resourceVersion: '1',
        generation: 1,
        labels: {},
        managers: [],
        observedGeneration: 1,
        paused,
        replicas: 1,
        revision: current,
        annotations: {},
        template: { spec: { containers: [{ name: 'app', image: live }] } },
        selector: 'app=checkout',
        progressDeadlineSeconds: 600,
        status: { replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [] },
      },
      revisions,
    };
  }

  it('rolls back past every revision that runs the tag, and says when none is left', () => {
    const images = ['c:1.4.0', 'c:1.4.1', 'c:1.4.2', 'c:1.4.2'];
    expect(runningTag(history(4, images), 'v1.4.2')).toEqual({
      runs: true,
      from: { revision: 4, images: ['c:1.4.2'] },
      to: { revision: 2, images: ['c:1.4.1'] },
    });
    expect(runningTag(history(2, images), 'v1.4.2')).toEqual({ runs: false, images: ['c:1.4.1'] });
    expect(runningTag(history(1, ['c:1.4.2']), 'v1.4.2')).toMatchObject({
      runs: true,
      problem: 'no earlier revision runs anything but v1.4.2, so there is nothing to roll back to',
    });
    const paused = runningTag(history(3, images, true), 'v1.4.2');
    expect(paused.runs && paused.problem).toContain('paused');
  });
});
