/**
 * The load generator for the acknowledgement and approval benchmarks, in its own process so that
 * its clock is not held up by the doubles the bench process serves, and as light as it can be so
 * that it takes little of the machine from the server it measures: raw HTTP/1.1 over plain
 * sockets. For each `round` message it signs every request as Slack does and opens one connection
 * per request (neither is timed), then sends all requests at once and answers with each one's
 * latency (request written → whole response read) and status.
 */
import { connect, type Socket } from 'node:net';
import { signSlackRequest } from '../kit/slack-signing.js';

export interface RoundRequest {
  id: number;
  url: string;
  secret: string;
  /** Form fields of each request: a slash command, or a click (`payload=<block_actions JSON>`). */
  forms: Record<string, string>[];
  /** Send the requests one after another (each once the previous one was answered), not all at once. */
  sequential?: boolean;
}

export interface RoundResult {
  id: number;
  /** `sentAt`: epoch ms just before the request was written, for matching against server-side timestamps. */
  results: { ms: number; status: number; sentAt?: number; error?: string }[];
}

type Outcome = RoundResult['results'][number];

/** One keep-alive connection carrying one request at a time. */
class Connection {
  private buffer = Buffer.alloc(0);
  private pending: { started: number; sentAt: number; resolve: (o: Outcome) => void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.settle({ status: 0, error: err.message }));
    socket.on('close', () => this.settle({ status: 0, error: 'connection closed' }));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  send(raw: Buffer): Promise<Outcome> {
    return new Promise((resolve) => {
      this.pending = { started: performance.now(), sentAt: Date.now(), resolve };
      this.socket.write(raw);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private settle(o: { status: number; error?: string }): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.buffer = Buffer.alloc(0);
    p.resolve({ ms: performance.now() - p.started, sentAt: p.sentAt, ...o });
  }

  /** Completes the request once the whole response (Content-Length or chunked) has arrived. */
  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const body = this.buffer.length - end - 4;
    const complete = length
      ? body >= Number(length[1])
      : /\r\ntransfer-encoding:\s*chunked/i.test(head)
        ? this.buffer.subarray(-5).toString('latin1') === '0\r\n\r\n'
        : true;
    if (complete) this.settle({ status });
  }
}

function rawRequest(url: URL, body: string, secret: string): Buffer {
  const signed = signSlackRequest(secret, body);
  const head = [
    `POST ${url.pathname} HTTP/1.1`,
    `Host: ${url.host}`,
    'Content-Type: application/x-www-form-urlencoded',
    `X-Slack-Signature: ${signed['x-slack-signature']}`,
    `X-Slack-Request-Timestamp: ${signed['x-slack-request-timestamp']}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: keep-alive',
  ];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`);
}

async function round(msg: RoundRequest): Promise<RoundResult> {
  const url = new URL(msg.url);
  const raws = msg.forms.map((form) => rawRequest(url, new URLSearchParams(form).toString(), msg.secret));
  const connections = await Promise.all(raws.map(() => Connection.open(url.hostname, Number(url.port))));
  // Let the server take the connections in before the clock starts (one connection: at once).
  if (connections.length > 1) await new Promise((resolve) => setTimeout(resolve, 100));
  try {
    if (msg.sequential) {
      const results: Outcome[] = [];
      for (const [i, raw] of raws.entries()) results.push(await connections[i]!.send(raw));
      return { id: msg.id, results };
    }
    const results = await Promise.all(raws.map((raw, i) => connections[i]!.send(raw)));
    return { id: msg.id, results };
  } finally {
    for (const c of connections) c.close();
  }
}

process.on('message', (msg: RoundRequest) => {
  round(msg).then(
    (reply) => process.send?.(reply),
    (err: unknown) =>
      process.send?.({
        id: msg.id,
        results: msg.forms.map(() => ({ ms: 0, status: 0, error: (err as Error).message })),
      } satisfies RoundResult),
  );
});
// The bench owns this process: when it goes, so does the load generator.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
