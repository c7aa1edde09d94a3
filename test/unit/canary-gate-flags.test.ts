import { describe, expect, it } from 'vitest';
import { parse } from '../../commands/canary-grammar.js';

describe('/canary gate flags', () => {
  it.each([
    [
      'web start shop/web:2.0.0 --ticket https://tickets.example.com/CHG-1',
      { kind: 'start', service: 'web', image: 'shop/web:2.0.0', ticket: 'https://tickets.example.com/CHG-1' },
    ],
    [
      'web start shop/web:2.0.0 --break-glass "outage"',
      { kind: 'start', service: 'web', image: 'shop/web:2.0.0', breakGlass: 'outage' },
    ],
    [
      'web promote --break-glass "riskier to wait"',
      { kind: 'promote', service: 'web', full: false, breakGlass: 'riskier to wait' },
    ],
  ])('%s', (text, command) => {
    expect(parse(text)).toEqual(command);
  });

  it.each([
    ['web start shop/web:2.0.0 --ticket not-a-url', /--ticket takes the change ticket's http\(s\) URL/],
    ['web start shop/web:2.0.0 --ticket ftp://x', /--ticket takes/],
    ['web start shop/web:2.0.0 --break-glass ""', /--break-glass needs a value/],
    ['web start shop/web:2.0.0 --break-glass "   "', /--break-glass needs a value/],
    ['web promote --ticket https://t.example.com/1', /--ticket goes with `start`/],
    ['web abort --break-glass "x"', /--break-glass goes with `start` or `promote`/],
    ['web status --break-glass "x"', /--break-glass goes with/],
  ])('refuses %s', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});
