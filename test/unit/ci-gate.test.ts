import { describe, expect, it } from 'vitest';
import { judgeCi } from '../../src/gates/ci-gate.js';
import { imageTag } from '../../src/gates/gates.js';
import type { CiCheck } from '../../src/integrations/github/ci.js';

const run = (name: string, state: string): CiCheck => ({
  name,
  source: 'check-run',
  passed: ['success', 'neutral', 'skipped'].includes(state),
  pending: ['queued', 'in_progress', 'pending'].includes(state),
  state,
});
const cfg = (checks: 'all' | 'required' | string[], ignore: string[] = []) => ({
  checks,
  ignore,
  branch: 'main',
  tagPrefix: '',
});

describe('the CI gate', () => {
  it.each([
    [
      'all passed',
      cfg('all'),
      [run('build', 'success'), run('e2e', 'skipped')],
      undefined,
      true,
      'build, e2e passed (all checks',
    ],
    [
      'all: one failed',
      cfg('all'),
      [run('build', 'success'), run('e2e', 'failure')],
      undefined,
      false,
      'e2e failure',
    ],
    [
      'all: an ignored failure',
      cfg('all', ['e2e']),
      [run('build', 'success'), run('e2e', 'failure')],
      undefined,
      true,
      'build passed',
    ],
    ['all: nothing reported', cfg('all'), [], undefined, false, 'no all checks reported'],
    [
      'required: pending is not passed',
      cfg('required'),
      [run('build', 'in_progress')],
      ['build'],
      false,
      'build is in_progress',
    ],
    [
      'required: missing',
      cfg('required'),
      [run('build', 'success')],
      ['build', 'test'],
      false,
      'test has not reported',
    ],
    [
      'required: unprotected branch',
      cfg('required'),
      [run('build', 'success')],
      undefined,
      false,
      'is not protected',
    ],
    [
      'named list',
      cfg(['build']),
      [run('build', 'success'), run('flaky', 'failure')],
      undefined,
      true,
      'build passed (named checks',
    ],
    [
      'a re-run that failed on one source',
      cfg(['build']),
      [run('build', 'success'), { ...run('build', 'failure'), source: 'status' as const }],
      undefined,
      false,
      'build failure',
    ],
  ] as [string, ReturnType<typeof cfg>, CiCheck[], string[] | undefined, boolean, string][])(
    '%s',
    (_name, c, reported, required, ok, detail) => {
      const r = judgeCi(c, '1.4.0', reported, required);
      expect(r.ok).toBe(ok);
      expect(r.detail).toContain(detail);
    },
  );

  it('escapes check names from GitHub', () => {
    expect(judgeCi(cfg(['<!here>']), 'x', [run('<!here>', 'failure')], undefined).detail).toContain(
      '&lt;!here&gt;',
    );
  });

  it.each([
    ['registry.example.com:5000/shop/web:1.4.0', '1.4.0'],
    ['shop/web:1.4.0@sha256:' + 'a'.repeat(64), '1.4.0'],
    ['registry.example.com:5000/shop/web', undefined],
    ['shop/web@sha256:' + 'a'.repeat(64), undefined],
  ])('the tag of %s is %s', (image, tag) => {
    expect(imageTag(image)).toBe(tag);
  });
});
