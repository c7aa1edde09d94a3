import { openConnection } from '../slack/socket-mode.js';
import { fail, ok, unreachable, type CheckResult } from './check.js';

const TOKEN_FIX =
  'copy an App-Level Token (xapp-…) from the app\'s "Basic Information" → "App-Level Tokens" into SLACK_APP_TOKEN';

/**
 * Which way Slack reaches backout, and in Socket Mode whether the app-level token opens a
 * connection: `apps.connections.open` needs an `xapp-` token with `connections:write`. The URL it
 * hands out is never used, so the check opens no socket.
 */
export async function socketModeChecks(
  appToken: string | undefined,
  apiUrl = 'https://slack.com/api/',
): Promise<CheckResult[]> {
  if (!appToken) {
    return [
      ok(
        'slack',
        'mode',
        'HTTP: Slack posts signed requests to /slack/events (set SLACK_APP_TOKEN for Socket Mode)',
      ),
    ];
  }
  const mode = ok('slack', 'mode', 'Socket Mode (SLACK_APP_TOKEN is set): no public URL, nothing exposed');
  const base = apiUrl.replace(/\/?$/, '/');
  try {
    const answer = await openConnection(base, appToken);
    if (answer.ok)
      return [mode, ok('slack', 'app token', 'valid: apps.connections.open gave a Socket Mode URL')];
    const fix =
      answer.error === 'missing_scope'
        ? 'add the connections:write scope to the app-level token (or generate a new one with it) under "Basic Information" → "App-Level Tokens"'
        : answer.error === 'not_allowed_token_type'
          ? `SLACK_APP_TOKEN must be an app-level token, not a bot or user token: ${TOKEN_FIX}`
          : TOKEN_FIX;
    return [mode, fail('slack', 'app token', `Slack refused SLACK_APP_TOKEN (${answer.error})`, fix)];
  } catch (err) {
    const down = unreachable(
      err,
      base,
      'check network access to slack.com (or SLACK_API_URL), proxies and firewalls',
    );
    return [mode, fail('slack', 'app token', down.message, down.fix)];
  }
}
