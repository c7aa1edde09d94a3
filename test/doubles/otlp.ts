/**
 * OtlpDouble: an OTLP/HTTP trace receiver (`POST /v1/traces`) that records exported spans, flattened.
 *
 * `@opentelemetry/exporter-trace-otlp-http` 0.301 sends OTLP/JSON (`Content-Type: application/json`):
 * trace and span ids as hex strings, timestamps as decimal strings of Unix nanoseconds, attributes as
 * `{key, value: {stringValue|intValue|doubleValue|boolValue|arrayValue|kvlistValue|bytesValue}}`. The body
 * is gzip-compressed when OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION=gzip; both forms are accepted. Protobuf
 * (`application/x-protobuf`, sent only by the separate -proto exporter) is answered with 415.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue = string | number | boolean;

export interface RecordedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** Arrays and maps are recorded as their JSON text. */
  attributes: Record<string, AttributeValue>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  events: { name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }[];
  resource: Record<string, AttributeValue>;
  scope: { name: string; version?: string };
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number | string;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpKeyValue[];
  events?: { name: string; timeUnixNano: string | number; attributes?: OtlpKeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface OtlpTraceRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
  }[];
}

function plain(value: OtlpAnyValue | undefined): unknown {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(plain);
  if (value.kvlistValue) {
    return Object.fromEntries((value.kvlistValue.values ?? []).map((kv) => [kv.key, plain(kv.value)]));
  }
  return null;
}

function attributes(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    const v = plain(value);
    out[key] =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class OtlpDouble {
  /** One entry per accepted export request: its content type and encoding, and how many spans it carried. */
  readonly exports: {
    contentType: string;
    contentEncoding: string | undefined;
    spans: number;
    at: number;
  }[] = [];

  private readonly server: Server;
  private recorded: RecordedSpan[] = [];
  private baseUrl = '';

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, body }) => {
          res.writeHead(status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        })
        .catch((err: unknown) => {
          const body = JSON.stringify({ code: 3, message: err instanceof Error ? err.message : String(err) });
          res.writeHead(400, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        });
    });
  }

  static async start(): Promise<OtlpDouble> {
    const double = new OtlpDouble();
    await new Promise<void>((resolve, reject) => {
      double.server.once('error', reject);
      double.server.listen(0, '127.0.0.1', () => resolve());
    });
    double.baseUrl = `http://127.0.0.1:${(double.server.address() as AddressInfo).port}`;
    return double;
  }

  /** The value for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends `/v1/traces`). */
  get url(): string {
    return this.baseUrl;
  }

  /** Spans received so far, in arrival order. */
  spans(): RecordedSpan[] {
    return [...this.recorded];
  }

  clear(): void {
    this.recorded = [];
    this.exports.length = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: string }> {
    const path = new URL(req.url ?? '/', 'http://otlp.test').pathname;
    let raw = await readBody(req);
    if (path !== '/v1/traces')
      return { status: 404, body: JSON.stringify({ code: 5, message: 'Not Found' }) };
    if (req.method !== 'POST')
      return { status: 405, body: JSON.stringify({ code: 12, message: 'Method Not Allowed' }) };
    const contentType = String(req.headers['content-type'] ?? '');
    if (!contentType.startsWith('application/json')) {
      return {
        status: 415,
        body: JSON.stringify({ code: 3, message: `unsupported content type ${contentType}` }),
      };
    }
    const contentEncoding = req.headers['content-encoding']?.toLowerCase();
    if (contentEncoding === 'gzip') raw = gunzipSync(raw);
    const request = JSON.parse(raw.toString('utf8')) as OtlpTraceRequest;
    let count = 0;
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version };
        for (const span of ss.spans ?? []) {
          count++;
          this.recorded.push({
            name: span.name,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ? span.parentSpanId : undefined,
            kind: span.kind ?? 0,
            attributes: attributes(span.attributes),
            status: { code: span.status?.code ?? 0, message: span.status?.message },
            startTimeUnixNano: String(span.startTimeUnixNano),
            endTimeUnixNano: String(span.endTimeUnixNano),
            events: (span.events ?? []).map((e) => ({
              name: e.name,
              timeUnixNano: String(e.timeUnixNano),
              attributes: attributes(e.attributes),
            })),
            resource,
            scope,
          });
        }
      }
    }
    this.exports.push({ contentType, contentEncoding, spans: count, at: Date.now() });
    return { status: 200, body: JSON.stringify({}) };
  }
}
