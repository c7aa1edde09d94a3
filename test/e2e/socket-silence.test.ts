import { randomUUID } from 'node:crypto';
import { App } from '@slack/bolt';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { EnvelopeLedger } from '../../src/slack/envelope-ledger.js';
import { SocketModeLink } from '../../src/slack/socket-mode.js';
import { SlackDouble } from '../doubles/slack.js';
import { SocketModeDouble } from '../doubles/slack-socket-mode.js';
import { waitFor } from '../kit/wait.js';
import { deleteKeys } from '../kit/world.js';

/** A link that went dark without a close (a NAT forgot it) is noticed by Slack's missing pings, and replaced. */
describe('a silent Socket Mode connection', () => {
  let slack: SlackDouble;
  let socket: SocketModeDouble;
  let redis: Redis;
  let link: SocketModeLink;
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    slack = await SlackDouble.start();
    socket = await SocketModeDouble.start(slack, { pingIntervalMs: 100 });
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    link = new SocketModeLink({
      appToken: socket.appToken,
      apiUrl: slack.apiUrl,
      log: createLogger({ level: 'silent', secrets: [] }),
      ledger: new EnvelopeLedger(redis, prefix),
      silenceMs: 600,
    });
    const app = new App({ receiver: link, authorize: () => Promise.resolve({ botToken: 'xoxb-silence' }) });
    app.command('/ping', async ({ ack }) => {
      await ack('pong');
    });
    await app.start();
  });
  afterAll(async () => {
    await link.stop();
    await socket.stop();
    await slack.stop();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('is replaced by a new connection, and envelopes flow again', async () => {
    await waitFor(() => link.state() === true, { what: 'the link to connect' });
    const [first] = socket.live();
    const command = { command: '/ping', text: '', user_id: 'U1', channel_id: 'C1', team_id: 'T0000TEST' };
    expect((await socket.send('slash_commands', { ...command, trigger_id: 't1' })).payload).toEqual({
      text: 'pong',
    });
    socket.mute(first!.id);
    await waitFor(() => socket.live().length === 1 && socket.live()[0]!.id !== first!.id, {
      what: 'a new connection after the silence',
    });
    await waitFor(() => link.state() === true, { what: 'the link to be connected again' });
    expect((await socket.send('slash_commands', { ...command, trigger_id: 't2' })).payload).toEqual({
      text: 'pong',
    });
    expect(socket.connections().find((c) => c.id === first!.id)?.open).toBe(false);
  });
});
