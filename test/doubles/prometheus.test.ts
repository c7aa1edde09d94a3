import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpTarget } from './http-target.js';
import { formatSampleValue, PrometheusDouble } from './prometheus.js';

let prom: PrometheusDouble;

async function query(q: string, init: { time?: string; method?: 'GET' | 'POST' } = {}) {
  const params = new URLSearchParams({ query: q });
  if (init.time !== undefined) params.set('time', init.time);
  const res =
    init.method === 'POST'
      ? await fetch(`${prom.url}/api/v1/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: params.toString(),
        })
      : await fetch(`${prom.url}/api/v1/query?${params.toString()}`);
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  prom = await PrometheusDouble.start();
});

afterAll(async () => {
  await prom.stop();
});

beforeEach(() => {
  prom.reset();
});

describe('PrometheusDouble', () => {
  it('answers an instant query with a one-sample vector in Prometheus’ shape', async () => {
    prom.set('up{job="api"}', 1);

    const before = Date.now() / 1000;
    const { status, body } = await query('up{job="api"}');

    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'success',
      data: { resultType: 'vector', result: [{ metric: {}, value: [expect.any(Number), '1'] }] },
    });
    const [stamp] = (body as { data: { result: { value: [number, string] }[] } }).data.result[0]?.value ?? [];
    expect(stamp).toBeGreaterThanOrEqual(Math.floor(before));
    expect(prom.queries).toEqual(['up{job="api"}']);
  });

  it('accepts form POSTs and echoes the requested evaluation time', async () => {
    prom.set('error_ratio', 0.25);

    const { body } = await query('error_ratio', { method: 'POST', time: '1700000000.5' });

    expect(body).toMatchObject({ data: { result: [{ value: [1700000000.5, '0.25'] }] } });
    expect(prom.requests[0]).toMatchObject({ query: 'error_ratio', time: '1700000000.5', method: 'POST' });
  });

  it('prefers an exact query, then the longest matching substring, and evaluates functions per query', async () => {
    let calls = 0;
    prom.set('http_requests_total', 10);
    prom.set('http_requests_total{code=~"5.."}', 2);
    prom.set('sum(rate(http_requests_total{code=~"5.."}[1m]))', () => ++calls * 0.5);

    const exact = await query('sum(rate(http_requests_total{code=~"5.."}[1m]))');
    const again = await query('sum(rate(http_requests_total{code=~"5.."}[1m]))');
    const longest = await query('sum(rate(http_requests_total{code=~"5.."}[5m]))');
    const shorter = await query('sum(rate(http_requests_total[5m]))');

    expect(exact.body).toMatchObject({ data: { result: [{ value: [expect.any(Number), '0.5'] }] } });
    expect(again.body).toMatchObject({ data: { result: [{ value: [expect.any(Number), '1'] }] } });
    expect(longest.body).toMatchObject({ data: { result: [{ value: [expect.any(Number), '2'] }] } });
    expect(shorter.body).toMatchObject({ data: { result: [{ value: [expect.any(Number), '10'] }] } });
  });

  it('answers an unknown query with an empty vector', async () => {
    const { status, body } = await query('nothing_scripted');

    expect(status).toBe(200);
    expect(body).toEqual({ status: 'success', data: { resultType: 'vector', result: [] } });
  });

  it('answers scripted errors in Prometheus’ error shape, for one query or all', async () => {
    prom.set('up', 1);
    prom.setError('bad(', {
      status: 400,
      errorType: 'bad_data',
      error: '1:5: parse error: unclosed left parenthesis',
    });

    expect(await query('bad(')).toEqual({
      status: 400,
      body: { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unclosed left parenthesis' },
    });
    expect((await query('up')).status).toBe(200);

    prom.setError('*', { status: 503, errorType: 'unavailable', error: 'query queue is full' });
    expect(await query('up')).toEqual({
      status: 503,
      body: { status: 'error', errorType: 'unavailable', error: 'query queue is full' },
    });
    prom.clearError();
    expect((await query('up')).status).toBe(200);

    prom.set('broken', () => {
      throw new Error('query processing would load too many samples into memory');
    });
    expect(await query('broken')).toMatchObject({
      status: 422,
      body: { status: 'error', errorType: 'execution' },
    });
    expect(await query('')).toMatchObject({ status: 400, body: { errorType: 'bad_data' } });
  });

  it('formats sample values as Prometheus does', () => {
    expect(formatSampleValue(1)).toBe('1');
    expect(formatSampleValue(0.001)).toBe('0.001');
    expect(formatSampleValue(1e-7)).toBe('0.0000001');
    expect(formatSampleValue(1.5e21)).toBe('1500000000000000000000');
    expect(formatSampleValue(NaN)).toBe('NaN');
    expect(formatSampleValue(Infinity)).toBe('+Inf');
    expect(formatSampleValue(-Infinity)).toBe('-Inf');
  });
});

describe('HttpTarget', () => {
  it('answers the configured status on any path and records hits', async () => {
    const target = await HttpTarget.start();
    try {
      expect((await fetch(`${target.url}/healthz/ready`)).status).toBe(200);
      target.setStatus(503);
      const down = await fetch(`${target.url}/healthz/ready`);
      expect(down.status).toBe(503);
      expect(await down.text()).toBe('unavailable\n');
      expect((await fetch(`${target.url}/other`)).status).toBe(503);
      expect(target.hitsFor('/healthz/ready').map((h) => h.status)).toEqual([200, 503]);
      expect(target.hits).toHaveLength(3);
    } finally {
      await target.stop();
    }
  });
});
