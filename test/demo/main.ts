/**
 * `npm run demo`: the real backout against local stand-ins for Slack, Kubernetes,
 * GitHub and Prometheus, on your Redis. It plays an incident and prints the Slack
 * thread as a transcript. Nothing outside this machine is contacted.
 */
// First, before any library: on a Node too old for them, one line that says how to get one.
import '../../src/node-guard.js';
import { Redis } from 'ioredis';
import { ALERT_ENV, alertConfigYaml, playAlertScene } from './scene-alert.js';
import { playCanaryScene } from './scene-canary.js';
import { mitigateConfigYaml, playMitigateScene, seedMitigateScene } from './scene-mitigate.js';
import { playRetractScene } from './scene-retract.js';
import { playRollbackScene } from './scene-rollback.js';
import { canaryConfigYaml } from '../e2e/canary-kit.js';
import { LaunchDarklyDouble } from '../doubles/launchdarkly.js';
import { createWorld, PEOPLE, type RunningApp, type Transport, type World } from '../kit/world.js';
import { waitFor } from '../kit/wait.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const LD_TOKEN = 'api-0000-backout-demo-token';
/** `npm run demo -- --socket-mode`: Slack reaches the bot over a Socket Mode WebSocket instead of signed POSTs. */
const transport: Transport = process.argv.includes('--socket-mode') ? 'socket' : 'http';

async function redisAnswers(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export const NAMES: Record<string, string> = {
  [PEOPLE.requester]: 'alice (on call)',
  [PEOPLE.sre1]: 'bob (SRE)',
  [PEOPLE.sre2]: 'carol (SRE)',
  [PEOPLE.oncall]: 'dave',
  [PEOPLE.stranger]: 'erin (intern)',
  [PEOPLE.oncallGroup]: 'oncall',
  [PEOPLE.incident]: 'incidents',
  [PEOPLE.checkout]: 'checkout',
  C0WEB: 'web',
};

async function main(): Promise<number> {
  if (!(await redisAnswers())) {
    process.stderr.write(
      [
        `The demo needs Redis, and nothing answers at ${REDIS_URL}.`,
        'Start one, then run `npm run demo` again:',
        '  - Debian/Ubuntu:  sudo apt-get install -y redis-server && redis-server --daemonize yes',
        '  - macOS:          brew install redis && brew services start redis',
        '  - Docker:         docker run -d -p 6379:6379 redis:7',
        'Or point REDIS_URL at one (e.g. REDIS_URL=redis://127.0.0.1:6380 npm run demo).',
        '',
      ].join('\n'),
    );
    return 1;
  }
  process.stdout.write(
    `backout demo — the real bot, local stand-ins for Slack, Kubernetes, GitHub and Prometheus${
      transport === 'socket' ? '; Slack talks to it over Socket Mode (no public URL)' : ''
    }.\n\n`,
  );
  // The opening: an alert proposes the rollback before anyone types a command.
  await scene(() => createWorld({ config: alertConfigYaml }), playAlertScene, ALERT_ENV);
  // Scenes 1 and 2 are one incident: one world, one bot, one thread of events.
  await scene(
    () => createWorld({ transport }),
    async (world, bot, names) => {
      await playRollbackScene(world, bot, names);
      await playRetractScene(world, bot, names);
    },
  );
  // Scene 3 is another incident: its own world, with LaunchDarkly (a local stand-in) holding the kill switch.
  const ld = await LaunchDarklyDouble.start({ token: LD_TOKEN });
  try {
    await scene(
      () => createWorld({ transport, config: mitigateConfigYaml }),
      (world, bot, names) => playMitigateScene(world, bot, names, ld),
      { LAUNCHDARKLY_API_URL: ld.baseUrl, LAUNCHDARKLY_API_TOKEN: LD_TOKEN },
      (world) => seedMitigateScene(world, ld),
    );
  } finally {
    await ld.stop();
  }
  await scene(
    () => createWorld({ transport, config: canaryConfigYaml({ dwell: '1s', interval: '300ms' }) }),
    playCanaryScene,
  );
  process.stdout.write(
    'That was the real backout: its Slack surface, queues, jobs and audit log, on your Redis.\n',
  );
  return 0;
}

/** Each scene gets its own world (doubles, config, Redis prefix) and its own bot. */
async function scene(
  make: () => Promise<World>,
  play: (world: World, bot: RunningApp, names: Record<string, string>) => Promise<void>,
  env: Record<string, string> = {},
  seed: (world: World) => void = () => undefined,
): Promise<void> {
  const world = await make();
  try {
    // People as Slack shows them (the GitHub banner names them by display name).
    for (const [id, label] of Object.entries(NAMES)) {
      if (/^U/.test(id)) world.slack.setUser(id, { displayName: label.split(' ')[0]!, realName: label });
    }
    seed(world);
    const bot = await world.start({ REDIS_URL, LOG_LEVEL: 'warn', ...env });
    // A fresh bot takes commands once its first Redis probe has answered (on a busy machine, not at once).
    await waitFor(() => bot.app.readiness().ready, { what: 'backout to be ready', timeoutMs: 30_000 });
    try {
      await play(world, bot, NAMES);
    } catch (err) {
      process.stderr.write(`\nbackout's log:\n${bot.logs.join('')}\n`);
      throw err;
    }
  } finally {
    await world.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
