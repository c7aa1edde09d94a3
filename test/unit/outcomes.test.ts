import { describe, expect, it } from 'vitest';
import { summaryLine, verdictOf, type Verification } from '../../jobs/rollback-verify.js';
import type { HealthReading } from '../../src/integrations/health.js';
import { judge, parseSample, seriesName } from '../../src/integrations/prometheus/result.js';
import { OUTCOMES, OUTCOME_MARK } from '../../src/requests/outcome.js';
import type { BackoutRequest } from '../../src/requests/types.js';
import { requestCard, stepReply } from '../../src/slack/cards.js';
import { validateBlocks } from '../doubles/slack.js';

const reading = (passed: number, total: number): HealthReading => ({
  name: 'c',
  kind: 'query',
  ok: passed === total,
  units: { passed, total },
  detail: `c ${passed}/${total}`,
});
const verification = (failures: number, last: HealthReading[]): Verification => ({
  rounds: 3,
  startedAt: 0,
  failures: Array.from({ length: failures }, (_, i) => `round ${i + 1}: c`),
  last,
});

describe('how a verification ends', () => {
  it.each([
    ['no failure in any round', verification(0, [reading(2, 2)]), 'healthy'],
    ['one of two series failing at the end', verification(3, [reading(1, 2), reading(1, 1)]), 'degraded'],
    ['a failure early, all passing at the end', verification(1, [reading(2, 2)]), 'degraded'],
    ['nothing passing at the end', verification(3, [reading(0, 2), reading(0, 1)]), 'failed'],
  ] as const)('%s → %s', (_, v, expected) => {
    expect(verdictOf(v)).toBe(expected);
  });

  it.each([
    [
      'no failure in any round',
      verification(0, [reading(2, 2), reading(1, 1)]),
      '2 of 2 checks passed in every round.',
    ],
    [
      'one of two checks failing at the end',
      verification(3, [reading(1, 2), reading(1, 1)]),
      '1 of 2 checks passed in the last round; failing: c 1/2.',
    ],
    [
      'a failure early, all passing at the end',
      verification(1, [reading(2, 2)]),
      '1 of 1 check passed in the last round; 1 check failed in earlier rounds (first: round 1: c).',
    ],
    [
      'nothing passing at the end',
      verification(3, [reading(0, 2), reading(0, 1)]),
      '0 of 2 checks passed in the last round; failing: c 0/2; c 0/1.',
    ],
  ] as const)('the outcome reply sums it up in one line: %s', (_, v, line) => {
    expect(summaryLine(v, verdictOf(v))).toBe(line);
  });
});

describe('Prometheus values as the API writes them', () => {
  it.each([
    ['0.5', 0.5],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['1e-7', 1e-7],
  ])('%s reads as %d', (text, value) => {
    expect(parseSample(text)).toBe(value);
  });

  it('NaN reads as NaN, and series are written as PromQL writes them', () => {
    expect(parseSample('NaN')).toBeNaN();
    expect(seriesName({ __name__: 'up', job: 'a', instance: 'x:1' })).toBe('up{instance="x:1", job="a"}');
    expect(seriesName({ __name__: 'up' })).toBe('up');
    expect(seriesName({})).toBe('{}');
  });

  it('a matrix whose series have no values is judged as NaN, an empty one as no data', () => {
    const j = judge({ resultType: 'matrix', result: [{ metric: { pod: 'a' }, values: [] }] }, { max: 1 });
    expect(j).toMatchObject({ ok: false, total: 1, passed: 0 });
    expect(judge({ resultType: 'matrix', result: [] }, { max: 1 }).problem).toContain('no data');
  });
});

describe('every outcome has its own mark', () => {
  it('no two outcomes that mean different things share a mark, and healthy is the only check mark besides succeeded', () => {
    const checks = OUTCOMES.filter((o) => OUTCOME_MARK[o] === ':white_check_mark:');
    expect(checks.sort()).toEqual(['healthy', 'succeeded']);
    expect(new Set(OUTCOMES.map((o) => OUTCOME_MARK[o])).size).toBe(OUTCOMES.length - 1);
  });

  it('a degraded job shows a warning on its card and a step that found problems is not a check mark', () => {
    const r = {
      id: 'rb-abcdefgh',
      kind: 'rollback',
      service: 'checkout-api',
      environment: 'production',
      target: 'checkout-api/production',
      mutating: true,
      requester: 'U0REQUEST',
      createdAt: 0,
      expiresAt: 1,
      plan: {},
      planHash: 'a'.repeat(64),
      title: 'Roll back',
      approval: { required: false, reasons: [], approvers: { users: [], usergroups: [] }, twoPerson: false },
      slack: { channel: 'C0CHECKOUT' },
      dryRun: false,
      state: 'succeeded',
      outcome: 'degraded',
      verdict: 'degraded',
      version: 3,
      updatedAt: 1,
      run: 1,
    } satisfies BackoutRequest;
    const card = requestCard({ request: r, planLines: [], buttons: [] });
    expect(validateBlocks(card.blocks ?? [])).toBeUndefined();
    expect(JSON.stringify(card.blocks)).toContain(':warning: *Done — degraded*');
    const failed = requestCard({
      request: { ...r, state: 'failed', outcome: 'failed: no check passed', verdict: 'failed' },
      planLines: [],
      buttons: [],
    });
    expect(JSON.stringify(failed.blocks)).toContain(':x: *Failed — failed: no check passed*');
    // Verify had said healthy, then the job was lost and the sweep failed the request: never "Done".
    const lost = requestCard({
      request: { ...r, state: 'failed', outcome: 'its job is gone', verdict: 'healthy' },
      planLines: [],
      buttons: [],
    });
    expect(JSON.stringify(lost.blocks)).toContain(':x: *Failed — its job is gone*');
    expect(JSON.stringify(lost.blocks)).not.toContain('Done');
    const step = stepReply({ index: 5, total: 6, label: 'Verify', event: 'warned', durationMs: 300 });
    expect(step.text).toMatch(/^:warning: Step 5\/6 · \*Verify\* — finished with problems/);
    expect(step.text).not.toContain(':white_check_mark:');
  });
});
