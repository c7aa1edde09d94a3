/**
 * A local stand-in for Slack's Web API and response_url endpoints.
 *
 * It is a real HTTP server, so @slack/web-api's WebClient (with `slackApiUrl` set to `apiUrl`) and Bolt's
 * `respond()` talk to it over the wire exactly as they would talk to Slack: form-urlencoded or JSON bodies,
 * `Authorization: Bearer` tokens, HTTP 200 `{ok:false,error}` platform errors, 429 + Retry-After, and the
 * `x-oauth-scopes` header. It enforces the Block Kit and message limits Slack enforces, so a test that passes
 * here proves the bot never sends Slack something Slack would reject.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackDoubleOptions {
  botUserId?: string;
  botId?: string;
  teamId?: string;
  /** Granted bot scopes, reflected in `x-oauth-scopes` and enforced per method. */
  scopes?: string[];
  /** The only token accepted. Default: any token starting with `xoxb-`. */
  token?: string;
  appId?: string;
  teamDomain?: string;
}

export interface SlackCall {
  /** Web API method name, or `response_url` for a POST to a response_url. */
  method: string;
  /** Parsed arguments (JSON-valued fields such as `blocks` decoded; `token` removed). */
  args: Record<string, unknown>;
  token?: string;
  /** HTTP status returned. */
  status: number;
  /** True only for an HTTP 200 `{ok:true}` answer. */
  ok: boolean;
  error?: string;
  /** Set when the answer came from injected fault rather than from the method. */
  fault?: 'ratelimit' | 'http' | 'platform';
  /** For `response_url` calls: the URL posted to. */
  url?: string;
  at: number;
}

export interface SlackMessageVersion {
  text: string;
  blocks?: unknown[];
}

export interface SlackMessage {
  channel: string;
  ts: string;
  /** Only for thread replies: the parent's ts. */
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  metadata?: unknown;
  /** Author: the bot's user id for messages the bot posted. */
  user: string;
  bot_id?: string;
  reply_broadcast?: boolean;
  /** Number of successful edits (chat.update or response_url replace_original). */
  updates: number;
  /** Every version of the message in order: the original first, the current one last. */
  history: SlackMessageVersion[];
}

export interface SlackEphemeral {
  channel: string;
  user: string;
  message_ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  /** `chat.postEphemeral` or `response_url`. */
  via: string;
  at: number;
}

export interface SlackResponse {
  url: string;
  body: Record<string, unknown>;
  at: number;
}

export interface SlackView {
  id: string;
  /** The method that created it: `views.open` or `views.push`. */
  openedBy: string;
  trigger_id: string;
  external_id?: string;
  hash: string;
  /** The view as last sent by the bot. */
  view: Record<string, unknown>;
  updates: number;
}

export interface ChannelOptions {
  name?: string;
  isPrivate?: boolean;
  /** Human members (the bot's own membership comes from `setBotChannels`). */
  members?: string[];
}

export interface UserOptions {
  name?: string;
  realName?: string;
  /** `profile.display_name`: empty unless set, as in Slack (people often leave it blank). */
  displayName?: string;
  isBot?: boolean;
  deleted?: boolean;
  tz?: string;
  /** A multi-channel guest (`is_restricted`). */
  restricted?: boolean;
  /** A single-channel guest (`is_ultra_restricted`, which Slack sets with `is_restricted`). */
  ultraRestricted?: boolean;
  /** The user's home workspace when it is not this one (a Slack Connect user). */
  teamId?: string;
  /** Slack marks some external users it shares no channel context for as strangers. */
  stranger?: boolean;
}

export interface FaultWindow {
  /** Web API methods the fault applies to (`response_url` for response_url POSTs). Default: every Web API method. */
  methods?: string[];
  /** How many matching calls to fault. Default: unlimited when `forMs` is given, else 1. */
  count?: number;
  /** Fault matching calls for this long from now. */
  forMs?: number;
}

const DEFAULT_SCOPES = [
  'commands',
  'chat:write',
  'chat:write.public',
  'usergroups:read',
  'channels:read',
  'groups:read',
  'channels:history',
  'groups:history',
  'users:read',
];

const RESPONSE_URL_MAX_USES = 5;
const UPDATE_TEXT_LIMIT = 4000;
const POST_TEXT_LIMIT = 40_000;

/** Arguments that WebClient JSON-encodes when sending form-urlencoded bodies. */
const JSON_ARGS = new Set(['blocks', 'attachments', 'metadata', 'view', 'unfurls', 'user_auth_blocks']);
const BOOL_ARGS = new Set([
  'reply_broadcast',
  'unfurl_links',
  'unfurl_media',
  'mrkdwn',
  'as_user',
  'link_names',
  'include_all_metadata',
  'include_users',
  'include_disabled',
  'include_count',
  'include_locale',
  'include_num_members',
  'inclusive',
]);

interface Fault {
  kind: 'ratelimit' | 'http' | 'platform';
  methods?: string[];
  remaining: number;
  until: number;
  retryAfterSec?: number;
  status?: number;
  error?: string;
  /** Only calls whose arguments match. */
  when?: (args: Args) => boolean;
}

interface Latency {
  methods?: string[];
  remaining: number;
  ms: number;
  /** `after`: Slack works on the call only after the wait (a slow backend); `before`: it acts at once and answers late. */
  acts: 'before' | 'after';
  /** Only calls whose arguments match. */
  when?: (args: Args) => boolean;
}

interface ChannelState {
  id: string;
  name: string;
  isPrivate: boolean;
  members: string[] | undefined;
}

interface ResponseUrlState {
  url: string;
  uses: number;
  expired: boolean;
  channel?: string;
  messageTs?: string;
  user?: string;
}

interface MethodResult {
  body: Record<string, unknown>;
}

type Args = Record<string, unknown>;
type Handler = (args: Args) => MethodResult;

class SlackMethodError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

function fail(error: string, messages?: string[]): never {
  throw new SlackMethodError(error, messages ? { response_metadata: { messages } } : {});
}

export class SlackDouble {
  readonly calls: SlackCall[] = [];
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly appId: string;
  readonly teamDomain: string;

  private server!: Server;
  private port = 0;
  private scopes: string[];
  private readonly validToken: string | undefined;
  private botChannels: 'all' | Set<string> = 'all';
  private readonly channels = new Map<string, ChannelState>();
  private readonly usergroups = new Map<string, { users: string[]; handle: string; name: string }>();
  private readonly users = new Map<string, UserOptions>();
  private readonly store = new Map<string, SlackMessage>();
  private readonly ephemeralList: SlackEphemeral[] = [];
  private readonly responseList: SlackResponse[] = [];
  private readonly responseUrls = new Map<string, ResponseUrlState>();
  private readonly viewStore = new Map<string, SlackView>();
  private faults: Fault[] = [];
  private latencies: Latency[] = [];
  private lastMicros = 0;
  private idCounter = 0;
  private triggerTtlMs: number | undefined;
  private readonly handlers: Record<string, Handler>;
  private readonly routes = new Map<string, (token: string | undefined) => Record<string, unknown>>();

  private constructor(opts: SlackDoubleOptions) {
    this.botUserId = opts.botUserId ?? 'U0000BOT';
    this.botId = opts.botId ?? 'B0000BOT';
    this.teamId = opts.teamId ?? 'T0000TEST';
    this.appId = opts.appId ?? 'A0000APP';
    this.teamDomain = opts.teamDomain ?? 'backout-test';
    this.scopes = [...(opts.scopes ?? DEFAULT_SCOPES)];
    this.validToken = opts.token;
    this.handlers = {
      'auth.test': () => this.authTest(),
      'chat.postMessage': (a) => this.postMessage(a),
      'chat.update': (a) => this.update(a),
      'chat.postEphemeral': (a) => this.postEphemeral(a),
      'chat.delete': (a) => this.deleteMessage(a),
      'views.open': (a) => this.openView(a, 'views.open'),
      'views.push': (a) => this.openView(a, 'views.push'),
      'views.update': (a) => this.updateView(a),
      'usergroups.list': (a) => this.usergroupsList(a),
      'usergroups.users.list': (a) => this.usergroupUsers(a),
      'conversations.info': (a) => this.conversationInfo(a),
      'conversations.members': (a) => this.conversationMembers(a),
      'conversations.replies': (a) => this.conversationReplies(a),
      'conversations.history': (a) => this.conversationHistory(a),
      'users.info': (a) => this.userInfo(a),
    };
  }

  static async start(opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
    const double = new SlackDouble(opts);
    double.server = createServer((req, res) => {
      double.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err instanceof Error ? err.message : String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      double.server.once('error', reject);
      double.server.listen(0, '127.0.0.1', () => resolve());
    });
    double.port = (double.server.address() as AddressInfo).port;
    return double;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve, reject) =>
      this.server.close((err) => (err ? reject(err) : resolve())),
    );
    this.server.closeAllConnections();
    await closed;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The value for WebClient's `slackApiUrl` / `SLACK_API_URL`. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  /**
   * Serves another Web API method that checks its own token (e.g. `apps.connections.open`, which
   * takes the app-level `xapp-` token, not the bot's); the answer is recorded like any call.
   */
  route(method: string, answer: (token: string | undefined) => Record<string, unknown>): void {
    this.routes.set(method, answer);
  }

  // ---------------------------------------------------------------- configuration

  /** Channels the bot is a member of. Default `'all'`. DMs are always allowed. */
  setBotChannels(channels: string[] | 'all'): void {
    this.botChannels = channels === 'all' ? 'all' : new Set(channels);
  }

  setChannel(id: string, opts: ChannelOptions = {}): void {
    this.channels.set(id, {
      id,
      name: opts.name ?? id.toLowerCase(),
      isPrivate: opts.isPrivate ?? false,
      members: opts.members,
    });
  }

  setUsergroup(id: string, users: string[], opts: { handle?: string; name?: string } = {}): void {
    this.usergroups.set(id, {
      users: [...users],
      handle: opts.handle ?? id.toLowerCase(),
      name: opts.name ?? id,
    });
  }

  setUser(id: string, opts: UserOptions = {}): void {
    this.users.set(id, { ...opts });
  }

  setScopes(scopes: string[]): void {
    this.scopes = [...scopes];
  }

  /**
   * When set, `views.open`/`views.push` reject trigger ids minted by `SlackClient` (which embed their issue
   * time) more than `ms` old with `expired_trigger_id`, as Slack does after 3 s. Default: off.
   */
  setTriggerIdTtl(ms: number | undefined): void {
    this.triggerTtlMs = ms;
  }

  /** Seeds a message written by a person (the bot cannot update or delete it). Returns its ts. */
  addUserMessage(opts: { channel: string; user: string; text: string; thread_ts?: string }): string {
    const ts = this.nextTs();
    this.store.set(key(opts.channel, ts), {
      channel: opts.channel,
      ts,
      ...(opts.thread_ts !== undefined ? { thread_ts: opts.thread_ts } : {}),
      text: opts.text,
      user: opts.user,
      updates: 0,
      history: [{ text: opts.text }],
    });
    return ts;
  }

  // ---------------------------------------------------------------- faults

  rateLimit(opts: FaultWindow & { retryAfterSec: number }): void {
    this.faults.push({ kind: 'ratelimit', ...faultWindow(opts), retryAfterSec: opts.retryAfterSec });
  }

  failWith(opts: FaultWindow & { status: number }): void {
    this.faults.push({ kind: 'http', ...faultWindow(opts), status: opts.status });
  }

  platformError(method: string, error: string, count = 1): void {
    this.faults.push({ kind: 'platform', methods: [method], remaining: count, until: Infinity, error });
  }

  /** Answers `{ok:false, error}` to calls of `methods` whose arguments match `when` (a message Slack refuses for good). */
  refuse(opts: {
    methods: string[];
    error: string;
    when: (args: Record<string, unknown>) => boolean;
    count?: number;
  }): void {
    this.faults.push({
      kind: 'platform',
      methods: [...opts.methods],
      remaining: opts.count ?? Infinity,
      until: Infinity,
      error: opts.error,
      when: opts.when,
    });
  }

  /**
   * Makes the next `count` calls (default 1) of `methods` slow by `ms`. With `acts: 'before'` the call
   * takes effect at once and only the answer is late; with `acts: 'after'` (the default) Slack acts only
   * when the wait is over — whether or not the caller is still there, as a real backend would.
   */
  delay(opts: {
    methods?: string[];
    ms: number;
    count?: number;
    acts?: 'before' | 'after';
    when?: (args: Record<string, unknown>) => boolean;
  }): void {
    this.latencies.push({
      ...(opts.methods ? { methods: [...opts.methods] } : {}),
      remaining: opts.count ?? 1,
      ms: opts.ms,
      acts: opts.acts ?? 'after',
      ...(opts.when ? { when: opts.when } : {}),
    });
  }

  clearFaults(): void {
    this.faults = [];
    this.latencies = [];
  }

  /** Clears calls, messages, ephemerals, responses, views and faults (configuration is kept). */
  reset(): void {
    this.calls.length = 0;
    this.store.clear();
    this.ephemeralList.length = 0;
    this.responseList.length = 0;
    this.responseUrls.clear();
    this.viewStore.clear();
    this.faults = [];
    this.latencies = [];
  }

  // ---------------------------------------------------------------- inspection

  /** Calls that reached `method` and were answered `{ok:true}`. */
  callsTo(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method && c.ok);
  }

  /** Every call to `method`, including faulted and failed ones. */
  allCallsTo(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Current messages (top-level and replies) in ts order, optionally of one channel. */
  messages(channel?: string): SlackMessage[] {
    return [...this.store.values()]
      .filter((m) => channel === undefined || m.channel === channel)
      .sort((a, b) => tsKey(a.ts) - tsKey(b.ts))
      .map((m) => structuredClone(m));
  }

  message(channel: string, ts: string): SlackMessage | undefined {
    const m = this.store.get(key(channel, ts));
    return m && structuredClone(m);
  }

  /** The parent message followed by its replies in ts order; empty if the parent is unknown. */
  thread(channel: string, parentTs: string): SlackMessage[] {
    const parent = this.store.get(key(channel, parentTs));
    if (!parent) return [];
    const replies = this.messages(channel).filter((m) => m.thread_ts === parentTs);
    return [structuredClone(parent), ...replies];
  }

  /**
   * A readable rendering of a thread: the parent, then each reply as an indented `- ` item. Messages with
   * blocks are rendered from their Block Kit text (header, section text/fields, context, button labels).
   */
  transcript(channel: string, parentTs: string): string {
    const [parent, ...replies] = this.thread(channel, parentTs);
    if (!parent) return '';
    const lines = renderMessage(parent).split('\n');
    for (const reply of replies) {
      renderMessage(reply)
        .split('\n')
        .forEach((line, i) => lines.push(`${i === 0 ? '  - ' : '    '}${line}`));
    }
    return lines.join('\n');
  }

  ephemerals(channel?: string): SlackEphemeral[] {
    return this.ephemeralList
      .filter((e) => channel === undefined || e.channel === channel)
      .map((e) => ({ ...e }));
  }

  views(): SlackView[] {
    return [...this.viewStore.values()].map((v) => structuredClone(v));
  }

  /**
   * A fresh response_url served by this double. When `channel` (and `messageTs`) are given, posts to it act
   * like Slack's: `in_channel` posts a message, `replace_original`/`delete_original` edit the original
   * message, and the default ephemeral response is recorded for `user`.
   */
  newResponseUrl(opts: { channel?: string; messageTs?: string; user?: string } = {}): string {
    const url = `${this.baseUrl}/response/${this.nextId('R')}${randomBytes(6).toString('hex')}`;
    this.responseUrls.set(new URL(url).pathname, { url, uses: 0, expired: false, ...opts });
    return url;
  }

  /** Makes a response_url answer 404 `expired_url` (as after Slack's 30-minute window). */
  expireResponseUrl(url: string): void {
    const state = this.responseUrls.get(new URL(url).pathname);
    if (state) state.expired = true;
  }

  /** Accepted POSTs to response_urls, optionally to one URL. */
  responses(url?: string): SlackResponse[] {
    return this.responseList.filter((r) => url === undefined || r.url === url).map((r) => structuredClone(r));
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const raw = await readBody(req);
    if (url.pathname.startsWith('/api/')) {
      await this.handleApi(url.pathname.slice('/api/'.length), url, req, raw, res);
    } else if (url.pathname.startsWith('/response/') && req.method === 'POST') {
      this.handleResponseUrl(url, raw, res);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not_found');
    }
  }

  private async handleApi(
    method: string,
    url: URL,
    req: IncomingMessage,
    raw: string,
    res: ServerResponse,
  ): Promise<void> {
    const latency = this.takeLatency(method, () => {
      try {
        return parseArgs(req.headers['content-type'], raw, url.searchParams);
      } catch {
        return {};
      }
    });
    if (latency?.acts === 'after') await sleep(latency.ms);
    const at = Date.now();
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-oauth-scopes': this.scopes.join(','),
      'x-accepted-oauth-scopes': (METHOD_SCOPES[method] ?? []).join(','),
    };
    let args: Args;
    try {
      args = parseArgs(req.headers['content-type'], raw, url.searchParams);
    } catch {
      this.record({ method, args: {}, status: 200, ok: false, error: 'invalid_json', at });
      send(res, 200, headers, { ok: false, error: 'invalid_json' });
      return;
    }
    const token =
      bearer(req.headers.authorization) ?? (typeof args.token === 'string' ? args.token : undefined);
    delete args.token;
    const base = { method, args, ...(token !== undefined ? { token } : {}), at };

    const fault = this.takeFault(method, args);
    if (fault) {
      if (latency?.acts === 'before') await sleep(latency.ms);
      this.answerFault(fault, base, res, headers);
      return;
    }

    const handler = this.handlers[method];
    const routed = this.routes.get(method);
    let status = 200;
    let body: Record<string, unknown>;
    if (routed) {
      body = routed(token);
    } else if (!handler) {
      body = { ok: false, error: 'unknown_method' };
    } else if (token === undefined || !this.tokenValid(token)) {
      body = { ok: false, error: 'invalid_auth' };
    } else {
      try {
        this.requireScope(method, args);
        body = { ok: true, ...handler(args).body };
      } catch (err) {
        if (!(err instanceof SlackMethodError)) {
          status = 500;
          body = { ok: false, error: 'internal_error' };
        } else {
          body = { ok: false, error: err.error, ...err.extra };
        }
      }
    }
    const ok = body.ok === true;
    this.record({ ...base, status, ok, ...(ok ? {} : { error: String(body.error) }) });
    if (latency?.acts === 'before') await sleep(latency.ms);
    if (!res.destroyed) send(res, status, headers, body);
  }

  private handleResponseUrl(url: URL, raw: string, res: ServerResponse): void {
    const at = Date.now();
    let body: Record<string, unknown> = {};
    let parsed = true;
    try {
      const value: unknown = JSON.parse(raw);
      if (isRecord(value)) body = value;
      else parsed = false;
    } catch {
      parsed = false;
    }
    const base = { method: 'response_url', args: body, url: url.href, at };
    const text = (status: number, error: string): void => {
      this.record({ ...base, status, ok: false, error });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(error);
    };

    const fault = this.takeFault('response_url');
    if (fault) {
      this.answerFault(fault, base, res, { 'content-type': 'text/plain' });
      return;
    }
    const state = this.responseUrls.get(url.pathname);
    if (!state || state.expired) return text(404, 'expired_url');
    if (state.uses >= RESPONSE_URL_MAX_USES) return text(404, 'used_url');
    if (!parsed) return text(400, 'invalid_payload');
    if (body.blocks !== undefined) {
      const problems = validateBlocks(body.blocks, '/blocks', 50);
      if (problems) return text(400, problems.error);
    }
    const hasContent =
      body.delete_original === true ||
      (typeof body.text === 'string' && body.text !== '') ||
      (Array.isArray(body.blocks) && body.blocks.length > 0) ||
      Array.isArray(body.attachments);
    if (!hasContent) return text(400, 'no_text');

    state.uses += 1;
    this.applyResponse(state, body);
    this.responseList.push({ url: state.url, body, at });
    this.record({ ...base, status: 200, ok: true });
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('ok');
  }

  private applyResponse(state: ResponseUrlState, body: Record<string, unknown>): void {
    const { channel, messageTs } = state;
    if (channel === undefined) return;
    const textValue = typeof body.text === 'string' ? body.text : '';
    const blocks = Array.isArray(body.blocks) ? body.blocks : undefined;
    if (messageTs !== undefined && body.delete_original === true) {
      this.store.delete(key(channel, messageTs));
      return;
    }
    if (messageTs !== undefined && body.replace_original === true) {
      const original = this.store.get(key(channel, messageTs));
      if (original) {
        applyEdit(original, textValue, blocks);
        return;
      }
      const ephemeral = this.ephemeralList.find((e) => e.channel === channel && e.message_ts === messageTs);
      if (ephemeral) {
        ephemeral.text = textValue;
        if (blocks) ephemeral.blocks = blocks;
        else delete ephemeral.blocks;
        return;
      }
    }
    const threadTs = typeof body.thread_ts === 'string' ? body.thread_ts : undefined;
    if (body.response_type === 'in_channel') {
      this.storeBotMessage(channel, textValue, blocks, threadTs, undefined, undefined, false);
    } else {
      this.ephemeralList.push({
        channel,
        user: state.user ?? '',
        message_ts: this.nextTs(),
        ...(threadTs !== undefined ? { thread_ts: threadTs } : {}),
        text: textValue,
        ...(blocks ? { blocks } : {}),
        via: 'response_url',
        at: Date.now(),
      });
    }
  }

  private answerFault(
    fault: Fault,
    base: Omit<SlackCall, 'status' | 'ok'>,
    res: ServerResponse,
    headers: Record<string, string>,
  ): void {
    if (fault.kind === 'ratelimit') {
      const retryAfter = String(fault.retryAfterSec ?? 1);
      this.record({ ...base, status: 429, ok: false, error: 'ratelimited', fault: 'ratelimit' });
      send(res, 429, { ...headers, 'retry-after': retryAfter }, { ok: false, error: 'ratelimited' });
    } else if (fault.kind === 'http') {
      const status = fault.status ?? 500;
      this.record({ ...base, status, ok: false, error: `http_${status}`, fault: 'http' });
      res.writeHead(status, { ...headers, 'content-type': 'text/plain' });
      res.end(`HTTP ${status}`);
    } else {
      const error = fault.error ?? 'fatal_error';
      this.record({ ...base, status: 200, ok: false, error, fault: 'platform' });
      send(res, 200, headers, { ok: false, error });
    }
  }

  private takeFault(method: string, args: Args = {}): Fault | undefined {
    const now = Date.now();
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.until > now);
    const fault = this.faults.find(
      (f) =>
        (f.methods === undefined ? method !== 'response_url' : f.methods.includes(method)) &&
        (f.when === undefined || f.when(args)),
    );
    if (fault) fault.remaining -= 1;
    return fault;
  }

  private takeLatency(method: string, args: () => Args): Latency | undefined {
    this.latencies = this.latencies.filter((l) => l.remaining > 0);
    const latency = this.latencies.find(
      (l) =>
        (l.methods === undefined || l.methods.includes(method)) && (l.when === undefined || l.when(args())),
    );
    if (latency) latency.remaining -= 1;
    return latency;
  }

  private record(call: SlackCall): void {
    this.calls.push(call);
  }

  private tokenValid(token: string): boolean {
    return this.validToken !== undefined ? token === this.validToken : token.startsWith('xoxb-');
  }

  private requireScope(method: string, args: Args): void {
    let needed = METHOD_SCOPES[method];
    if (method.startsWith('conversations.') && needed) {
      const info = this.channelState(str(args.channel));
      needed = needed.filter((s) => s.startsWith(info.isPrivate ? 'groups:' : 'channels:'));
    }
    if (!needed || needed.length === 0 || needed.some((s) => this.scopes.includes(s))) return;
    throw new SlackMethodError('missing_scope', {
      needed: needed.join(','),
      provided: this.scopes.join(','),
    });
  }

  // ---------------------------------------------------------------- state helpers

  private nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  private nextId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}${String(this.idCounter).padStart(8, '0')}`;
  }

  private channelState(id: string): ChannelState {
    return (
      this.channels.get(id) ?? {
        id,
        name: id.toLowerCase(),
        isPrivate: id.startsWith('G'),
        members: undefined,
      }
    );
  }

  private botIsMember(channel: string): boolean {
    return channel.startsWith('D') || this.botChannels === 'all' || this.botChannels.has(channel);
  }

  /** Resolves a channel argument (id, `#name`, or a user id for a DM) to a channel id. */
  private resolveChannel(value: unknown): string {
    const channel = str(value);
    if (channel === '') fail('channel_not_found');
    if (channel.startsWith('#')) {
      const found = [...this.channels.values()].find((c) => c.name === channel.slice(1));
      if (!found) fail('channel_not_found');
      return found.id;
    }
    if (/^[UW][A-Z0-9]+$/.test(channel)) return `D${channel.slice(1)}`;
    return channel;
  }

  private storeBotMessage(
    channel: string,
    text: string,
    blocks: unknown[] | undefined,
    threadTs: string | undefined,
    metadata: unknown,
    attachments: unknown[] | undefined,
    broadcast: boolean,
  ): SlackMessage {
    const ts = this.nextTs();
    // Slack threads a reply to a reply under the same parent.
    const parentTs =
      threadTs !== undefined ? (this.store.get(key(channel, threadTs))?.thread_ts ?? threadTs) : undefined;
    const message: SlackMessage = {
      channel,
      ts,
      ...(parentTs !== undefined ? { thread_ts: parentTs } : {}),
      text,
      ...(blocks && blocks.length > 0 ? { blocks } : {}),
      ...(attachments ? { attachments } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
      user: this.botUserId,
      bot_id: this.botId,
      ...(broadcast && parentTs !== undefined ? { reply_broadcast: true } : {}),
      updates: 0,
      history: [{ text, ...(blocks && blocks.length > 0 ? { blocks } : {}) }],
    };
    this.store.set(key(channel, ts), message);
    return message;
  }

  private apiMessage(m: SlackMessage, withMetadata = true): Record<string, unknown> {
    const replies =
      m.thread_ts === undefined ? this.messages(m.channel).filter((r) => r.thread_ts === m.ts) : [];
    return {
      type: 'message',
      ...(m.reply_broadcast ? { subtype: 'thread_broadcast' } : {}),
      ts: m.ts,
      text: m.text,
      user: m.user,
      ...(m.bot_id !== undefined ? { bot_id: m.bot_id, app_id: this.appId } : {}),
      team: this.teamId,
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
      ...(withMetadata && m.metadata !== undefined ? { metadata: m.metadata } : {}),
      ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts, parent_user_id: this.parentUser(m) } : {}),
      ...(replies.length > 0
        ? {
            thread_ts: m.ts,
            reply_count: replies.length,
            reply_users: [...new Set(replies.map((r) => r.user))],
            latest_reply: replies[replies.length - 1]?.ts,
          }
        : {}),
      ...(m.updates > 0 ? { edited: { user: m.user, ts: m.ts } } : {}),
    };
  }

  private parentUser(m: SlackMessage): string | undefined {
    return m.thread_ts !== undefined ? this.store.get(key(m.channel, m.thread_ts))?.user : undefined;
  }

  // ---------------------------------------------------------------- methods

  private authTest(): MethodResult {
    return {
      body: {
        url: `https://${this.teamDomain}.slack.com/`,
        team: 'Backout Test',
        user: 'backout',
        team_id: this.teamId,
        user_id: this.botUserId,
        bot_id: this.botId,
        is_enterprise_install: false,
      },
    };
  }

  private postMessage(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    if (!this.botIsMember(channel)) fail('not_in_channel');
    const { text, blocks, attachments } = messageContent(args, 50);
    if (text === '' && !blocks?.length && !attachments?.length) fail('no_text');
    if (text.length > POST_TEXT_LIMIT) fail('msg_too_long');
    checkMetadata(args.metadata);
    const threadTs = args.thread_ts === undefined ? undefined : str(args.thread_ts);
    const message = this.storeBotMessage(
      channel,
      text,
      blocks,
      threadTs === '' ? undefined : threadTs,
      args.metadata,
      attachments,
      args.reply_broadcast === true,
    );
    return { body: { channel, ts: message.ts, message: this.apiMessage(message) } };
  }

  private update(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    const ts = str(args.ts);
    const message = this.store.get(key(channel, ts));
    if (!message) fail('message_not_found');
    if (message.bot_id !== this.botId) fail('cant_update_message');
    const { text, blocks } = messageContent(args, 50);
    if (text.length > UPDATE_TEXT_LIMIT) fail('msg_too_long');
    checkMetadata(args.metadata);
    if (args.text === undefined && args.blocks === undefined && args.metadata === undefined) fail('no_text');
    // Omitting blocks keeps them only if text is omitted too; `blocks: []` clears them.
    const newText = args.text === undefined ? message.text : text;
    const newBlocks =
      args.blocks !== undefined ? blocks : args.text === undefined ? message.blocks : undefined;
    applyEdit(message, newText, newBlocks);
    if (args.metadata !== undefined) message.metadata = args.metadata;
    return { body: { channel, ts, text: message.text, message: this.apiMessage(message) } };
  }

  private postEphemeral(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    const user = str(args.user);
    if (user === '') fail('user_not_found');
    if (!this.botIsMember(channel)) fail('not_in_channel');
    const members = this.channelState(channel).members;
    if (members && !members.includes(user)) fail('user_not_in_channel');
    const { text, blocks, attachments } = messageContent(args, 50);
    if (text === '' && !blocks?.length && !attachments?.length) fail('no_text');
    const messageTs = this.nextTs();
    const threadTs = args.thread_ts === undefined ? undefined : str(args.thread_ts);
    this.ephemeralList.push({
      channel,
      user,
      message_ts: messageTs,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      text,
      ...(blocks && blocks.length > 0 ? { blocks } : {}),
      via: 'chat.postEphemeral',
      at: Date.now(),
    });
    return { body: { message_ts: messageTs } };
  }

  private deleteMessage(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    const ts = str(args.ts);
    const message = this.store.get(key(channel, ts));
    if (!message) fail('message_not_found');
    if (message.bot_id !== this.botId) fail('cant_delete_message');
    this.store.delete(key(channel, ts));
    return { body: { channel, ts } };
  }

  private parseView(args: Args): Record<string, unknown> {
    const view = args.view;
    if (!isRecord(view)) fail('invalid_arguments', ['[ERROR] missing required field: view']);
    const problems: string[] = [];
    if (view.type !== 'modal' && view.type !== 'home')
      problems.push(errorAt('must be a valid enum value', '/view/type'));
    if (view.type === 'modal') {
      checkText(view.title, '/view/title', 24, problems, true);
      if (view.submit !== undefined) checkText(view.submit, '/view/submit', 24, problems, true);
      if (view.close !== undefined) checkText(view.close, '/view/close', 24, problems, true);
    }
    checkLength(view.callback_id, 255, '/view/callback_id', problems);
    checkLength(view.private_metadata, 3000, '/view/private_metadata', problems);
    const blockProblems = validateBlocks(view.blocks ?? [], '/view/blocks', 100);
    if (blockProblems) problems.push(...blockProblems.messages);
    if (problems.length > 0) fail('invalid_arguments', problems);
    return view;
  }

  private checkTrigger(args: Args): string {
    const trigger = str(args.trigger_id);
    if (trigger === '') fail('invalid_arguments', ['[ERROR] missing required field: trigger_id']);
    const issued = /^(\d{13})\./.exec(trigger)?.[1];
    if (
      this.triggerTtlMs !== undefined &&
      issued !== undefined &&
      Date.now() - Number(issued) > this.triggerTtlMs
    ) {
      fail('expired_trigger_id');
    }
    return trigger;
  }

  private apiView(v: SlackView): Record<string, unknown> {
    const view = v.view;
    return {
      id: v.id,
      team_id: this.teamId,
      type: view.type,
      blocks: view.blocks ?? [],
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values: {} },
      hash: v.hash,
      title: view.title,
      clear_on_close: view.clear_on_close ?? false,
      notify_on_close: view.notify_on_close ?? false,
      close: view.close ?? null,
      submit: view.submit ?? null,
      previous_view_id: null,
      root_view_id: v.id,
      app_id: this.appId,
      external_id: v.external_id ?? '',
      app_installed_team_id: this.teamId,
      bot_id: this.botId,
    };
  }

  private openView(args: Args, method: string): MethodResult {
    const trigger = this.checkTrigger(args);
    const view = this.parseView(args);
    const externalId =
      typeof view.external_id === 'string' && view.external_id !== '' ? view.external_id : undefined;
    const record: SlackView = {
      id: this.nextId('V'),
      openedBy: method,
      trigger_id: trigger,
      ...(externalId !== undefined ? { external_id: externalId } : {}),
      hash: `${Date.now()}.${randomBytes(4).toString('hex')}`,
      view,
      updates: 0,
    };
    this.viewStore.set(record.id, record);
    return { body: { view: this.apiView(record) } };
  }

  private updateView(args: Args): MethodResult {
    const viewId = str(args.view_id);
    const externalId = str(args.external_id);
    const record =
      viewId !== ''
        ? this.viewStore.get(viewId)
        : [...this.viewStore.values()].find((v) => externalId !== '' && v.external_id === externalId);
    if (!record) fail('not_found');
    if (args.hash !== undefined && str(args.hash) !== record.hash) fail('hash_conflict');
    record.view = this.parseView(args);
    record.updates += 1;
    record.hash = `${Date.now()}.${randomBytes(4).toString('hex')}`;
    return { body: { view: this.apiView(record) } };
  }

  private usergroupsList(args: Args): MethodResult {
    const withUsers = args.include_users === true;
    return {
      body: {
        usergroups: [...this.usergroups.entries()].map(([id, g]) => ({
          id,
          team_id: this.teamId,
          is_usergroup: true,
          name: g.name,
          handle: g.handle,
          description: '',
          user_count: g.users.length,
          ...(withUsers ? { users: [...g.users] } : {}),
        })),
      },
    };
  }

  private usergroupUsers(args: Args): MethodResult {
    const group = this.usergroups.get(str(args.usergroup));
    if (!group) fail('no_such_subteam');
    return { body: { users: [...group.users] } };
  }

  private conversationInfo(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    const info = this.channelState(channel);
    return {
      body: {
        channel: {
          id: channel,
          name: info.name,
          is_channel: !info.isPrivate,
          is_group: false,
          is_im: channel.startsWith('D'),
          is_private: info.isPrivate,
          is_archived: false,
          is_member: this.botIsMember(channel),
          ...(args.include_num_members === true ? { num_members: this.members(channel).length } : {}),
        },
      },
    };
  }

  private members(channel: string): string[] {
    const humans = this.channelState(channel).members ?? [];
    return this.botIsMember(channel) ? [...humans, this.botUserId] : [...humans];
  }

  private conversationMembers(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    return { body: { members: this.members(channel), response_metadata: { next_cursor: '' } } };
  }

  private conversationReplies(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    if (!this.botIsMember(channel)) fail('not_in_channel');
    const ts = str(args.ts);
    const found = this.store.get(key(channel, ts));
    if (!found) fail('thread_not_found');
    // Oldest first, the parent always first (as Slack answers).
    const [parent, ...replies] = this.thread(channel, found.thread_ts ?? found.ts);
    const inRange = replies.filter(timeRange(args));
    return this.page([...(parent ? [parent] : []), ...inRange], args, 1000);
  }

  private conversationHistory(args: Args): MethodResult {
    const channel = this.resolveChannel(args.channel);
    if (!this.botIsMember(channel)) fail('not_in_channel');
    // Newest first: top-level messages and replies also sent to the channel.
    const visible = this.messages(channel)
      .filter((m) => m.thread_ts === undefined || m.reply_broadcast === true)
      .filter(timeRange(args))
      .reverse();
    return this.page(visible, args, 100);
  }

  /**
   * One page of messages, as Slack pages them: `limit` (at most 999/1000), an opaque `cursor` from
   * `response_metadata.next_cursor`, and metadata only when `include_all_metadata` is true.
   */
  private page(all: SlackMessage[], args: Args, defaultLimit: number): MethodResult {
    const limit = Math.min(positive(args.limit) ?? defaultLimit, 999);
    const start =
      args.cursor === undefined || args.cursor === ''
        ? 0
        : Number(
            Buffer.from(str(args.cursor), 'base64')
              .toString('utf8')
              .replace(/^next_ts:/, ''),
          );
    if (!Number.isInteger(start) || start < 0) fail('invalid_cursor');
    const slice = all.slice(start, start + limit);
    const more = start + limit < all.length;
    const withMetadata = args.include_all_metadata === true;
    return {
      body: {
        messages: slice.map((m) => this.apiMessage(m, withMetadata)),
        has_more: more,
        response_metadata: {
          next_cursor: more ? Buffer.from(`next_ts:${start + limit}`).toString('base64') : '',
        },
      },
    };
  }

  private userInfo(args: Args): MethodResult {
    const id = str(args.user);
    const known = this.users.get(id);
    if (!known && !/^[UW][A-Z0-9]+$/.test(id)) fail('user_not_found');
    const u = known ?? {};
    const name = u.name ?? id.toLowerCase();
    const realName = u.realName ?? name;
    return {
      body: {
        user: {
          id,
          team_id: u.teamId ?? this.teamId,
          name,
          is_restricted: (u.restricted ?? false) || (u.ultraRestricted ?? false),
          is_ultra_restricted: u.ultraRestricted ?? false,
          ...(u.stranger ? { is_stranger: true } : {}),
          real_name: realName,
          deleted: u.deleted ?? false,
          is_bot: u.isBot ?? id === this.botUserId,
          tz: u.tz ?? 'Etc/UTC',
          profile: { real_name: realName, display_name: u.displayName ?? '' },
        },
      },
    };
  }
}

// ------------------------------------------------------------------ method scopes

/** Any one of the listed scopes suffices. */
const METHOD_SCOPES: Record<string, string[]> = {
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.delete': ['chat:write'],
  'usergroups.list': ['usergroups:read'],
  'usergroups.users.list': ['usergroups:read'],
  'conversations.info': ['channels:read', 'groups:read'],
  'conversations.members': ['channels:read', 'groups:read'],
  'conversations.replies': ['channels:history', 'groups:history'],
  'conversations.history': ['channels:history', 'groups:history'],
  'users.info': ['users:read'],
};

// ------------------------------------------------------------------ Block Kit validation

const BLOCK_TYPES = new Set([
  'actions',
  'context',
  'context_actions',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'table',
  'video',
]);

function errorAt(message: string, pointer: string): string {
  return `[ERROR] ${message} [json-pointer:${pointer}]`;
}

function checkLength(value: unknown, max: number, pointer: string, problems: string[]): void {
  if (typeof value === 'string' && value.length > max) {
    problems.push(errorAt(`must be less than ${max + 1} characters`, pointer));
  }
}

/** Checks a text composition object: present, of a valid type, 1..max characters. */
function checkText(
  value: unknown,
  pointer: string,
  max: number,
  problems: string[],
  plainOnly = false,
): void {
  if (!isRecord(value) || typeof value.text !== 'string') {
    problems.push(errorAt('must provide an object with a text string', pointer));
    return;
  }
  const allowed = plainOnly ? ['plain_text'] : ['plain_text', 'mrkdwn'];
  if (!allowed.includes(String(value.type))) {
    problems.push(errorAt(`must be one of: ${allowed.join(', ')}`, `${pointer}/type`));
  }
  if (value.text.length === 0) problems.push(errorAt('must be more than 0 characters', `${pointer}/text`));
  checkLength(value.text, max, `${pointer}/text`, problems);
}

function checkConfirm(value: unknown, pointer: string, problems: string[]): void {
  if (!isRecord(value)) {
    problems.push(errorAt('must provide an object', pointer));
    return;
  }
  checkText(value.title, `${pointer}/title`, 100, problems, true);
  checkText(value.text, `${pointer}/text`, 300, problems);
  checkText(value.confirm, `${pointer}/confirm`, 30, problems, true);
  checkText(value.deny, `${pointer}/deny`, 30, problems, true);
}

function checkElement(element: unknown, pointer: string, problems: string[]): void {
  if (!isRecord(element) || typeof element.type !== 'string') {
    problems.push(errorAt('must provide an element object with a type', pointer));
    return;
  }
  checkLength(element.action_id, 255, `${pointer}/action_id`, problems);
  if (element.type === 'button') {
    checkText(element.text, `${pointer}/text`, 75, problems, true);
    checkLength(element.value, 2000, `${pointer}/value`, problems);
    checkLength(element.url, 3000, `${pointer}/url`, problems);
    checkLength(element.accessibility_label, 75, `${pointer}/accessibility_label`, problems);
    if (element.style !== undefined && element.style !== 'primary' && element.style !== 'danger') {
      problems.push(errorAt('must be one of: primary, danger', `${pointer}/style`));
    }
    if (element.confirm !== undefined) checkConfirm(element.confirm, `${pointer}/confirm`, problems);
  } else if (isRecord(element.confirm)) {
    checkConfirm(element.confirm, `${pointer}/confirm`, problems);
  }
}

function checkBlock(block: unknown, pointer: string, problems: string[], blockIds: Set<string>): void {
  if (!isRecord(block) || typeof block.type !== 'string') {
    problems.push(errorAt('must provide a block object with a type', pointer));
    return;
  }
  if (!BLOCK_TYPES.has(block.type))
    problems.push(errorAt(`unsupported block type: ${block.type}`, `${pointer}/type`));
  if (typeof block.block_id === 'string') {
    checkLength(block.block_id, 255, `${pointer}/block_id`, problems);
    if (blockIds.has(block.block_id))
      problems.push(errorAt('block_id must be unique', `${pointer}/block_id`));
    blockIds.add(block.block_id);
  }
  switch (block.type) {
    case 'section': {
      if (block.text === undefined && block.fields === undefined) {
        problems.push(errorAt('must provide either text or fields', pointer));
      }
      if (block.text !== undefined) checkText(block.text, `${pointer}/text`, 3000, problems);
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields)) problems.push(errorAt('must be an array', `${pointer}/fields`));
        else {
          if (block.fields.length > 10)
            problems.push(errorAt('no more than 10 items allowed', `${pointer}/fields`));
          block.fields.forEach((f, i) => checkText(f, `${pointer}/fields/${i}`, 2000, problems));
        }
      }
      if (block.accessory !== undefined) checkElement(block.accessory, `${pointer}/accessory`, problems);
      break;
    }
    case 'header':
      checkText(block.text, `${pointer}/text`, 150, problems, true);
      break;
    case 'actions': {
      if (!Array.isArray(block.elements) || block.elements.length === 0) {
        problems.push(errorAt('must provide at least 1 element', `${pointer}/elements`));
        break;
      }
      if (block.elements.length > 25)
        problems.push(errorAt('no more than 25 items allowed', `${pointer}/elements`));
      const actionIds = new Set<string>();
      block.elements.forEach((e, i) => {
        checkElement(e, `${pointer}/elements/${i}`, problems);
        if (isRecord(e) && typeof e.action_id === 'string') {
          if (actionIds.has(e.action_id)) {
            problems.push(
              errorAt('action_id must be unique within the block', `${pointer}/elements/${i}/action_id`),
            );
          }
          actionIds.add(e.action_id);
        }
      });
      break;
    }
    case 'context': {
      if (!Array.isArray(block.elements) || block.elements.length === 0) {
        problems.push(errorAt('must provide at least 1 element', `${pointer}/elements`));
        break;
      }
      if (block.elements.length > 10)
        problems.push(errorAt('no more than 10 items allowed', `${pointer}/elements`));
      block.elements.forEach((e, i) => {
        if (isRecord(e) && (e.type === 'mrkdwn' || e.type === 'plain_text')) {
          checkText(e, `${pointer}/elements/${i}`, 3000, problems);
        }
      });
      break;
    }
    case 'input':
      checkText(block.label, `${pointer}/label`, 2000, problems, true);
      if (block.element === undefined)
        problems.push(errorAt('must provide an element', `${pointer}/element`));
      else checkElement(block.element, `${pointer}/element`, problems);
      break;
    case 'markdown':
      checkLength(block.text, 12_000, `${pointer}/text`, problems);
      break;
    default:
      break;
  }
}

/** Validates blocks as Slack does; returns the error code and messages, or undefined when valid. */
export function validateBlocks(
  blocks: unknown,
  pointer = '/blocks',
  maxBlocks = 50,
): { error: 'invalid_blocks' | 'invalid_blocks_format'; messages: string[] } | undefined {
  if (!Array.isArray(blocks)) {
    return { error: 'invalid_blocks_format', messages: [errorAt('must be an array', pointer)] };
  }
  const problems: string[] = [];
  if (blocks.length > maxBlocks) problems.push(errorAt(`no more than ${maxBlocks} items allowed`, pointer));
  const blockIds = new Set<string>();
  blocks.forEach((b, i) => checkBlock(b, `${pointer}/${i}`, problems, blockIds));
  return problems.length > 0 ? { error: 'invalid_blocks', messages: problems } : undefined;
}

function messageContent(
  args: Args,
  maxBlocks: number,
): { text: string; blocks: unknown[] | undefined; attachments: unknown[] | undefined } {
  let blocks: unknown[] | undefined;
  if (args.blocks !== undefined) {
    const problems = validateBlocks(args.blocks, '/blocks', maxBlocks);
    if (problems) fail(problems.error, problems.messages);
    blocks = args.blocks as unknown[];
  }
  let attachments: unknown[] | undefined;
  if (args.attachments !== undefined) {
    if (!Array.isArray(args.attachments)) fail('invalid_attachments');
    attachments = args.attachments;
  }
  return { text: args.text === undefined ? '' : str(args.text), blocks, attachments };
}

function checkMetadata(metadata: unknown): void {
  if (metadata === undefined) return;
  if (!isRecord(metadata) || typeof metadata.event_type !== 'string' || !isRecord(metadata.event_payload)) {
    fail('invalid_metadata_format');
  }
}

function applyEdit(message: SlackMessage, text: string, blocks: unknown[] | undefined): void {
  message.text = text;
  if (blocks && blocks.length > 0) message.blocks = blocks;
  else delete message.blocks;
  message.updates += 1;
  message.history.push({ text, ...(message.blocks ? { blocks: message.blocks } : {}) });
}

// ------------------------------------------------------------------ rendering

function textOf(value: unknown): string {
  return isRecord(value) && typeof value.text === 'string' ? value.text : '';
}

function richText(value: unknown): string {
  if (Array.isArray(value)) return value.map(richText).join('');
  if (!isRecord(value)) return '';
  if (typeof value.text === 'string') return value.text;
  if (value.type === 'user' && typeof value.user_id === 'string') return `<@${value.user_id}>`;
  if (value.type === 'link' && typeof value.url === 'string') return value.url;
  const inner = richText(value.elements);
  return value.type === 'rich_text_section' || value.type === 'rich_text_preformatted' ? `${inner}\n` : inner;
}

function buttonLabel(element: unknown): string | undefined {
  return isRecord(element) && element.type === 'button' ? `[${textOf(element.text)}]` : undefined;
}

/** Plain-text rendering of Block Kit content, one line per visible item. */
export function renderBlocks(blocks: unknown[]): string[] {
  const lines: string[] = [];
  for (const block of blocks) {
    if (!isRecord(block)) continue;
    switch (block.type) {
      case 'header':
        lines.push(textOf(block.text));
        break;
      case 'section': {
        const label = buttonLabel(block.accessory);
        const text = textOf(block.text);
        if (text !== '' || label) lines.push([text, label].filter(Boolean).join(' '));
        if (Array.isArray(block.fields)) lines.push(...block.fields.map(textOf));
        break;
      }
      case 'context':
        if (Array.isArray(block.elements)) {
          const parts = block.elements.map(textOf).filter((t) => t !== '');
          if (parts.length > 0) lines.push(parts.join(' | '));
        }
        break;
      case 'actions':
        if (Array.isArray(block.elements)) {
          const labels = block.elements.map(buttonLabel).filter((l): l is string => l !== undefined);
          if (labels.length > 0) lines.push(labels.join(' '));
        }
        break;
      case 'divider':
        lines.push('---');
        break;
      case 'markdown':
        if (typeof block.text === 'string') lines.push(block.text);
        break;
      case 'rich_text':
        lines.push(...richText(block.elements).replace(/\n+$/, '').split('\n'));
        break;
      case 'image':
        lines.push(`[image: ${typeof block.alt_text === 'string' ? block.alt_text : ''}]`);
        break;
      default:
        break;
    }
  }
  return lines.flatMap((l) => l.split('\n'));
}

function renderMessage(m: SlackMessage): string {
  if (m.blocks && m.blocks.length > 0) {
    const lines = renderBlocks(m.blocks);
    if (lines.some((l) => l.trim() !== '')) return lines.join('\n');
  }
  return m.text;
}

// ------------------------------------------------------------------ plumbing

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function faultWindow(opts: FaultWindow): Pick<Fault, 'methods' | 'remaining' | 'until'> {
  return {
    ...(opts.methods ? { methods: [...opts.methods] } : {}),
    remaining: opts.count ?? (opts.forMs !== undefined ? Infinity : 1),
    until: opts.forMs !== undefined ? Date.now() + opts.forMs : Infinity,
  };
}

function key(channel: string, ts: string): string {
  return `${channel}/${ts}`;
}

/** Orders Slack timestamps numerically (seconds and microseconds). */
function tsKey(ts: string): number {
  const [sec = '0', frac = '0'] = ts.split('.');
  return Number(sec) * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6));
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** Slack's `oldest`/`latest` bounds: exclusive unless `inclusive` is true. */
function timeRange(args: Args): (m: SlackMessage) => boolean {
  const oldest = args.oldest === undefined ? -Infinity : tsKey(str(args.oldest));
  const latest = args.latest === undefined ? Infinity : tsKey(str(args.latest));
  const inclusive = args.inclusive === true;
  return (m) => {
    const t = tsKey(m.ts);
    return inclusive ? t >= oldest && t <= latest : t > oldest && t < latest;
  };
}

function positive(value: unknown): number | undefined {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a Web API body (form-urlencoded or JSON) plus query parameters into typed arguments. */
function parseArgs(contentType: string | undefined, raw: string, query: URLSearchParams): Args {
  const args: Args = {};
  const fromForm = (params: URLSearchParams): void => {
    for (const [name, value] of params) {
      if (JSON_ARGS.has(name)) {
        try {
          args[name] = JSON.parse(value);
        } catch {
          args[name] = value;
        }
      } else if (BOOL_ARGS.has(name)) {
        args[name] = value === 'true' || value === '1';
      } else {
        args[name] = value;
      }
    }
  };
  fromForm(query);
  if ((contentType ?? '').toLowerCase().includes('application/json')) {
    if (raw.trim() !== '') {
      const body: unknown = JSON.parse(raw);
      if (!isRecord(body)) throw new Error('JSON body must be an object');
      for (const [name, value] of Object.entries(body)) {
        args[name] = JSON_ARGS.has(name) && typeof value === 'string' ? safeJson(value) : value;
      }
    }
  } else {
    fromForm(new URLSearchParams(raw));
  }
  return args;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}
