import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parse } from '../../commands/flag.js';
import { parseConfigText } from '../../src/config/load.js';

describe('/flag grammar', () => {
  const cases: [string, unknown][] = [
    [
      'checkout-api new-checkout off',
      { kind: 'switch', service: 'checkout-api', flag: 'new-checkout', direction: 'off' },
    ],
    [
      'checkout-api new_checkout.v2 ON --env staging --reason “5xx spike”',
      {
        kind: 'switch',
        service: 'checkout-api',
        flag: 'new_checkout.v2',
        direction: 'on',
        env: 'staging',
        reason: '5xx spike',
      },
    ],
    ['checkout-api cronjobs off', { kind: 'switch', service: 'checkout-api', direction: 'off' }],
    ['checkout-api status', { kind: 'status', service: 'checkout-api' }],
    ['checkout-api --env production status', { kind: 'status', service: 'checkout-api', env: 'production' }],
    ['help', { kind: 'help' }],
  ];
  for (const [text, expected] of cases) {
    it(`parses "${text}"`, () => {
      expect(parse(text)).toEqual(expected);
    });
  }

  const refusals: [string, RegExp][] = [
    ['', /Which service and which flag/],
    ['checkout-api', /Name the flag to switch/],
    ['checkout-api new-checkout', /Say whether to turn `new-checkout` off or on/],
    ['checkout-api new-checkout of', /"of" is not off or on. Did you mean `off`\?/],
    ['checkout-api new-checkout off now', /I did not understand "now"/],
    ['checkout-api status --reason x', /`status` takes only --env/],
    ['checkout-api <@U0ABC|bob> off', /Name the flag to switch/],
    ['checkout-api new-checkout off --force', /Unknown option --force/],
  ];
  for (const [text, message] of refusals) {
    it(`refuses "${text}" with a usage error`, () => {
      expect(() => parse(text)).toThrow(UsageError);
      expect(() => parse(text)).toThrow(message);
    });
  }

  it('gives a command or a usage error with a message for thousands of random inputs', () => {
    const words = fc.constantFrom(
      'checkout-api',
      'new-checkout',
      'cronjobs',
      'status',
      'off',
      'on',
      '--env',
      '--reason',
      '"x y"',
      '&amp;',
      '<#C0X|x>',
      'help',
    );
    const text = fc.oneof(
      fc.array(fc.oneof(words, fc.string({ maxLength: 10 })), { maxLength: 8 }).map((p) => p.join(' ')),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          expect(parse(t)).toHaveProperty('kind');
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as UsageError).message.length).toBeGreaterThan(10);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('config: flags, CronJobs, flagOff and groups', () => {
  const base = (extra: string, groups = '') => `
policy: { approval: required, flagOff: not-required }
services:
  checkout-api:
    flags: { provider: flagd, killSwitches: [new-checkout] }
    environments:
      production:
        kubernetes: { context: prod, namespace: shop, deployment: checkout-api }
        cronJobs: [nightly]
        policy: { flagOff: required }
${extra}
${groups}`;

  it('names every mistake with its path: flagd without featureFlag, a reserved flag name, groups of unknown members or a name taken by a service', () => {
    const result = parseConfigText(
      base(
        `  payments:
    flags: { provider: unleash, killSwitches: [status] }
    environments:
      production:
        kubernetes: { context: prod, namespace: pay, deployment: payments }`,
        `groups:
  payments:
    - { service: checkout-api, environment: production }
    - { service: payments, environment: production }
  train:
    - { service: checkout-api, environment: staging }
    - { service: nobody, environment: production }`,
      ),
    );
    expect(result.ok).toBe(false);
    const problems = result.ok ? '' : result.problems.join('\n');
    expect(problems).toContain('services.checkout-api.flags.featureFlag');
    expect(problems).toContain('"status" is a /flag keyword');
    expect(problems).toContain('a group cannot share its name with a service');
    expect(problems).toContain('checkout-api has no environment called staging');
    expect(problems).toContain('no service called nobody');
  });

  it('resolves flagOff nearest-wins and keeps groups in their order', () => {
    const result = parseConfigText(
      base(
        '',
        'groups:\n  train:\n    - { service: checkout-api, environment: production }\n    - { service: checkout-api, environment: production }',
      ).replace('provider: flagd,', 'provider: flagd, featureFlag: flags,'),
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems.join('\n')).toContain('checkout-api/production is listed twice');
    const ok = parseConfigText(base('').replace('provider: flagd,', 'provider: flagd, featureFlag: flags,'));
    if (!ok.ok) throw new Error(ok.problems.join('\n'));
    const prod = ok.config.services.get('checkout-api')!.environments.get('production')!;
    expect(prod.policy.flagOff).toBe('required');
    expect(prod.cronJobs).toEqual(['nightly']);
    expect(prod.flagEnvironment).toBe('production');
  });
});
