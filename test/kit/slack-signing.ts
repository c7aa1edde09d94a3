/**
 * Sends the bot requests the way Slack does: slash commands, block actions and view submissions, as
 * form-urlencoded bodies signed with the app's signing secret (`v0=` HMAC-SHA256 over `v0:<ts>:<raw body>`).
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

/** Signs a raw request body exactly as Slack does. */
export function signSlackRequest(
  signingSecret: string,
  rawBody: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const digest = createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex');
  return { 'x-slack-signature': `v0=${digest}`, 'x-slack-request-timestamp': String(timestampSec) };
}

export interface SlackClientOptions {
  /** The bot's request URL, e.g. `http://127.0.0.1:PORT/slack/events`. */
  url: string;
  signingSecret: string;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  /**
   * Mints the response_url put in payloads that do not name one, e.g. `() => slack.newResponseUrl()`.
   * Without it a closed local port is used, so a stray respond() fails fast and never leaves the machine.
   */
  newResponseUrl?: () => string;
  /**
   * Carries each request another way than a signed POST to `url` (Socket Mode: an envelope over the
   * WebSocket), given the form body Slack would have posted; the reply is the acknowledgement.
   */
  deliver?: (formBody: string) => Promise<SlackReply>;
}

export interface SignOptions {
  /** Timestamp to sign with and send (seconds). Default: now. */
  timestampSec?: number;
  /** Send this `x-slack-signature` instead of the computed one. */
  signature?: string;
  /** Sign with this secret instead of the configured one. */
  secret?: string;
}

export interface SlackReply {
  status: number;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
  /** The HTTP response's headers, names in lower case (none over Socket Mode). */
  headers?: Record<string, string>;
  elapsedMs: number;
}

export interface CommandFields {
  command: string;
  text?: string;
  user_id: string;
  channel_id: string;
  user_name?: string;
  channel_name?: string;
  response_url?: string;
  trigger_id?: string;
  thread_ts?: string;
  /** The invoking user's workspace, when not the installing one. */
  team_id?: string;
}

export interface BlockActionOptions {
  user: string;
  channel: string;
  messageTs?: string;
  threadTs?: string;
  actionId: string;
  blockId?: string;
  value?: string;
  responseUrl?: string;
  triggerId?: string;
  userName?: string;
  /** Label of the clicked button. */
  buttonText?: string;
  /** The message the button sits in, as the bot posted it. */
  message?: { text?: string; blocks?: unknown[]; user?: string; botId?: string };
  /** The button is in an ephemeral message. */
  ephemeral?: boolean;
  /** The clicker's home workspace (`user.team_id`), when not the installing one (Slack Connect). */
  userTeamId?: string;
  /** Send this `action_ts` (a replayed click carries its original one). */
  actionTs?: string;
}

export interface ViewSubmissionOptions {
  user: string;
  callbackId: string;
  privateMetadata?: string;
  /** `state.values`: block_id → action_id → element state (e.g. `{ type: 'plain_text_input', value: 'x' }`). */
  values: Record<string, Record<string, unknown>>;
  viewId?: string;
  userName?: string;
  triggerId?: string;
  blocks?: unknown[];
}

export interface FoundButton {
  actionId: string;
  blockId: string;
  value: string | undefined;
  text: string;
}

const VERIFICATION_TOKEN = 'verification-token-unused';
/** Nothing listens on port 9 of the loopback interface: a POST there is refused at once. */
const UNROUTED_RESPONSE_URL = 'http://127.0.0.1:9/response/unset';

let sequence = 0;

/** A trigger id shaped like Slack's; its first part is the issue time in ms (the double can expire it). */
export function newTriggerId(): string {
  sequence += 1;
  return `${Date.now()}.${String(sequence).padStart(6, '0')}.${randomBytes(16).toString('hex')}`;
}

/** A Slack-style action timestamp for now. */
function actionTs(): string {
  const micros = Date.now() * 1000 + (sequence++ % 1000);
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

export class SlackClient {
  readonly url: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly apiAppId: string;
  private readonly signingSecret: string;
  private readonly responseUrlFactory: () => string;
  private readonly deliver: ((formBody: string) => Promise<SlackReply>) | undefined;

  constructor(opts: SlackClientOptions) {
    this.url = opts.url;
    this.signingSecret = opts.signingSecret;
    this.teamId = opts.teamId ?? 'T0000TEST';
    this.teamDomain = opts.teamDomain ?? 'backout-test';
    this.apiAppId = opts.apiAppId ?? 'A0000APP';
    this.responseUrlFactory = opts.newResponseUrl ?? (() => UNROUTED_RESPONSE_URL);
    this.deliver = opts.deliver;
  }

  /** Sends a slash command with every field Slack sends. */
  async command(fields: CommandFields, opts: SignOptions = {}): Promise<SlackReply> {
    const form: Record<string, string> = {
      token: VERIFICATION_TOKEN,
      team_id: fields.team_id ?? this.teamId,
      team_domain: this.teamDomain,
      channel_id: fields.channel_id,
      channel_name: fields.channel_name ?? fields.channel_id.toLowerCase(),
      user_id: fields.user_id,
      user_name: fields.user_name ?? fields.user_id.toLowerCase(),
      command: fields.command,
      text: fields.text ?? '',
      api_app_id: this.apiAppId,
      is_enterprise_install: 'false',
      response_url: fields.response_url ?? this.responseUrlFactory(),
      trigger_id: fields.trigger_id ?? newTriggerId(),
      ...(fields.thread_ts !== undefined ? { thread_ts: fields.thread_ts } : {}),
    };
    return this.signedPost(new URLSearchParams(form).toString(), opts);
  }

  /** Clicks a button: a `block_actions` interaction payload. */
  async blockAction(o: BlockActionOptions, opts: SignOptions = {}): Promise<SlackReply> {
    return this.signedPost(new URLSearchParams(this.blockActionForm(o)).toString(), opts);
  }

  /** The form of a button click (`payload=<block_actions JSON>`), unsigned, for senders of their own. */
  blockActionForm(o: BlockActionOptions): { payload: string } {
    const messageTs = o.messageTs ?? actionTs();
    const userName = o.userName ?? o.user.toLowerCase();
    const payload = {
      type: 'block_actions',
      user: { id: o.user, username: userName, name: userName, team_id: o.userTeamId ?? this.teamId },
      api_app_id: this.apiAppId,
      token: VERIFICATION_TOKEN,
      container: {
        type: 'message',
        message_ts: messageTs,
        channel_id: o.channel,
        is_ephemeral: o.ephemeral ?? false,
        ...(o.threadTs !== undefined ? { thread_ts: o.threadTs } : {}),
      },
      trigger_id: o.triggerId ?? newTriggerId(),
      team: { id: this.teamId, domain: this.teamDomain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: o.channel, name: o.channel.toLowerCase() },
      message: {
        type: 'message',
        ts: messageTs,
        text: o.message?.text ?? '',
        user: o.message?.user ?? 'U0000BOT',
        bot_id: o.message?.botId ?? 'B0000BOT',
        team: this.teamId,
        blocks: o.message?.blocks ?? [],
        ...(o.threadTs !== undefined ? { thread_ts: o.threadTs } : {}),
      },
      state: { values: {} },
      response_url: o.responseUrl ?? this.responseUrlFactory(),
      actions: [
        {
          type: 'button',
          action_id: o.actionId,
          block_id: o.blockId ?? 'actions',
          text: { type: 'plain_text', text: o.buttonText ?? o.actionId, emoji: true },
          ...(o.value !== undefined ? { value: o.value } : {}),
          action_ts: o.actionTs ?? actionTs(),
        },
      ],
    };
    return { payload: JSON.stringify(payload) };
  }

  /** Submits a modal: a `view_submission` interaction payload. */
  async viewSubmission(o: ViewSubmissionOptions, opts: SignOptions = {}): Promise<SlackReply> {
    const viewId = o.viewId ?? `V${randomBytes(5).toString('hex').toUpperCase()}`;
    const userName = o.userName ?? o.user.toLowerCase();
    const payload = {
      type: 'view_submission',
      team: { id: this.teamId, domain: this.teamDomain },
      user: { id: o.user, username: userName, name: userName, team_id: this.teamId },
      api_app_id: this.apiAppId,
      token: VERIFICATION_TOKEN,
      trigger_id: o.triggerId ?? newTriggerId(),
      view: {
        id: viewId,
        team_id: this.teamId,
        type: 'modal',
        blocks: o.blocks ?? [],
        private_metadata: o.privateMetadata ?? '',
        callback_id: o.callbackId,
        state: { values: o.values },
        hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
        title: { type: 'plain_text', text: 'Backout', emoji: true },
        clear_on_close: false,
        notify_on_close: false,
        close: { type: 'plain_text', text: 'Cancel', emoji: true },
        submit: { type: 'plain_text', text: 'Submit', emoji: true },
        previous_view_id: null,
        root_view_id: viewId,
        app_id: this.apiAppId,
        external_id: '',
        app_installed_team_id: this.teamId,
        bot_id: 'B0000BOT',
      },
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
    return this.signedPost(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), opts);
  }

  /** A `block_actions` payload from a select inside a modal (e.g. picking the service in a dialog). */
  async viewSelect(
    o: {
      user: string;
      viewId: string;
      callbackId: string;
      privateMetadata: string;
      hash?: string;
      blockId: string;
      actionId: string;
      value: string;
    },
    opts: SignOptions = {},
  ): Promise<SlackReply> {
    const payload = {
      type: 'block_actions',
      user: { id: o.user, username: o.user.toLowerCase(), name: o.user.toLowerCase(), team_id: this.teamId },
      api_app_id: this.apiAppId,
      token: 'legacy-verification-token',
      container: { type: 'view', view_id: o.viewId },
      trigger_id: newTriggerId(),
      team: { id: this.teamId, domain: this.teamDomain },
      is_enterprise_install: false,
      view: {
        id: o.viewId,
        team_id: this.teamId,
        type: 'modal',
        callback_id: o.callbackId,
        private_metadata: o.privateMetadata,
        hash: o.hash ?? `${Math.floor(Date.now() / 1000)}.abcd1234`,
        state: { values: {} },
        blocks: [],
        app_id: this.apiAppId,
        bot_id: 'B0000BOT',
      },
      actions: [
        {
          type: 'static_select',
          action_id: o.actionId,
          block_id: o.blockId,
          selected_option: { text: { type: 'plain_text', text: o.value, emoji: true }, value: o.value },
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
    return this.signedPost(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), opts);
  }

  /** Sends a body exactly as given, with no signature unless the headers carry one. */
  async raw(body: string, contentType: string, headers: Record<string, string> = {}): Promise<SlackReply> {
    return this.post(body, { 'content-type': contentType, ...headers });
  }

  /** Sends the last signed request again, byte for byte with its signature (a replay). */
  async replayLast(): Promise<SlackReply> {
    if (!this.last) throw new Error('nothing was sent yet');
    return this.post(this.last.body, this.last.headers);
  }

  private last: { body: string; headers: Record<string, string> } | undefined;

  private async signedPost(body: string, opts: SignOptions): Promise<SlackReply> {
    if (this.deliver) return this.deliver(body);
    const signed = signSlackRequest(opts.secret ?? this.signingSecret, body, opts.timestampSec);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      ...signed,
      ...(opts.signature !== undefined ? { 'x-slack-signature': opts.signature } : {}),
    };
    this.last = { body, headers };
    return this.post(body, headers);
  }

  private async post(body: string, headers: Record<string, string>): Promise<SlackReply> {
    const started = performance.now();
    const response = await fetch(this.url, { method: 'POST', headers, body });
    const text = await response.text();
    const elapsedMs = performance.now() - started;
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      status: response.status,
      body: text,
      ...(json !== undefined ? { json } : {}),
      headers: Object.fromEntries(response.headers),
      elapsedMs,
    };
  }
}

/**
 * Finds the first button with `actionId` in the blocks the bot posted (actions blocks and section
 * accessories), so a test clicks what the bot actually sent. A block without a `block_id` gets a stand-in id
 * (`block-<index>`), as Slack assigns one. Throws, listing the buttons present, when there is none.
 */
export function findButton(blocks: unknown[] | undefined, actionId: string): FoundButton {
  const seen: string[] = [];
  for (const [index, block] of (blocks ?? []).entries()) {
    if (!isRecord(block)) continue;
    const blockId = typeof block.block_id === 'string' ? block.block_id : `block-${index}`;
    const candidates: unknown[] =
      block.type === 'actions' && Array.isArray(block.elements)
        ? block.elements
        : block.type === 'section' && block.accessory !== undefined
          ? [block.accessory]
          : [];
    for (const element of candidates) {
      if (!isRecord(element) || element.type !== 'button') continue;
      const id = typeof element.action_id === 'string' ? element.action_id : '';
      seen.push(id);
      if (id === actionId) {
        return {
          actionId: id,
          blockId,
          value: typeof element.value === 'string' ? element.value : undefined,
          text: isRecord(element.text) && typeof element.text.text === 'string' ? element.text.text : '',
        };
      }
    }
  }
  throw new Error(`no button with action_id ${actionId} (buttons: ${seen.join(', ') || 'none'})`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
