import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, verifySlackRequest } from '@slack/bolt';
import {
  ErrorCode,
  WebClient,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
} from '@slack/web-api';
import type { Logger } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackClient, findButton, newTriggerId, signSlackRequest } from '../kit/slack-signing.js';
import { waitFor } from '../kit/wait.js';
import { SlackDouble } from './slack.js';

const TOKEN = 'xoxb-test-token';
const SECRET = 'test-signing-secret';

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

let slack: SlackDouble;

function client(opts: { rejectRateLimitedCalls?: boolean; token?: string } = {}): WebClient {
  return new WebClient(opts.token ?? TOKEN, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: opts.rejectRateLimitedCalls ?? false,
    logger: silent,
  });
}

/** The platform error code of a rejected Web API call. */
async function platformError(call: Promise<unknown>): Promise<{ error: string; messages: string[] }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof WebAPIPlatformError) {
      return { error: String(err.data.error), messages: err.data.response_metadata?.messages ?? [] };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

const section = (text: string) => ({ type: 'section' as const, text: { type: 'mrkdwn' as const, text } });
const button = (actionId: string, text = 'Go', value = 'v') => ({
  type: 'button' as const,
  action_id: actionId,
  text: { type: 'plain_text' as const, text },
  value,
});

beforeEach(async () => {
  slack = await SlackDouble.start();
});

afterEach(async () => {
  await slack.stop();
});

describe('SlackDouble Web API', () => {
  it('answers auth.test with the bot identity and rejects bad tokens and unknown methods', async () => {
    const auth = await client().auth.test();
    expect(auth).toMatchObject({ ok: true, user_id: 'U0000BOT', bot_id: 'B0000BOT', team_id: 'T0000TEST' });
    expect(await platformError(client({ token: 'xoxp-user' }).auth.test())).toMatchObject({
      error: 'invalid_auth',
    });
    expect(await platformError(client().apiCall('chat.nonsense'))).toMatchObject({ error: 'unknown_method' });
    const noToken = await fetch(`${slack.apiUrl}auth.test`, { method: 'POST' });
    expect(noToken.status).toBe(200);
    expect(await noToken.json()).toEqual({ ok: false, error: 'invalid_auth' });
  });

  it('posts, threads and updates messages with increasing Slack-style ts', async () => {
    const web = client();
    const parent = await web.chat.postMessage({
      channel: 'C1',
      text: 'Rollback requested',
      blocks: [{ type: 'header', text: { type: 'plain_text', text: 'Rollback api' } }, section('by <@U1>')],
      metadata: { event_type: 'rollback', event_payload: { id: 'r1' } },
    });
    expect(parent.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(parent.channel).toBe('C1');
    const parentTs = parent.ts ?? '';
    const r1 = await web.chat.postMessage({ channel: 'C1', text: 'step 1 done', thread_ts: parentTs });
    const r2 = await web.chat.postMessage({ channel: 'C1', text: 'step 2 done', thread_ts: parentTs });
    expect(Number(r1.ts)).toBeGreaterThan(Number(parentTs));
    expect(Number(r2.ts)).toBeGreaterThan(Number(r1.ts));

    const call = slack.callsTo('chat.postMessage')[0];
    expect(call?.args.blocks).toHaveLength(2);
    expect(call?.args.metadata).toEqual({ event_type: 'rollback', event_payload: { id: 'r1' } });
    expect(call?.token).toBe(TOKEN);

    await web.chat.update({
      channel: 'C1',
      ts: parentTs,
      text: 'Rollback done',
      blocks: [section('*done*')],
    });
    const [stored] = slack.messages('C1');
    expect(stored).toMatchObject({ ts: parentTs, text: 'Rollback done', updates: 1 });
    expect(stored?.history.map((v) => v.text)).toEqual(['Rollback requested', 'Rollback done']);

    const replies = await web.conversations.replies({ channel: 'C1', ts: parentTs });
    expect(replies.messages?.map((m) => m.text)).toEqual(['Rollback done', 'step 1 done', 'step 2 done']);
    expect(replies.messages?.[0]).toMatchObject({ reply_count: 2, thread_ts: parentTs });
    expect(replies.messages?.[1]).toMatchObject({ thread_ts: parentTs, bot_id: 'B0000BOT' });

    expect(slack.thread('C1', parentTs).map((m) => m.ts)).toEqual([parentTs, r1.ts, r2.ts]);
    expect(slack.transcript('C1', parentTs)).toBe('*done*\n  - step 1 done\n  - step 2 done');

    const history = await web.conversations.history({ channel: 'C1' });
    expect(history.messages?.map((m) => m.ts)).toEqual([parentTs]);
  });

  it('follows chat.update rules: unknown ts, other authors, length, and blocks clearing', async () => {
    const web = client();
    const posted = await web.chat.postMessage({ channel: 'C1', text: 'hi', blocks: [section('hi')] });
    const ts = posted.ts ?? '';
    expect(await platformError(web.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' }))).toMatchObject({
      error: 'message_not_found',
    });
    const human = slack.addUserMessage({ channel: 'C1', user: 'U1', text: 'mine' });
    expect(await platformError(web.chat.update({ channel: 'C1', ts: human, text: 'x' }))).toMatchObject({
      error: 'cant_update_message',
    });
    expect(await platformError(web.chat.update({ channel: 'C1', ts, text: 'x'.repeat(4001) }))).toMatchObject(
      {
        error: 'msg_too_long',
      },
    );
    await web.chat.update({ channel: 'C1', ts, text: 'x'.repeat(4000) });
    expect(slack.message('C1', ts)?.blocks).toBeUndefined();
    const ephemeral = await web.chat.postEphemeral({ channel: 'C1', user: 'U1', text: 'only you' });
    expect(
      await platformError(web.chat.update({ channel: 'C1', ts: ephemeral.message_ts ?? '', text: 'x' })),
    ).toMatchObject({ error: 'message_not_found' });
    expect(slack.ephemerals('C1')).toMatchObject([{ user: 'U1', text: 'only you' }]);
    expect(slack.allCallsTo('chat.update')).toHaveLength(5);
    expect(slack.callsTo('chat.update')).toHaveLength(1);
  });

  it('rejects blocks Slack would reject, naming the problem', async () => {
    const web = client();
    const cases: { blocks: unknown[]; pointer: string }[] = [
      { blocks: Array.from({ length: 51 }, (_, i) => section(`b${i}`)), pointer: '/blocks' },
      { blocks: [section('x'.repeat(3001))], pointer: '/blocks/0/text/text' },
      {
        blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
        pointer: '/blocks/0/text',
      },
      {
        blocks: [{ type: 'actions', elements: [button('a', 't'.repeat(76))] }],
        pointer: '/blocks/0/elements/0/text',
      },
      {
        blocks: [{ type: 'actions', elements: [button('a', 'ok', 'v'.repeat(2001))] }],
        pointer: '/elements/0/value',
      },
      {
        blocks: [{ type: 'actions', elements: [button('a'.repeat(256))] }],
        pointer: '/elements/0/action_id',
      },
      { blocks: [{ ...section('x'), block_id: 'b'.repeat(256) }], pointer: '/blocks/0/block_id' },
      {
        blocks: [{ type: 'actions', elements: Array.from({ length: 26 }, (_, i) => button(`a${i}`)) }],
        pointer: '/blocks/0/elements',
      },
    ];
    for (const { blocks, pointer } of cases) {
      const { error, messages } = await platformError(
        web.chat.postMessage({ channel: 'C1', text: 'x', blocks: blocks as never }),
      );
      expect(error).toBe('invalid_blocks');
      expect(messages.join('\n')).toMatch(/^\[ERROR\] .+ \[json-pointer:\/blocks/);
      expect(messages.join('\n')).toContain(pointer);
    }
    expect(slack.messages()).toEqual([]);

    // Exactly at the limits is fine.
    await web.chat.postMessage({
      channel: 'C1',
      text: 'x',
      blocks: [
        ...Array.from({ length: 48 }, () => section('x'.repeat(3000))),
        { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(150) } },
        { type: 'actions', elements: Array.from({ length: 25 }, (_, i) => button(`a${i}`, 't'.repeat(75))) },
      ],
    });
    expect(slack.messages('C1')).toHaveLength(1);
  });

  it('answers not_in_channel for channels the bot has not joined', async () => {
    const web = client();
    slack.setBotChannels(['C1']);
    await web.chat.postMessage({ channel: 'C1', text: 'ok' });
    expect(await platformError(web.chat.postMessage({ channel: 'C2', text: 'no' }))).toMatchObject({
      error: 'not_in_channel',
    });
    const info = await web.conversations.info({ channel: 'C2' });
    expect(info.channel).toMatchObject({ id: 'C2', is_member: false, is_private: false });
    slack.setChannel('G9', { name: 'incident-9', isPrivate: true, members: ['U1'] });
    slack.setBotChannels('all');
    expect((await web.conversations.info({ channel: 'G9' })).channel).toMatchObject({
      name: 'incident-9',
      is_private: true,
      is_member: true,
    });
    expect((await web.conversations.members({ channel: 'G9' })).members).toEqual(['U1', 'U0000BOT']);
    expect(slack.messages().map((m) => m.channel)).toEqual(['C1']);
  });

  it('serves usergroups and users', async () => {
    const web = client();
    slack.setUsergroup('S1', ['U1', 'U2'], { handle: 'sre-oncall' });
    expect((await web.usergroups.users.list({ usergroup: 'S1' })).users).toEqual(['U1', 'U2']);
    expect(await platformError(web.usergroups.users.list({ usergroup: 'S404' }))).toMatchObject({
      error: 'no_such_subteam',
    });
    const list = await web.usergroups.list({ include_users: true });
    expect(list.usergroups).toMatchObject([{ id: 'S1', handle: 'sre-oncall', users: ['U1', 'U2'] }]);
    slack.setUser('U1', { name: 'ada', realName: 'Ada L' });
    expect((await web.users.info({ user: 'U1' })).user).toMatchObject({
      id: 'U1',
      name: 'ada',
      real_name: 'Ada L',
      profile: { real_name: 'Ada L', display_name: '' },
    });
    slack.setUser('U2', { name: 'grace', realName: 'Grace Hopper', displayName: 'grace.h' });
    expect((await web.users.info({ user: 'U2' })).user?.profile).toMatchObject({
      real_name: 'Grace Hopper',
      display_name: 'grace.h',
    });
  });

  it('reports granted scopes in x-oauth-scopes and enforces them', async () => {
    const web = client();
    slack.setScopes(['commands', 'chat:write']);
    const auth = await web.auth.test();
    expect(auth.response_metadata?.scopes).toEqual(['commands', 'chat:write']);
    expect(await platformError(web.usergroups.users.list({ usergroup: 'S1' }))).toMatchObject({
      error: 'missing_scope',
    });
  });

  it('records and validates views', async () => {
    const web = client();
    const view = {
      type: 'modal' as const,
      callback_id: 'rollback_reason',
      title: { type: 'plain_text' as const, text: 'Rollback' },
      blocks: [section('why?')],
    };
    const opened = await web.views.open({ trigger_id: '1.2.3', view });
    expect(opened.view?.id).toMatch(/^V/);
    await web.views.update({
      view_id: opened.view?.id ?? '',
      view: { ...view, blocks: [section('thanks')] },
    });
    expect(slack.views()).toMatchObject([{ id: opened.view?.id, openedBy: 'views.open', updates: 1 }]);
    const tooLong = await platformError(
      web.views.open({
        trigger_id: '1.2.3',
        view: { ...view, title: { type: 'plain_text', text: 't'.repeat(25) } },
      }),
    );
    expect(tooLong.error).toBe('invalid_arguments');
    expect(tooLong.messages[0]).toContain('/view/title/text');

    slack.setTriggerIdTtl(3000);
    await web.views.open({ trigger_id: newTriggerId(), view });
    const stale = `${Date.now() - 5000}.000001.0123456789abcdef`;
    expect(await platformError(web.views.open({ trigger_id: stale, view }))).toMatchObject({
      error: 'expired_trigger_id',
    });

    slack.reset();
    expect([slack.views(), slack.calls]).toEqual([[], []]);
  });

  it('accepts JSON bodies with a bearer token', async () => {
    const res = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        channel: 'C1',
        text: 'json',
        blocks: [section('json')],
        reply_broadcast: false,
      }),
    });
    expect(res.headers.get('x-oauth-scopes')).toContain('chat:write');
    expect(await res.json()).toMatchObject({ ok: true, channel: 'C1' });
    expect(slack.messages('C1')[0]?.blocks).toEqual([section('json')]);
  });
});

describe('SlackDouble faults', () => {
  it('rate-limits with 429 and Retry-After, posting nothing', async () => {
    slack.rateLimit({ methods: ['chat.postMessage'], retryAfterSec: 7 });
    const error: unknown = await client({ rejectRateLimitedCalls: true })
      .chat.postMessage({ channel: 'C1', text: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebAPIRateLimitedError);
    expect(error).toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 7 });
    expect(ErrorCode.RateLimitedError).toBe('slack_webapi_rate_limited_error');
    expect(slack.messages()).toEqual([]);
    expect(slack.allCallsTo('chat.postMessage')).toMatchObject([
      { status: 429, ok: false, fault: 'ratelimit' },
    ]);
    expect(slack.callsTo('chat.postMessage')).toEqual([]);

    // The fault was for one call: the next one goes through.
    await client().chat.postMessage({ channel: 'C1', text: 'x' });
    expect(slack.messages()).toHaveLength(1);
  });

  it("lets WebClient's own 429 handling wait and retry", async () => {
    slack.rateLimit({ methods: ['chat.update', 'chat.postMessage'], retryAfterSec: 0, count: 2 });
    const web = new WebClient(TOKEN, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 3, minTimeout: 0, maxTimeout: 1 },
      logger: silent,
    });
    const posted = await web.chat.postMessage({ channel: 'C1', text: 'eventually' });
    expect(posted.ok).toBe(true);
    expect(slack.allCallsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 429, 200]);
    expect(slack.messages()).toHaveLength(1);
  });

  it('answers injected HTTP errors and platform errors', async () => {
    const web = client();
    slack.failWith({ methods: ['chat.postMessage'], status: 500 });
    const error: unknown = await web.chat.postMessage({ channel: 'C1', text: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebAPIHTTPError);
    expect(error).toMatchObject({ statusCode: 500 });
    expect(slack.messages()).toEqual([]);

    slack.failWith({ status: 503, forMs: 60_000 });
    const during: unknown = await web.auth.test().catch((e: unknown) => e);
    expect(during).toMatchObject({ statusCode: 503 });
    slack.clearFaults();
    await web.auth.test();

    slack.platformError('chat.postMessage', 'is_archived');
    expect(await platformError(web.chat.postMessage({ channel: 'C1', text: 'x' }))).toMatchObject({
      error: 'is_archived',
    });
    expect(slack.allCallsTo('chat.postMessage').map((c) => c.fault)).toEqual(['http', 'platform']);
    expect(slack.messages()).toEqual([]);
  });
});

describe('SlackDouble response_url', () => {
  const post = (url: string, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('records posts and allows 5 uses', async () => {
    const url = slack.newResponseUrl();
    expect(url.startsWith(`${slack.baseUrl}/response/`)).toBe(true);
    for (let i = 1; i <= 5; i++) {
      const res = await post(url, { text: `update ${i}` });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok');
    }
    const sixth = await post(url, { text: 'update 6' });
    expect(sixth.status).toBe(404);
    expect(await sixth.text()).toBe('used_url');
    expect(slack.responses(url).map((r) => r.body.text)).toEqual([1, 2, 3, 4, 5].map((i) => `update ${i}`));
    expect(slack.allCallsTo('response_url').map((c) => c.status)).toEqual([200, 200, 200, 200, 200, 404]);
  });

  it('applies in_channel and replace_original, and can be faulted or expired', async () => {
    const posted = await client().chat.postMessage({ channel: 'C1', text: 'Approve?' });
    const url = slack.newResponseUrl({ channel: 'C1', messageTs: posted.ts ?? '', user: 'U1' });
    slack.failWith({ methods: ['response_url'], status: 502 });
    expect((await post(url, { text: 'lost' })).status).toBe(502);
    await post(url, { replace_original: true, text: 'Approved by <@U1>' });
    await post(url, { response_type: 'in_channel', text: 'Rolling back' });
    await post(url, { text: 'just for you' });
    expect(slack.messages('C1').map((m) => m.text)).toEqual(['Approved by <@U1>', 'Rolling back']);
    expect(slack.ephemerals('C1')).toMatchObject([{ user: 'U1', text: 'just for you', via: 'response_url' }]);
    slack.expireResponseUrl(url);
    const expired = await post(url, { text: 'late' });
    expect([expired.status, await expired.text()]).toEqual([404, 'expired_url']);
  });
});

describe('Slack request signing', () => {
  interface Captured {
    body: string;
    headers: IncomingHttpHeaders;
  }
  let receiver: Server;
  let captured: Captured[];
  let endpoint: string;

  beforeEach(async () => {
    captured = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"response_action":"clear"}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/slack/events`;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  /** The `index`-th request the receiver got, failing the test when it never arrived. */
  const received = (index: number): Captured => {
    const c = captured[index];
    if (!c) throw new Error(`request ${index} was not received`);
    return c;
  };

  const verify = (c: Captured, secret = SECRET) =>
    verifySlackRequest({
      signingSecret: secret,
      body: c.body,
      headers: {
        'x-slack-signature': String(c.headers['x-slack-signature']),
        'x-slack-request-timestamp': Number(c.headers['x-slack-request-timestamp']),
      },
    });

  it('signs the known Slack example', () => {
    // From Slack's request-verification guide.
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', body, 1531420618)).toEqual({
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'x-slack-request-timestamp': '1531420618',
    });
  });

  it('sends slash commands that verify, with every field Slack sends', async () => {
    const responseUrl = slack.newResponseUrl();
    const sc = new SlackClient({ url: endpoint, signingSecret: SECRET });
    const reply = await sc.command({
      command: '/rollback',
      text: 'api v1.2.3',
      user_id: 'U1',
      channel_id: 'C1',
      response_url: responseUrl,
    });
    expect(reply).toMatchObject({ status: 200, json: { response_action: 'clear' } });
    expect(reply.elapsedMs).toBeGreaterThanOrEqual(0);
    const [c] = captured;
    if (!c) throw new Error('nothing received');
    expect(c.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(() => verify(c)).not.toThrow();
    expect(() => verify(c, 'other-secret')).toThrow(/signature mismatch/);
    const form = Object.fromEntries(new URLSearchParams(c.body));
    expect(Object.keys(form)).toEqual(
      expect.arrayContaining([
        'command',
        'text',
        'response_url',
        'trigger_id',
        'user_id',
        'user_name',
        'team_id',
        'team_domain',
        'channel_id',
        'channel_name',
        'api_app_id',
        'token',
      ]),
    );
    expect(form).toMatchObject({
      command: '/rollback',
      text: 'api v1.2.3',
      response_url: responseUrl,
      team_id: 'T0000TEST',
    });

    await sc.command({ command: '/rollback', user_id: 'U1', channel_id: 'C1' }, { timestampSec: 1_000_000 });
    const stale = received(1);
    expect(() => verify(stale)).toThrow(/stale/);
    await sc.command({ command: '/rollback', user_id: 'U1', channel_id: 'C1' }, { signature: 'v0=00' });
    const forged = received(2);
    expect(() => verify(forged)).toThrow(/signature mismatch/);
    await sc.raw('a=b', 'application/x-www-form-urlencoded', { 'x-slack-request-timestamp': '1' });
    expect(captured[3]?.headers['x-slack-signature']).toBeUndefined();
  });

  it('clicks the buttons the bot posted, as verifiable block_actions', async () => {
    const posted = await client().chat.postMessage({
      channel: 'C1',
      text: 'Approve rollback?',
      blocks: [
        { ...section('Approve rollback?'), accessory: button('details', 'Details', 'd1') },
        {
          type: 'actions',
          block_id: 'approval',
          elements: [button('approve', 'Approve', 'req-1'), button('deny')],
        },
      ],
    });
    const blocks = slack.message('C1', posted.ts ?? '')?.blocks;
    const approve = findButton(blocks, 'approve');
    expect(approve).toMatchObject({
      actionId: 'approve',
      blockId: 'approval',
      value: 'req-1',
      text: 'Approve',
    });
    expect(findButton(blocks, 'details')).toMatchObject({ blockId: 'block-0', value: 'd1' });
    expect(() => findButton(blocks, 'missing')).toThrow(/details, approve, deny/);

    const sc = new SlackClient({
      url: endpoint,
      signingSecret: SECRET,
      newResponseUrl: () => slack.newResponseUrl(),
    });
    await sc.blockAction({ user: 'U2', channel: 'C1', messageTs: posted.ts ?? '', ...approve });
    const [c] = captured;
    if (!c) throw new Error('nothing received');
    expect(() => verify(c)).not.toThrow();
    const payload = JSON.parse(new URLSearchParams(c.body).get('payload') ?? '{}') as Record<string, unknown>;
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U2' },
      container: { type: 'message', message_ts: posted.ts, channel_id: 'C1', is_ephemeral: false },
      channel: { id: 'C1' },
      message: { ts: posted.ts },
      actions: [{ type: 'button', action_id: 'approve', block_id: 'approval', value: 'req-1' }],
    });
    expect(String(payload.response_url)).toMatch(/\/response\//);

    await sc.viewSubmission({
      user: 'U2',
      callbackId: 'rollback_reason',
      privateMetadata: '{"id":"r1"}',
      values: { reason: { text: { type: 'plain_text_input', value: 'bad deploy' } } },
    });
    const view = received(1);
    expect(() => verify(view)).not.toThrow();
    expect(JSON.parse(new URLSearchParams(view.body).get('payload') ?? '{}')).toMatchObject({
      type: 'view_submission',
      view: {
        callback_id: 'rollback_reason',
        private_metadata: '{"id":"r1"}',
        state: { values: { reason: {} } },
      },
    });
  });
});

describe('Bolt against the double', () => {
  it('runs a command, respond() and a button click end to end', async () => {
    const app = new App({
      token: TOKEN,
      signingSecret: SECRET,
      logger: silent,
      clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
    });
    app.command('/rollback', async ({ ack, respond, client: web, command }) => {
      await ack();
      await respond({ text: `Rolling back ${command.text}` });
      await web.chat.postMessage({
        channel: command.channel_id,
        text: 'Approve?',
        blocks: [
          section('Approve?'),
          { type: 'actions', block_id: 'ap', elements: [button('approve', 'Approve', 'r1')] },
        ],
      });
    });
    app.action('approve', async ({ ack, body, client: web }) => {
      await ack();
      if (body.type !== 'block_actions' || !body.channel || !body.message) return;
      await web.chat.update({ channel: body.channel.id, ts: body.message.ts, text: 'Approved', blocks: [] });
    });
    const server = (await app.start(0)) as Server;
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      const sc = new SlackClient({ url, signingSecret: SECRET });
      const responseUrl = slack.newResponseUrl({ channel: 'C1', user: 'U1' });
      const ack = await sc.command({
        command: '/rollback',
        text: 'api',
        user_id: 'U1',
        channel_id: 'C1',
        response_url: responseUrl,
      });
      expect(ack.status).toBe(200);
      await waitFor(() => slack.messages('C1')[0], { what: 'approval message' });
      expect(slack.responses(responseUrl).map((r) => r.body)).toEqual([{ text: 'Rolling back api' }]);

      const message = slack.messages('C1')[0];
      const approve = findButton(message?.blocks, 'approve');
      const click = await sc.blockAction({
        user: 'U2',
        channel: 'C1',
        messageTs: message?.ts ?? '',
        ...approve,
      });
      expect(click.status).toBe(200);
      await waitFor(() => slack.messages('C1')[0]?.text === 'Approved', { what: 'approved message' });

      const forged = await sc.command(
        { command: '/rollback', user_id: 'U1', channel_id: 'C1' },
        { secret: 'wrong' },
      );
      expect(forged.status).toBe(401);
      expect(slack.callsTo('auth.test').length).toBeGreaterThanOrEqual(1);
    } finally {
      await app.stop();
    }
  });
});
