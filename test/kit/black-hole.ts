import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A TCP server that accepts every connection and never answers: a hung API server or Prometheus. */
export class BlackHole {
  /** Connections accepted so far (each one a call that is hanging, or was). */
  accepted = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<BlackHole> {
    const holder: { hole?: BlackHole } = {};
    const server = createServer((socket) => {
      const hole = holder.hole;
      if (!hole) {
        socket.destroy();
        return;
      }
      hole.accepted++;
      hole.sockets.add(socket);
      // Read and drop what the caller sends, so that its hang-up is seen.
      socket.resume();
      socket.on('error', () => undefined).on('close', () => hole.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.hole = new BlackHole(server, (server.address() as AddressInfo).port);
    return holder.hole;
  }

  /** Connections still open (calls still waiting on it). */
  get open(): number {
    return this.sockets.size;
  }

  url(scheme = 'http'): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
