import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCommand } from '../../src/cli/run.js';
import { socketModeChecks } from '../../src/doctor/socket-mode.js';
import { captureIo } from '../cli/kit.js';
import { createWorld, type World } from '../kit/world.js';

describe('backout doctor in Socket Mode', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ transport: 'socket' });
  });
  afterAll(async () => {
    await world.close();
  });

  it('says which mode is active and that the app token opens a connection', async () => {
    const cap = captureIo({ ...world.rawEnv });
    await runCliCommand(['doctor'], cap.io);
    expect(cap.stdout()).toMatch(/✓ slack +mode: Socket Mode \(SLACK_APP_TOKEN is set\)/);
    expect(cap.stdout()).toMatch(/✓ slack +app token: valid: apps\.connections\.open gave a Socket Mode URL/);
    // Nothing was connected: the URL was asked for, never used.
    expect(world.socket!.connections()).toHaveLength(0);

    const http = await socketModeChecks(undefined, world.slack.apiUrl);
    expect(http.map((c) => `${c.status} ${c.message}`)).toEqual([
      'ok HTTP: Slack posts signed requests to /slack/events (set SLACK_APP_TOKEN for Socket Mode)',
    ]);
  });

  it('names a wrong token, a bot token and a missing connections:write, each with its fix', async () => {
    const line = async (token: string) => {
      const c = (await socketModeChecks(token, world.slack.apiUrl)).find((r) => r.name === 'app token')!;
      return `${c.status}: ${c.message} — fix: ${c.fix ?? ''}`;
    };
    expect(await line('xapp-1-A0000APP-1-wrong')).toMatch(
      /^fail: Slack refused SLACK_APP_TOKEN \(invalid_auth\) — fix: .*App-Level Tokens/,
    );
    expect(await line('xoxb-a-bot-token')).toMatch(
      /^fail: Slack refused SLACK_APP_TOKEN \(not_allowed_token_type\) — fix: .*not a bot or user token/,
    );
    world.socket!.setScopes([]);
    expect(await line(world.socket!.appToken)).toMatch(
      /^fail: Slack refused SLACK_APP_TOKEN \(missing_scope\) — fix: add the connections:write scope/,
    );
    world.socket!.setScopes(['connections:write']);
    const [, down] = await socketModeChecks(world.socket!.appToken, 'http://127.0.0.1:9/api/');
    expect(down?.status).toBe('fail');
    expect(down?.message).toContain('cannot reach http://127.0.0.1:9/api/');
  });
});
