import { describe, expect, it } from 'vitest';
import { compileMatcher, type RequestFacts } from '../../src/api-retirement/match.js';
import { makeEntry } from './fixtures.js';

const facts = (method: string, url: string, headers: RequestFacts['headers'] = {}): RequestFacts => ({
  method,
  url,
  headers,
});

describe('compileMatcher', () => {
  const orders = makeEntry({ method: 'GET', pattern: '/v1/orders/:id' });
  const checkout = makeEntry({ method: '*', pattern: '/v1/checkout/*' });
  const list = makeEntry({ method: 'GET', pattern: '/v1/orders' });
  const match = compileMatcher([orders, checkout, list]);

  it.each<[RequestFacts, string | undefined]>([
    [facts('GET', '/v1/orders/42'), orders.id],
    [facts('GET', '/v1/orders/42?expand=items#x'), orders.id],
    [facts('GET', '/v1/orders/42/'), orders.id],
    [facts('HEAD', '/v1/orders/42'), orders.id],
    [facts('get', '/v1/orders/42'), orders.id],
    [facts('POST', '/v1/orders/42'), undefined],
    [facts('GET', '/v1/orders/42/items'), undefined],
    [facts('GET', '/v1/orders'), list.id],
    [facts('GET', '/v1/orders?page=2'), list.id],
    [facts('GET', '/V1/orders'), undefined],
    [facts('GET', '/v2/orders/42'), undefined],
    [facts('DELETE', '/v1/checkout'), checkout.id],
    [facts('POST', '/v1/checkout/cart/items'), checkout.id],
    [facts('POST', '/v1/checkoutx'), undefined],
    [facts('GET', '/'), undefined],
  ])('%j → %s', (request, id) => {
    expect(match(request)?.id).toBe(id);
  });

  it('prefers the most specific entry', () => {
    const all = makeEntry({ method: '*', pattern: '/v1/*' });
    const param = makeEntry({ method: 'GET', pattern: '/v1/:resource/:id' });
    const literal = makeEntry({ method: 'GET', pattern: '/v1/orders/:id' });
    const anyMethod = makeEntry({ method: '*', pattern: '/v1/orders/:id' });
    const specific = compileMatcher([all, param, anyMethod, literal]);
    expect(specific(facts('GET', '/v1/orders/7'))?.id).toBe(literal.id);
    expect(specific(facts('PUT', '/v1/orders/7'))?.id).toBe(anyMethod.id);
    expect(specific(facts('GET', '/v1/carts/7'))?.id).toBe(param.id);
    expect(specific(facts('GET', '/v1/carts/7/lines'))?.id).toBe(all.id);
    expect(specific(facts('GET', '/v1'))?.id).toBe(all.id);
  });

  it('matches a version header exactly, alone or with a path', () => {
    const v1 = makeEntry({
      method: '*',
      pattern: undefined,
      versionHeader: { name: 'Api-Version', value: '1' },
    });
    const v1Orders = makeEntry({
      method: 'GET',
      pattern: '/orders/*',
      versionHeader: { name: 'api-version', value: '1' },
    });
    const byHeader = compileMatcher([v1, v1Orders]);
    expect(byHeader(facts('POST', '/anything', { 'api-version': '1' }))?.id).toBe(v1.id);
    expect(byHeader(facts('GET', '/orders/1', { 'api-version': ' 1 ' }))?.id).toBe(v1Orders.id);
    expect(byHeader(facts('GET', '/orders/1', { 'api-version': '2' }))).toBeUndefined();
    expect(byHeader(facts('GET', '/orders/1', { 'api-version': '10' }))).toBeUndefined();
    expect(byHeader(facts('GET', '/orders/1'))).toBeUndefined();
  });

  it('matches nothing with an empty registry', () => {
    expect(compileMatcher([])(facts('GET', '/v1/orders/1'))).toBeUndefined();
  });
});
