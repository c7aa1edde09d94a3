/**
 * Forces a garbage collection in a backout process and reads its heap, through the inspector
 * protocol: backout runs with `--inspect-port=127.0.0.1:0` (nothing listens until asked), the bench
 * sends SIGUSR1 (Node opens the inspector and prints its address) and then `HeapProfiler.collectGarbage`.
 * No code of backout's own is involved, and readings taken before the signal see no inspector at all.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { waitFor } from '../kit/wait.js';

/** The Node flag that lets the bench open the inspector later (SIGUSR1) on a free port. */
export const INSPECT_LATER = '--inspect-port=127.0.0.1:0';

export interface HeapReading {
  /** V8 heap in use (live objects after the collection), MB (10⁶ bytes). */
  heapUsedMb: number;
  heapTotalMb: number;
  rssMb: number;
  externalMb: number;
}

export class Inspector {
  private next = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private chunks: string[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (ev: MessageEvent) => {
      const msg = JSON.parse(String(ev.data)) as {
        id?: number;
        result?: unknown;
        method?: string;
        params?: { chunk?: string };
      };
      if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') this.chunks.push(msg.params?.chunk ?? '');
      if (msg.id !== undefined) {
        this.pending.get(msg.id)?.(msg.result);
        this.pending.delete(msg.id);
      }
    });
  }

  /** Opens the inspector of `child` (whose output lines are collected in `output`) and connects. */
  static async open(child: ChildProcess, output: string[]): Promise<Inspector> {
    child.kill('SIGUSR1');
    const url = await waitFor(() => /Debugger listening on (ws:\/\/\S+)/.exec(output.join(''))?.[1], {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the inspector address',
    });
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), {
        once: true,
      });
    });
    return new Inspector(socket);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Two full collections (the second catches what finalizers of the first released), then the heap. */
  async collect(): Promise<HeapReading> {
    await this.send('HeapProfiler.collectGarbage');
    await this.send('HeapProfiler.collectGarbage');
    const result = (await this.send('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } };
    const m = JSON.parse(result.result.value) as Record<string, number>;
    const mb = (b: number | undefined) => (b ?? 0) / 1e6;
    return {
      heapUsedMb: mb(m.heapUsed),
      heapTotalMb: mb(m.heapTotal),
      rssMb: mb(m.rss),
      externalMb: mb(m.external),
    };
  }

  /** Writes a heap snapshot (after a full collection) to `path`, for finding what a leak holds. */
  async snapshot(path: string): Promise<void> {
    this.chunks = [];
    await this.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
    await writeFile(path, this.chunks.join(''));
    this.chunks = [];
  }

  close(): void {
    this.socket.close();
  }
}
