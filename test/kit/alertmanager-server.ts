/**
 * A real Alertmanager (Debian's `prometheus-alertmanager`) for tests: temp config and storage, a
 * free port, no clustering, a webhook receiver pointing at backout with a bearer token, and
 * grouping intervals of a second or two so a test sees notifications quickly. Killed after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFreePort } from './process.js';
import { waitFor } from './wait.js';

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';

export class AlertmanagerServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly port: number,
    readonly output: string[],
  ) {}

  /** `host:port`, for Prometheus' `alerting.alertmanagers`. */
  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  static start(webhook: { url: string; token: string }): Promise<AlertmanagerServer> {
    return onFreePort((port) => AlertmanagerServer.startOn(port, webhook));
  }

  private static async startOn(
    port: number,
    webhook: { url: string; token: string },
  ): Promise<AlertmanagerServer> {
    const dir = await mkdtemp(join(tmpdir(), 'backout-alertmanager-'));
    await writeFile(
      join(dir, 'alertmanager.yml'),
      [
        'route:',
        '  receiver: backout',
        '  group_by: [alertname, service, environment]',
        '  group_wait: 1s',
        '  group_interval: 2s',
        '  repeat_interval: 1h',
        'receivers:',
        '  - name: backout',
        '    webhook_configs:',
        `      - url: "${webhook.url}"`,
        '        send_resolved: true',
        '        http_config:',
        '          authorization:',
        `            credentials: "${webhook.token}"`,
        '',
      ].join('\n'),
    );
    const child = spawn(
      ALERTMANAGER_BIN,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const server = new AlertmanagerServer(child, dir, `http://127.0.0.1:${port}`, port, output);
    let exited = false;
    child.once('exit', () => (exited = true));
    try {
      await waitFor(
        async () => {
          const res = await fetch(`${server.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          return res.status === 200;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 100,
          what: 'Alertmanager to be ready',
          giveUpIf: () => (exited ? new Error(`alertmanager exited:\n${output.join('')}`) : undefined),
        },
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGKILL');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
