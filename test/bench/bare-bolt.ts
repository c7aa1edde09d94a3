/**
 * The baseline for the acknowledgement benchmark: a bare Bolt app in HTTP mode that verifies the same
 * signed slash commands and only acknowledges them. Run as its own process by the bench (`fork`), on
 * `BENCH_PORT`, with the signing secret in `BENCH_SIGNING_SECRET`; it tells its parent when it listens.
 * Bolt's defaults otherwise: its one `auth.test` at construction goes to the Slack double
 * (`BENCH_SLACK_API_URL`).
 */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

const port = Number(process.env.BENCH_PORT);
const signingSecret = process.env.BENCH_SIGNING_SECRET ?? '';

// The same receiver settings as backout's own (src/slack/bolt.ts).
const receiver = new HTTPReceiver({
  signingSecret,
  endpoints: ['/slack/events'],
  processBeforeResponse: false,
  unhandledRequestTimeoutMillis: 3_001,
});
const app = new App({
  token: 'xoxb-bench-bare-bolt',
  receiver,
  clientOptions: { slackApiUrl: process.env.BENCH_SLACK_API_URL },
  logLevel: LogLevel.INFO,
});

app.command('/rollback', async ({ ack }) => {
  await ack();
});

await app.start(port);
process.send?.({ type: 'ready', port });
process.on('disconnect', () => process.exit(0));
process.once('SIGTERM', () => {
  app.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
