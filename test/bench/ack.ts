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
  /** By target key, in the order the targets were given. */
  results: Map<string, AckResult>;
  /** backout rounds whose follow-up answers (response_url) did not all arrive before the next round. */
  unsettledRounds: number;
}

export interface AckFigures {
  concurrency: number;
  rounds: number;
  warmupRounds: number;
  targets: { key: string; label: string }[];
  series: AckSeries[];
}

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

export async function benchAck(opts: {
  world: World;
  loadgen: LoadGenerator;
  targets: AckTarget[];
  concurrency?: number;
  rounds?: number;
  warmupRounds?: number;
  log: (line: string) => void;
}): Promise<AckFigures> {
  const { world, loadgen, targets, concurrency = 200, rounds = 8, warmupRounds = 2 } = opts;
  const commands = [
    // Acknowledged at once; backout answers the history afterwards through response_url.
    { text: 'checkout-api history', followUp: true },
    // backout's acknowledgement itself carries the help (and which services this user may act on).
    { text: 'help', followUp: false },
  ];
  const series: AckSeries[] = [];
  for (const cmd of commands) {
    const samples = new Map(targets.map((t) => [t.key, [] as number[]]));
    const errors = new Map(targets.map((t) => [t.key, 0]));
    const authTests = new Map(targets.map((t) => [t.key, 0]));
    let unsettledRounds = 0;
    for (let round = 0; round < warmupRounds + rounds; round++) {
      const measured = round >= warmupRounds;
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const target of order) {
        const urls = Array.from({ length: concurrency }, () => world.slack.newResponseUrl());
        const forms = urls.map((u) => commandForm(cmd.text, u));
        const authBefore = world.slack.callsTo('auth.test').length;
        const { results } = await loadgen.round(target.url, SIGNING_SECRET, forms);
        if (measured) {
          authTests.set(
            target.key,
            authTests.get(target.key)! + world.slack.callsTo('auth.test').length - authBefore,
          );
          for (const r of results) {
            if (r.status === 200) samples.get(target.key)!.push(r.ms);
            else errors.set(target.key, errors.get(target.key)! + 1);
          }
        }
        if (target.answersLater && cmd.followUp) {
          // Let backout finish the work behind the acknowledgements before the next round.
          const wanted = new Set(urls);
          const settled = await waitFor(
            () => world.slack.responses().filter((r) => wanted.has(r.url)).length >= wanted.size,
            { timeoutMs: 15_000, intervalMs: 100, what: 'history answers' },
          ).catch(() => false);
          if (!settled) unsettledRounds += 1;
        }
        await pause(250);
      }
    }
    const results = new Map<string, AckResult>();
    for (const t of targets) {
      results.set(t.key, {
        latency: summarize(samples.get(t.key)!),
        errors: errors.get(t.key)!,
        authTestsPerRequest: authTests.get(t.key)! / (rounds * concurrency),
      });
    }
    opts.log(
      `  /rollback ${cmd.text}: ${targets
        .map((t) => {
          const l = results.get(t.key)!.latency;
          return `${t.key} p50 ${l.p50.toFixed(1)} p99 ${l.p99.toFixed(1)} ms`;
        })
        .join('; ')}`,
    );
    series.push({ text: cmd.text, results, unsettledRounds });
  }
  return {
    concurrency,
    rounds,
    warmupRounds,
    targets: targets.map(({ key, label }) => ({ key, label })),
    series,
  };
}
