/**
 * Figure 1: how fast a slash command is acknowledged when 200 arrive at once, against a bare Bolt
 * app acknowledging the same signed requests. Every implementation is driven by the same load
 * generator process; rounds rotate between them so that drift on the machine hits all alike.
 */
import { newTriggerId } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { PEOPLE, SIGNING_SECRET, type World } from '../kit/world.js';
import type { LoadGenerator } from './procs.js';
import { summarize, type Summary } from './stats.js';

export interface AckTarget {
  key: string;
  label: string;
  url: string;
  /** backout: wait for its answers through response_url after each round. */
  answersLater?: boolean;
}

export interface AckResult {
  latency: Summary;
  /** Non-200 answers and transport errors. */
  errors: number;
  /** Slack `auth.test` calls per measured request, made while the requests were being acknowledged. */
  authTestsPerRequest: number;
}

export interface AckSeries {
  /** The command text sent. */
  text: string;
  /** Requests in flight at once (1: one after another). */
  concurrency: number;
  /** By target key, in the order the targets were given. */
  results: Map<string, AckResult>;
  /** backout rounds whose follow-up answers (response_url) did not all arrive before the next round. */
  unsettledRounds: number;
}

export interface AckLevel {
  concurrency: number;
  rounds: number;
  warmupRounds: number;
  /** Requests per round: `concurrency`, or for 1, that many sent one after another. */
  perRound: number;
}

export interface AckFigures {
  levels: AckLevel[];
  targets: { key: string; label: string }[];
  series: AckSeries[];
}

/** The commands measured: a read answered later, the help, and one that files a request. */
export const ACK_COMMANDS = [
  // Acknowledged at once; backout answers the history afterwards through response_url.
  { text: 'checkout-api history', followUp: true },
  // The acknowledgement carries the help itself (usage, examples, the services this user may act on).
  { text: 'help', followUp: false },
  // Files a rollback that needs approval: planned, locked and carded after the acknowledgement
  // (after the first, the pending request makes the rest answer "already requested").
  { text: 'checkout-api --reason bench', followUp: true },
] as const;

export const ACK_LEVELS: AckLevel[] = [
  { concurrency: 1, rounds: 1, warmupRounds: 1, perRound: 100 },
  { concurrency: 50, rounds: 8, warmupRounds: 2, perRound: 50 },
  { concurrency: 200, rounds: 6, warmupRounds: 2, perRound: 200 },
];

function commandForm(text: string, responseUrl: string): Record<string, string> {
  return {
    token: 'verification-token-unused',
    team_id: 'T0000TEST',
    team_domain: 'backout-test',
    channel_id: PEOPLE.checkout,
    channel_name: 'checkout',
    user_id: PEOPLE.requester,
    user_name: 'requester',
    command: '/rollback',
    text,
    api_app_id: 'A0000APP',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: newTriggerId(),
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * At concurrency 1, every target is left idle this long before each request. backout's requests
 * otherwise follow a wait for the follow-up answer while the baselines' run back to back on a hot
 * process, which measures the idle gap, not the acknowledgement.
 */
export const IDLE_GAP_MS = 20;

/**
 * Between two targets' rounds at 50 and 200: every target starts its round from a quiet process
 * (backout's answers through response_url have all come by then).
 */
const ROUND_GAP_MS = 150;

/** One target's answers in a round, and the `auth.test` calls made while it was being sent. */
interface RoundResult {
  results: { ms: number; status: number }[];
  authTests: number;
  /** False when backout's follow-up answers of the round did not all come before the next one. */
  settled: boolean;
}

/**
 * Concurrency 1: the targets take turns request by request (the order rotating each time), so a
 * spell of noise on the machine hits them alike. Each request is sent once the one before it was
 * answered, and (for backout, for a command answered later) once its follow-up through
 * response_url has come, so no request meets another's work; then IDLE_GAP_MS for every target alike.
 */
async function oneAtATime(
  loadgen: LoadGenerator,
  targets: AckTarget[],
  text: string,
  count: number,
  world: World,
  followUp: boolean,
): Promise<Map<string, RoundResult>> {
  const out = new Map<string, RoundResult>(
    targets.map((t) => [t.key, { results: [], authTests: 0, settled: true }]),
  );
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < targets.length; k++) {
      const target = targets[(i + k) % targets.length]!;
      const url = world.slack.newResponseUrl();
      const authBefore = world.slack.callsTo('auth.test').length;
      const { results } = await loadgen.round(target.url, SIGNING_SECRET, [commandForm(text, url)]);
      const mine = out.get(target.key)!;
      mine.results.push(...results);
      if (target.answersLater && followUp) {
        await waitFor(() => world.slack.responses().some((r) => r.url === url), {
          timeoutMs: 5_000,
          intervalMs: 5,
          what: 'the follow-up answer',
        }).catch(() => false);
      }
      mine.authTests += world.slack.callsTo('auth.test').length - authBefore;
      await pause(IDLE_GAP_MS);
    }
  }
  return out;
}

/** Concurrency above 1: each target in turn gets the round's requests all at once (the order rotating each round). */
async function allAtOnce(
  loadgen: LoadGenerator,
  targets: AckTarget[],
  text: string,
  level: AckLevel,
  round: number,
  world: World,
  followUp: boolean,
): Promise<Map<string, RoundResult>> {
  const out = new Map<string, RoundResult>();
  const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
  for (const target of order) {
    const urls = Array.from({ length: level.perRound }, () => world.slack.newResponseUrl());
    const forms = urls.map((u) => commandForm(text, u));
    const authBefore = world.slack.callsTo('auth.test').length;
    const { results } = await loadgen.round(target.url, SIGNING_SECRET, forms);
    const authTests = world.slack.callsTo('auth.test').length - authBefore;
    // Let backout finish the work behind the acknowledgements before the next round.
    const wanted = new Set(urls);
    const settled =
      !(target.answersLater && followUp) ||
      (await waitFor(() => world.slack.responses().filter((r) => wanted.has(r.url)).length >= wanted.size, {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: 'follow-up answers',
      }).catch(() => false));
    out.set(target.key, { results, authTests, settled });
    await pause(ROUND_GAP_MS);
  }
  return out;
}

export async function benchAck(opts: {
  world: World;
  loadgen: LoadGenerator;
  targets: AckTarget[];
  levels?: AckLevel[];
  log: (line: string) => void;
}): Promise<AckFigures> {
  const { world, loadgen, targets, levels = ACK_LEVELS } = opts;
  const series: AckSeries[] = [];
  for (const level of levels) {
    for (const cmd of ACK_COMMANDS) {
      const samples = new Map(targets.map((t) => [t.key, [] as number[]]));
      const errors = new Map(targets.map((t) => [t.key, 0]));
      const authTests = new Map(targets.map((t) => [t.key, 0]));
      let unsettledRounds = 0;
      for (let round = 0; round < level.warmupRounds + level.rounds; round++) {
        const byTarget =
          level.concurrency === 1
            ? await oneAtATime(loadgen, targets, cmd.text, level.perRound, world, cmd.followUp)
            : await allAtOnce(loadgen, targets, cmd.text, level, round, world, cmd.followUp);
        for (const { settled } of byTarget.values()) if (!settled) unsettledRounds += 1;
        if (round < level.warmupRounds) continue;
        for (const [key, { results, authTests: calls }] of byTarget) {
          authTests.set(key, authTests.get(key)! + calls);
          for (const r of results) {
            if (r.status === 200) samples.get(key)!.push(r.ms);
            else errors.set(key, errors.get(key)! + 1);
          }
        }
      }
      const results = new Map<string, AckResult>();
      for (const t of targets) {
        results.set(t.key, {
          latency: summarize(samples.get(t.key)!),
          errors: errors.get(t.key)!,
          authTestsPerRequest: authTests.get(t.key)! / (level.rounds * level.perRound),
        });
      }
      opts.log(
        `  ${level.concurrency}× /rollback ${cmd.text}: ${targets
          .map((t) => {
            const l = results.get(t.key)!.latency;
            return `${t.key} p50 ${l.p50.toFixed(1)} p99 ${l.p99.toFixed(1)} ms`;
          })
          .join('; ')}`,
      );
      series.push({ text: cmd.text, concurrency: level.concurrency, results, unsettledRounds });
    }
  }
  return { levels, targets: targets.map(({ key, label }) => ({ key, label })), series };
}
