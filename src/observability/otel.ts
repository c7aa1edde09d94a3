import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from './logger.js';
import type { SpanAttributes, Tracing } from './tracing.js';

/**
 * Tracing backed by OpenTelemetry, exported over OTLP/HTTP to
 * `OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces` in batches. Nothing is registered globally:
 * spans nest (job → step) through this instance's own async context, so several
 * instances can live in one process and nothing else's instrumentation is affected.
 * Every span carries `backout.service`, `backout.environment` and `backout.target` when
 * the caller knows them (and `service.name = backout` on the resource).
 */
export function createOtelTracing(opts: {
  endpoint: string;
  version: string;
  log: Logger;
  /** For tests; defaults to the OTLP/HTTP exporter. */
  exporter?: SpanExporter;
}): Tracing {
  const exporter =
    opts.exporter ?? new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'backout',
      'service.version': opts.version,
      'service.instance.id': randomUUID(),
    }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 2_000 })],
  });
  const tracer = provider.getTracer('backout', opts.version);
  const active = new AsyncLocalStorage<Context>();
  let stopped: Promise<void> | undefined;

  return {
    async span<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
      const parent = active.getStore() ?? ROOT_CONTEXT;
      const span = tracer.startSpan(name, { attributes: clean(attributes) }, parent);
      try {
        const result = await active.run(trace.setSpan(parent, span), fn);
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (err) {
        // A job handed back to the queue to wait (BullMQ's DelayedError) is not a failure.
        if (err instanceof Error && err.name === 'DelayedError') {
          span.addEvent('delayed');
        } else {
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: err instanceof Error ? err.message.split('\n')[0]! : String(err),
          });
        }
        throw err;
      } finally {
        span.end();
      }
    },
    shutdown() {
      stopped ??= provider.shutdown().catch((err: unknown) => {
        opts.log.warn({ err }, 'could not flush the last spans to the OTLP endpoint');
      });
      return stopped;
    },
  };
}

function clean(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}
