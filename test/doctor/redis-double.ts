/**
 * A tiny RESP2 server standing in for a Redis whose settings a test chooses: PING, INFO
 * (server, memory, persistence), CONFIG GET (or "unknown command" when CONFIG is disabled,
 * as on managed Redis), QUIT. Enough for `backout doctor`; not a data store.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RedisSettings {
  version?: string;
  config?: Record<string, string>;
  /** CONFIG answers "unknown command", as on services that rename or disable it. */
  configDisabled?: boolean;
  aofEnabled?: boolean;
}

export class RedisSettingsDouble {
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly settings: RedisSettings,
  ) {}

  static async start(settings: RedisSettings = {}): Promise<RedisSettingsDouble> {
    const holder: { double?: RedisSettingsDouble } = {};
    const server = createServer((socket) => holder.double?.serve(socket));
    const double = new RedisSettingsDouble(server, settings);
    holder.double = double;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return double;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) break;
        buffer = buffer.subarray(parsed.length);
        socket.write(this.answer(parsed.args));
      }
    });
  }

  private answer(args: string[]): string {
    const [name = '', ...rest] = args;
    const s = this.settings;
    switch (name.toUpperCase()) {
      case 'PING':
        return '+PONG\r\n';
      case 'QUIT':
        return '+OK\r\n';
      // An empty notifier dead-letter list.
      case 'LLEN':
        return ':0\r\n';
      case 'LRANGE':
        return '*0\r\n';
      case 'INFO': {
        const config = s.config ?? {};
        const text = [
          '# Server',
          `redis_version:${s.version ?? '7.2.4'}`,
          '# Persistence',
          'loading:0',
          `aof_enabled:${s.aofEnabled ? 1 : 0}`,
          '# Memory',
          `maxmemory_policy:${config['maxmemory-policy'] ?? 'noeviction'}`,
          '',
        ].join('\r\n');
        return bulk(text);
      }
      case 'CONFIG': {
        if (s.configDisabled)
          return `-ERR unknown command 'CONFIG', with args beginning with: ${rest.join(' ')}\r\n`;
        const key = rest[1] ?? '';
        const value = s.config?.[key];
        return value === undefined ? '*0\r\n' : `*2\r\n${bulk(key)}${bulk(value)}`;
      }
      default:
        return `-ERR unknown command '${name}'\r\n`;
    }
  }
}

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}

/** One RESP array of bulk strings, or undefined when the buffer does not hold a whole one yet. */
function parseCommand(buf: Buffer): { args: string[]; length: number } | undefined {
  let pos = 0;
  const line = () => {
    const end = buf.indexOf('\r\n', pos);
    if (end === -1) return undefined;
    const text = buf.subarray(pos, end).toString();
    pos = end + 2;
    return text;
  };
  const head = line();
  if (head === undefined) return undefined;
  if (!head.startsWith('*')) return { args: head.split(' ').filter(Boolean), length: pos };
  const count = Number(head.slice(1));
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const size = line();
    if (size === undefined) return undefined;
    const n = Number(size.slice(1));
    if (buf.length < pos + n + 2) return undefined;
    args.push(buf.subarray(pos, pos + n).toString());
    pos += n + 2;
  }
  return { args, length: pos };
}
