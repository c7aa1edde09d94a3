/**
 * Socket Mode ack latency: the same slash commands, 50 at once, acknowledged by one backout
 * process over Socket Mode (envelope → ack frame) and by one over HTTP (signed POST → response),
 * rounds alternating between them on one machine. HTTP is the baseline; the figure is the ratio.
 *
 * `BENCH_ONLY=socket-mode npm run bench` runs this phase alone and writes only its section.
 */
import { spawnBackout, type BotProcess } from '../kit/process.js';
import { PEOPLE, createWorld } from '../kit/world.js';
import { stopProcess, track, writeMarkedSection } from './procs.js';
import { ms, ratio, summarize, type Summary } from './stats.js';

const MARK_START = '<!-- socket-mode-bench:start -->';
const MARK_END = '<!-- socket-mode-bench:end -->';
const CONCURRENCY = 50;
const ROUNDS = 10;
const WARMUP_ROUNDS = 2;
const COMMANDS = ['help', 'checkout-api history'];
/** Socket Mode's p99 may be at most this many times HTTP's, and always within Slack's 3 s. */
export const SOCKET_TARGET = { p99Ratio: 1.5, p99Ms: 3_000 };

export interface SocketModeBench {
  rows: { text: string; http: Summary; socket: Summary; errors: { http: number; socket: number } }[];
}

async function round(bot: BotProcess, text: string): Promise<{ ms: number[]; errors: number }> {
  const replies = await Promise.all(
    Array.from({ length: CONCURRENCY }, () =>
      bot.client.command({
        command: '/rollback',
        text,
        user_id: PEOPLE.requester,
        channel_id: PEOPLE.checkout,
      }),
    ),
  );
  return {
    ms: replies.filter((r) => r.status === 200).map((r) => r.elapsedMs),
    errors: replies.filter((r) => r.status !== 200).length,
  };
}

export async function benchSocketMode(opts: {
  log: (line: string) => void;
  /** Node arguments that start backout (the built output); default src/main.ts through tsx. */
  entry?: string[];
}): Promise<SocketModeBench> {
  const world = await createWorld({ transport: 'socket' });
  const bots: BotProcess[] = [];
  try {
    const start = async (env: Record<string, string>) => {
      const bot = await spawnBackout(
        world,
        { LOG_LEVEL: 'warn', ...env },
        opts.entry ? { entry: opts.entry } : {},
      );
      track(bot.child);
      bots.push(bot);
      return bot;
    };
    // An empty SLACK_APP_TOKEN is unset: that one serves HTTP.
    const [socket, http] = [await start({}), await start({ SLACK_APP_TOKEN: '' })];
    const rows: SocketModeBench['rows'] = [];
    for (const text of COMMANDS) {
      const samples = { http: [] as number[], socket: [] as number[] };
      const errors = { http: 0, socket: 0 };
      for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
        // Alternate which goes first, so drift on the machine hits both alike.
        const order = i % 2 === 0 ? (['socket', 'http'] as const) : (['http', 'socket'] as const);
        for (const key of order) {
          const r = await round(key === 'socket' ? socket : http, text);
          if (i < WARMUP_ROUNDS) continue;
          samples[key].push(...r.ms);
          errors[key] += r.errors;
        }
      }
      const row = { text, http: summarize(samples.http), socket: summarize(samples.socket), errors };
      opts.log(
        `  /rollback ${text}: socket p50 ${ms(row.socket.p50)} p99 ${ms(row.socket.p99)}; http p50 ${ms(row.http.p50)} p99 ${ms(row.http.p99)}`,
      );
      rows.push(row);
    }
    return { rows };
  } finally {
    await Promise.allSettled(bots.map((b) => stopProcess(b.child)));
    await world.close();
  }
}

export function renderSocketModeBench(bench: SocketModeBench | undefined, failure?: string): string {
  const lines = [
    MARK_START,
    '## Socket Mode: acknowledgement latency',
    '',
    `${CONCURRENCY} slash commands at once, ${ROUNDS} rounds (after ${WARMUP_ROUNDS} warm-up), alternating between one backout`,
    'process in Socket Mode (envelope sent → ack frame received, through the Socket Mode double) and one over HTTP',
    `(signed POST → response; the baseline). Target: Socket Mode p99 ≤ ${SOCKET_TARGET.p99Ratio}× HTTP's and under 3 s.`,
    '',
  ];
  if (!bench) {
    lines.push(`Not measured: ${failure ?? 'the phase did not run'}.`, MARK_END);
    return lines.join('\n');
  }
  lines.push(
    '| command | transport | p50 | p99 | max | errors | p99 vs HTTP | target |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of bench.rows) {
    const met = r.socket.p99 <= SOCKET_TARGET.p99Ratio * r.http.p99 && r.socket.p99 < SOCKET_TARGET.p99Ms;
    lines.push(
      `| \`/rollback ${r.text}\` | HTTP | ${ms(r.http.p50)} | ${ms(r.http.p99)} | ${ms(r.http.max)} | ${r.errors.http} | 1.00× | |`,
      `| | Socket Mode | ${ms(r.socket.p50)} | ${ms(r.socket.p99)} | ${ms(r.socket.max)} | ${r.errors.socket} | ${ratio(r.socket.p99, r.http.p99)} | ${met ? '✓' : '✗'} |`,
    );
  }
  lines.push(MARK_END);
  return lines.join('\n');
}

export function writeSocketModeSection(markdown: string): void {
  writeMarkedSection(markdown, MARK_START, MARK_END);
}
