/**
 * HttpTarget: a probe target. Every path (e.g. `GET /healthz/ready`) answers the configured status, and
 * every hit is recorded.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TargetHit {
  method: string;
  path: string;
  status: number;
  at: number;
}

export class HttpTarget {
  readonly hits: TargetHit[] = [];

  private readonly server: Server;
  private status: number;
  private baseUrl = '';

  private constructor(status: number) {
    this.status = status;
    this.server = createServer((req, res) => {
      const status = this.status;
      this.hits.push({ method: req.method ?? 'GET', path: req.url ?? '/', status, at: Date.now() });
      const body = status < 400 ? 'ok\n' : 'unavailable\n';
      req.resume();
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  }

  static async start(opts: { status?: number } = {}): Promise<HttpTarget> {
    const target = new HttpTarget(opts.status ?? 200);
    await new Promise<void>((resolve, reject) => {
      target.server.once('error', reject);
      target.server.listen(0, '127.0.0.1', () => resolve());
    });
    target.baseUrl = `http://127.0.0.1:${(target.server.address() as AddressInfo).port}`;
    return target;
  }

  /** The server root, e.g. `${target.url}/healthz/ready`. */
  get url(): string {
    return this.baseUrl;
  }

  /** The status every path answers from now on (e.g. 200 or 503). */
  setStatus(status: number): void {
    this.status = status;
  }

  hitsFor(path: string): TargetHit[] {
    return this.hits.filter((h) => h.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}
