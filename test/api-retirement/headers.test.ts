import { describe, expect, it } from 'vitest';
import { deprecationHeaders } from '../../src/api-retirement/headers.js';
import { parseDeprecationHeader, parseLinkHeader, parseSunsetHeader } from './http-parse.js';

const base = { deprecatedAt: '2026-01-15T12:34:56.789Z', sunset: '2026-03-01T00:00:00.000Z' };

describe('deprecationHeaders', () => {
  it('formats Deprecation as an RFC 9745 date and Sunset as an IMF-fixdate', () => {
    const headers = deprecationHeaders(base);
    expect(headers.Deprecation).toBe('@1768480496');
    expect(parseDeprecationHeader(headers.Deprecation)).toBe(
      Math.floor(Date.parse(base.deprecatedAt) / 1000) * 1000,
    );
    expect(headers.Sunset).toBe('Sun, 01 Mar 2026 00:00:00 GMT');
    expect(parseSunsetHeader(headers.Sunset)).toBe(Date.parse(base.sunset));
    expect(headers).not.toHaveProperty('Link');
  });

  it('pads single-digit days and keeps seconds in the Sunset date', () => {
    const headers = deprecationHeaders({ ...base, sunset: '2027-07-04T09:05:07+02:00' });
    expect(headers.Sunset).toBe('Sun, 04 Jul 2027 07:05:07 GMT');
    expect(parseSunsetHeader(headers.Sunset)).toBe(Date.parse('2027-07-04T07:05:07Z'));
  });

  it('links the successor version and the deprecation policy in one RFC 8288 field', () => {
    const headers = deprecationHeaders({
      ...base,
      successor: 'https://api.example.com/v2/orders?fields=a,b;c',
      policy: 'https://developer.example.com/deprecation',
    });
    expect(headers.Link).toBe(
      '<https://api.example.com/v2/orders?fields=a,b;c>; rel="successor-version", ' +
        '<https://developer.example.com/deprecation>; rel="deprecation"; type="text/html"',
    );
    expect(parseLinkHeader(headers.Link)).toEqual([
      { target: 'https://api.example.com/v2/orders?fields=a,b;c', params: { rel: 'successor-version' } },
      {
        target: 'https://developer.example.com/deprecation',
        params: { rel: 'deprecation', type: 'text/html' },
      },
    ]);
  });

  it('omits what is absent and keeps URL targets inside their brackets', () => {
    const successorOnly = deprecationHeaders({ ...base, successor: 'https://api.example.com/v2/<x> "y"' });
    expect(parseLinkHeader(successorOnly.Link)).toEqual([
      { target: 'https://api.example.com/v2/%3Cx%3E%20%22y%22', params: { rel: 'successor-version' } },
    ]);
    const policyOnly = deprecationHeaders({ ...base, policy: 'https://developer.example.com/p' });
    expect(parseLinkHeader(policyOnly.Link)).toEqual([
      { target: 'https://developer.example.com/p', params: { rel: 'deprecation', type: 'text/html' } },
    ]);
  });
});
