import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP server that accepts every connection and never answers: a hung API server or
 * Prometheus. Given a target, it passes connections through until `swallow()` — then it
 * drops the connections it carried and black-holes every new one — until `pass()`.
 */
export class BlackHole {
  /** Connections accepted while swallowing (each one a call left hanging). */
  accepted = 0;
  private swallowing: boolean;
  private readonly hanging = new Set<Socket>();
  private readonly piped = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    swallowing: boolean,
  ) {
    this.swallowing = swallowing;
  }

  static async start(target?: { host: string; port: number }): Promise<BlackHole> {
    const holder: { hole?: BlackHole } = {};
    const server = createServer((socket) => {
      const hole = holder.hole;
      if (!hole) {
        socket.destroy();
        return;
      }
      socket.on('error', () => undefined);
      if (hole.swallowing || !target) {
        hole.accepted++;
        hole.hanging.add(socket);
        // Read and drop what the caller sends, so that its hang-up is seen.
        socket.resume();
        socket.on('close', () => hole.hanging.delete(socket));
        return;
      }
      const upstream = createConnection(target);
      hole.piped.add(socket).add(upstream);
      const close = () => {
        socket.destroy();
        upstream.destroy();
        hole.piped.delete(socket);
        hole.piped.delete(upstream);
      };
      upstream.on('error', close).on('close', close);
      socket.on('close', close);
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.hole = new BlackHole(server, (server.address() as AddressInfo).port, !target);
    return holder.hole;
  }

  /** From now on nothing answers: open connections are dropped, new ones hang. */
  swallow(): void {
    this.swallowing = true;
    for (const s of this.piped) s.destroy();
    this.piped.clear();
  }

  pass(): void {
    this.swallowing = false;
    for (const s of this.hanging) s.destroy();
  }

  /** Connections hanging right now (calls still waiting on it). */
  get open(): number {
    return this.hanging.size;
  }

  url(scheme = 'http'): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const s of [...this.hanging, ...this.piped]) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
