import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../kit/wait.js';
import { OtlpDouble } from './otlp.js';

let otlp: OtlpDouble;

beforeAll(async () => {
  otlp = await OtlpDouble.start();
});

afterAll(async () => {
  await otlp.stop();
});

describe('OtlpDouble', () => {
  it('records spans exported by the OTLP/HTTP exporter, with attributes, parentage and status', async () => {
    otlp.clear();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'backout' }),
      spanProcessors: [
        new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${otlp.url}/v1/traces` }) }),
      ],
    });
    const tracer = provider.getTracer('backout-tests', '1.0.0');

    const parent = tracer.startSpan('retract release', { kind: SpanKind.INTERNAL });
    const parentCtx = parent.spanContext();
    const child = tracer.startSpan(
      'github.updateRelease',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'github.repo': 'acme/api',
          'github.release_id': 182000001,
          'backout.dry_run': false,
          ratio: 0.5,
        },
      },
      // The parent is passed explicitly: no context manager is registered in this test.
      trace.setSpanContext(context.active(), parentCtx),
    );
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'immutable release' });
    child.end();
    parent.end();
    await provider.forceFlush();

    const spans = await waitFor(() => otlp.spans().length === 2 && otlp.spans(), {
      what: 'two exported spans',
    });
    const recordedChild = spans.find((s) => s.name === 'github.updateRelease');
    const recordedParent = spans.find((s) => s.name === 'retract release');
    expect(recordedChild).toMatchObject({
      traceId: parentCtx.traceId,
      parentSpanId: parentCtx.spanId,
      kind: 3,
      attributes: {
        'github.repo': 'acme/api',
        'github.release_id': 182000001,
        'backout.dry_run': false,
        ratio: 0.5,
      },
      status: { code: 2, message: 'immutable release' },
      resource: { 'service.name': 'backout' },
      scope: { name: 'backout-tests', version: '1.0.0' },
    });
    expect(recordedChild?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(recordedChild?.startTimeUnixNano).toMatch(/^\d{19}$/);
    expect(BigInt(recordedChild?.endTimeUnixNano ?? 0)).toBeGreaterThanOrEqual(
      BigInt(recordedChild?.startTimeUnixNano ?? 0),
    );
    expect(recordedParent?.parentSpanId).toBeUndefined();
    expect(otlp.exports[0]).toMatchObject({ contentType: 'application/json', contentEncoding: undefined });
    await provider.shutdown();
  });

  it('works with a SimpleSpanProcessor too', async () => {
    otlp.clear();
    const provider = new TracerProvider({
      spanProcessors: [
        new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${otlp.url}/v1/traces` }) }),
      ],
    });
    provider
      .getTracer('t')
      .startSpan('probe.http', { attributes: { 'http.response.status_code': 503 } })
      .end();
    await provider.forceFlush();

    const [span] = await waitFor(() => otlp.spans().length === 1 && otlp.spans(), {
      what: 'one exported span',
    });
    expect(span?.attributes).toEqual({ 'http.response.status_code': 503 });
    await provider.shutdown();
  });

  it('serves as OTEL_EXPORTER_OTLP_ENDPOINT and accepts gzip-compressed exports', async () => {
    otlp.clear();
    const saved = {
      endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
      gzip: process.env.OTEL_EXPORTER_OTLP_COMPRESSION,
    };
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
    process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
    let exporter: OTLPTraceExporter;
    try {
      exporter = new OTLPTraceExporter();
    } finally {
      if (saved.endpoint === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved.endpoint;
      if (saved.gzip === undefined) delete process.env.OTEL_EXPORTER_OTLP_COMPRESSION;
      else process.env.OTEL_EXPORTER_OTLP_COMPRESSION = saved.gzip;
    }
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    provider.getTracer('t').startSpan('from-env').end();
    await provider.forceFlush();

    await waitFor(() => otlp.spans().some((s) => s.name === 'from-env'), {
      what: 'span exported via the env endpoint',
    });
    await provider.shutdown();
  });
});
