/** Attributes put on spans: service, environment, target, request and job ids. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/**
 * A span per command, job and step. The composition root passes an OpenTelemetry-backed
 * implementation when OTEL_EXPORTER_OTLP_ENDPOINT is set, and `noTracing` otherwise, so
 * nothing is exported unless asked for.
 */
export interface Tracing {
  span<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T>;
  shutdown(): Promise<void>;
}

export const noTracing: Tracing = {
  span: (_name, _attributes, fn) => fn(),
  shutdown: () => Promise.resolve(),
};
