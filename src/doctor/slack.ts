import { WebAPIPlatformError, type WebClient } from '@slack/web-api';
import type { Config } from '../config/model.js';
import { fail, messageOf, ok, unreachable, warn, withTimeout, type CheckResult } from './check.js';

const TIMEOUT_MS = 8_000;

/** What each scope of manifest.yml is for, so that a missing one says what stops working. */
const SCOPE_USE: Record<string, string> = {
  commands: 'slash commands',
  'chat:write': 'cards, thread replies and edits',
  'chat:write.public': 'posting in public channels the bot has not joined',
  'usergroups:read': 'approvers and requesters given as user groups',
  'channels:read': 'checking channel membership (public channels)',
  'groups:read': 'checking channel membership (private channels)',
  'channels:history':
    'exactly-once delivery in public channels: after a timeout or crash, looking a post up by its key instead of posting it twice',
  'groups:history':
    'exactly-once delivery in private channels: after a timeout or crash, looking a post up by its key instead of posting it twice',
};

/**
 * Slack: the bot token (`auth.test`), the granted scopes against the manifest's (the
 * `x-oauth-scopes` header Slack sends back), and the bot's membership of every channel
 * the config names (`conversations.info`).
 */
export async function slackChecks(
  client: WebClient,
  config: Config | undefined,
  manifestScopes: string[] | Error,
  /** Where the Web API is (SLACK_API_URL), for messages. */
  apiUrl = 'https://slack.com/api/',
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let auth;
  try {
    auth = await withTimeout(client.auth.test(), TIMEOUT_MS, 'Slack auth.test');
  } catch (err) {
    const code = platformError(err);
    const down = unreachable(
      err,
      apiUrl,
      'check network access to slack.com (or SLACK_API_URL), proxies and firewalls',
    );
    out.push(
      code
        ? fail(
            'slack',
            'token',
            `Slack refused SLACK_BOT_TOKEN (${code})`,
            code === 'missing_scope'
              ? 'reinstall the app from manifest.yml so the token carries its scopes'
              : 'copy the Bot User OAuth Token (xoxb-…) from the app\'s "OAuth & Permissions" page into SLACK_BOT_TOKEN; reinstall the app to the workspace if the token was revoked',
          )
        : fail('slack', 'token', down.message, down.fix),
    );
    return out;
  }
  const botName = auth.user ?? 'backout';
  out.push(
    ok(
      'slack',
      'token',
      `valid: bot @${botName} (${auth.user_id ?? '?'}) in team ${auth.team ?? auth.team_id ?? '?'}`,
    ),
  );

  const granted = auth.response_metadata?.scopes;
  if (manifestScopes instanceof Error) {
    out.push(
      warn(
        'slack',
        'scopes',
        `cannot read the manifest: ${manifestScopes.message}`,
        'reinstall backout so manifest.yml ships with it',
      ),
    );
  } else if (!granted) {
    out.push(
      warn(
        'slack',
        'scopes',
        'Slack did not say which scopes the token has (no x-oauth-scopes header)',
        `compare the app's Bot Token Scopes with manifest.yml: ${manifestScopes.join(', ')}`,
      ),
    );
  } else {
    const missing = manifestScopes.filter((s) => !granted.includes(s));
    out.push(
      missing.length === 0
        ? ok('slack', 'scopes', `all ${manifestScopes.length} scopes of manifest.yml granted`)
        : fail(
            'slack',
            'scopes',
            `missing ${missing.join(', ')} (needed for: ${missing.map((s) => `${s} — ${SCOPE_USE[s] ?? 'see manifest.yml'}`).join('; ')}; granted: ${granted.join(', ') || 'none'})`,
            `add ${missing.join(', ')} under "OAuth & Permissions" → Bot Token Scopes (or update the app from manifest.yml), then reinstall the app to the workspace`,
          ),
    );
  }

  if (!config) return out;
  const channels = channelUses(config);
  const results = await Promise.all(
    [...channels].map(([id, uses]) =>
      channelCheck(client, id, uses.join(', '), botName, (granted ?? []).includes('chat:write.public')),
    ),
  );
  out.push(...results);
  return out;
}

async function channelCheck(
  client: WebClient,
  id: string,
  uses: string,
  botName: string,
  /** chat:write.public is granted: the bot may post in public channels it has not joined. */
  postsPublic: boolean,
): Promise<CheckResult> {
  const name = `channel ${id}`;
  try {
    const info = await withTimeout(
      client.conversations.info({ channel: id }),
      TIMEOUT_MS,
      'Slack conversations.info',
    );
    const label = info.channel?.name ? `#${info.channel.name}` : id;
    if (info.channel?.is_archived) {
      return fail(
        'slack',
        name,
        `${label} (${uses}) is archived`,
        `unarchive it, or name another channel in the config`,
      );
    }
    if (info.channel?.is_member) return ok('slack', name, `the bot is a member of ${label} (${uses})`);
    // As manifest.yml promises: with chat:write.public a public channel needs no invitation.
    if (postsPublic && info.channel?.is_private !== true) {
      return ok(
        'slack',
        name,
        `${label} (${uses}) is public and the token has chat:write.public: the bot posts there without joining`,
      );
    }
    return fail(
      'slack',
      name,
      `the bot is not a member of ${label} (${uses}), so it cannot post cards or thread replies there`,
      `in ${label}, type /invite @${botName}`,
    );
  } catch (err) {
    const code = platformError(err);
    if (code === 'channel_not_found') {
      return fail(
        'slack',
        name,
        `Slack does not know ${id} (${uses}): it does not exist, or it is private and the bot is not in it`,
        `check the channel id in the config (channel details → bottom of the "About" tab); for a private channel, /invite @${botName} there`,
      );
    }
    if (code === 'missing_scope') {
      return fail(
        'slack',
        name,
        `cannot look ${id} up: the token lacks channels:read / groups:read`,
        'add the scopes from manifest.yml and reinstall the app',
      );
    }
    return fail(
      'slack',
      name,
      `cannot look ${id} up: ${code ?? messageOf(err)}`,
      "run doctor again; check Slack's status page if it persists",
    );
  }
}

/** Every channel the config names, with where it is used. */
function channelUses(config: Config): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  const add = (id: string, use: string) => uses.set(id, [...(uses.get(id) ?? []), use]);
  if (config.incidentChannel) add(config.incidentChannel, 'slack.incidentChannel');
  for (const service of config.services.values()) {
    for (const env of service.environments.values()) {
      if (env.channel) add(env.channel, `${service.name}/${env.name}`);
    }
  }
  return new Map([...uses].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function platformError(err: unknown): string | undefined {
  return err instanceof WebAPIPlatformError ? err.data.error : undefined;
}
