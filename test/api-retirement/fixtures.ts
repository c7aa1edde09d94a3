import { buildEntry, type DeprecationEntry, type EntryInput } from '../../src/api-retirement/entry.js';

/** A valid entry for `service`, deprecated 2026-01-01 with sunset 2026-03-01, overridable field by field. */
export function makeEntry(overrides: Partial<EntryInput> = {}): DeprecationEntry {
  const result = buildEntry({
    service: 'checkout',
    method: 'GET',
    pattern: '/v1/orders/:id',
    deprecatedAt: '2026-01-01T00:00:00Z',
    sunset: '2026-03-01T00:00:00Z',
    successor: 'https://api.example.com/v2/orders',
    policy: 'https://developer.example.com/deprecations/orders-v1',
    createdBy: 'U123',
    requestId: 'req-1',
    createdAt: new Date('2025-12-20T00:00:00Z'),
    ...overrides,
  });
  if (!result.ok) throw new Error(result.error);
  return result.entry;
}
