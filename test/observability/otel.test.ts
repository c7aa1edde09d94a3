import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { createOtelTracing } from '../../src/observability/otel.js';
import { OtlpDouble } from '../doubles/otlp.js';

describe('OpenTelemetry tracing', () => {
  let otlp: OtlpDouble;
  beforeAll(async () => {
    otlp = await OtlpDouble.start();
  });
  afterAll(async () => {
    await otlp.stop();
  });

  it('exports nested spans with their attributes over OTLP/HTTP, and marks failures as errors', async () => {
    const tracing = createOtelTracing({
      endpoint: otlp.url,
      version: '0.0.0-test',
      log: createLogger({ level: 'silent', secrets: [] }),
    });
    await tracing.span(
      'job rollback',
      { 'backout.service': 'checkout-api', 'backout.environment': undefined },
      async () => {
        await tracing.span('step apply', { 'backout.step': 'apply' }, () => Promise.resolve(1));
        await expect(
          tracing.span('step verify', {}, () => Promise.reject(new Error('health checks failed\nmore'))),
        ).rejects.toThrow('health checks failed');
      },
    );
    const delayed = Object.assign(new Error('delayed'), { name: 'DelayedError' });
    await expect(tracing.span('job canary', {}, () => Promise.reject(delayed))).rejects.toBe(delayed);
    await tracing.shutdown();

    const spans = otlp.spans();
    const byName = new Map(spans.map((s) => [s.name, s]));
    const job = byName.get('job rollback')!;
    expect(job.attributes['backout.service']).toBe('checkout-api');
    expect('backout.environment' in job.attributes).toBe(false);
    expect(job.resource['service.name']).toBe('backout');
    expect(job.parentSpanId).toBeUndefined();
    expect(byName.get('step apply')?.parentSpanId).toBe(job.spanId);
    expect(byName.get('step apply')?.traceId).toBe(job.traceId);
    expect(byName.get('step verify')?.status).toEqual({ code: 2, message: 'health checks failed' });
    expect(byName.get('job canary')?.status.code).not.toBe(2);
    expect(byName.get('job canary')?.events.map((e) => e.name)).toEqual(['delayed']);
  });
});
