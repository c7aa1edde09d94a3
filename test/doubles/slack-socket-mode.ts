/**
 * A local stand-in for Slack's Socket Mode, plugged into the Web API double.
 *
 * `apps.connections.open` (app-level `xapp-` token with `connections:write`) hands out a one-use
 * `ws://` URL; a client connecting to it gets `hello` (num_connections, debug_info,
 * connection_info.app_id) and then envelopes `{envelope_id, type, payload, accepts_response_payload,
 * retry_attempt, retry_reason}`. Each envelope goes to exactly one open connection; it must be
 * acknowledged with `{envelope_id, payload?}` within 3 s, else it is delivered again with
 * retry_attempt + 1 on the same or another connection. `disconnect` frames (`warning`,
 * `refresh_requested`, `link_disabled`) and dropped sockets are the test's to trigger.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SlackDouble } from './slack.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';
export type DisconnectReason = 'warning' | 'refresh_requested' | 'link_disabled';

export interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

export interface Delivery {
  envelopeId: string;
  connection: number;
  retryAttempt: number;
  at: number;
}

export interface Ack {
  envelopeId: string;
  payload?: Record<string, unknown>;
  connection: number;
  /** From the first delivery to this ack. */
  elapsedMs: number;
  /** Deliveries it took (1 when the first one was acknowledged). */
  deliveries: number;
}

export interface ConnectionInfo {
  id: number;
  open: boolean;
  /** Set once a `disconnect` frame was sent: no new envelopes go there. */
  told?: DisconnectReason;
  openedAt: number;
  closedAt?: number;
}

export interface SocketModeDoubleOptions {
  appToken?: string;
  /** Scopes of the app-level token. Default `connections:write`. */
  scopes?: string[];
  /** How long an envelope waits for its ack before it is delivered again. Default 3 s (Slack's). */
  ackTimeoutMs?: number;
  /** Deliveries after the first before Slack gives up on an envelope. Default 3. */
  maxRetries?: number;
  /** After `refresh_requested`, the double closes the old socket this long later unless the client did. */
  refreshGraceMs?: number;
  /** How often every connection is pinged. Default 5 s. */
  pingIntervalMs?: number;
}

interface Conn {
  info: ConnectionInfo;
  ws: WebSocket;
  hello: boolean;
  /** The link went dark without a close: no pings, no envelopes, nothing heard. */
  muted?: boolean;
}

interface Pending {
  envelope: Envelope;
  firstAt: number;
  deliveries: number;
  connection?: number;
  timer?: NodeJS.Timeout;
  resolve(ack: Ack): void;
  reject(err: Error): void;
}

export const APP_TOKEN = 'xapp-1-A0000APP-1-0123456789-socketmodetesttoken';

export class SocketModeDouble {
  readonly deliveries: Delivery[] = [];
  /** Every ack frame received, including ones for envelopes already settled. */
  readonly acks: { envelopeId: string; connection: number; payload?: Record<string, unknown>; at: number }[] =
    [];
  readonly appToken: string;
  private scopes: string[];
  private readonly ackTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly refreshGraceMs: number;
  private readonly conns = new Map<number, Conn>();
  private readonly tickets = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly waiting: Pending[] = [];
  private readonly lostAcks = new Map<string, number>();
  private nextConn = 0;
  private turn = 0;
  private server!: Server;
  private wss!: WebSocketServer;
  private pinger!: NodeJS.Timeout;

  private constructor(
    private readonly slack: SlackDouble,
    opts: SocketModeDoubleOptions,
  ) {
    this.appToken = opts.appToken ?? APP_TOKEN;
    this.scopes = opts.scopes ?? ['connections:write'];
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 3_000;
    this.maxRetries = opts.maxRetries ?? 3;
    this.refreshGraceMs = opts.refreshGraceMs ?? 1_000;
  }

  /** Starts the WebSocket endpoint and serves `apps.connections.open` on `slack`'s Web API. */
  static async start(slack: SlackDouble, opts: SocketModeDoubleOptions = {}): Promise<SocketModeDouble> {
    const double = new SocketModeDouble(slack, opts);
    double.server = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('upgrade required');
    });
    double.wss = new WebSocketServer({ noServer: true });
    double.server.on('upgrade', (req, socket, head) => {
      const ticket = new URL(req.url ?? '/', 'ws://x').searchParams.get('ticket') ?? '';
      // A ticket opens one connection only, as Slack's do.
      if (!double.tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
      }
      double.wss.handleUpgrade(req, socket, head, (ws) => double.accept(ws));
    });
    await new Promise<void>((resolve) => double.server.listen(0, '127.0.0.1', resolve));
    slack.route('apps.connections.open', (token) => double.connectionsOpen(token));
    // Slack pings every connection; a client that stops hearing them reconnects.
    double.pinger = setInterval(() => {
      for (const c of double.conns.values()) if (c.info.open && !c.muted) c.ws.ping();
    }, opts.pingIntervalMs ?? 5_000).unref();
    return double;
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    for (const p of [...this.pending.values(), ...this.waiting]) {
      clearTimeout(p.timer);
      p.reject(new Error('Socket Mode double stopped'));
    }
    this.pending.clear();
    this.waiting.length = 0;
    for (const c of this.conns.values()) c.ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  setScopes(scopes: string[]): void {
    this.scopes = [...scopes];
  }

  connections(): ConnectionInfo[] {
    return [...this.conns.values()].map((c) => ({ ...c.info }));
  }

  /** Open connections that said hello and were not told to go. */
  live(): ConnectionInfo[] {
    return [...this.conns.values()]
      .filter((c) => c.info.open && c.hello && !c.info.told && !c.muted)
      .map((c) => c.info);
  }

  /** Delivers one envelope to one connection; resolves with its ack, rejects when Slack gives up. */
  send(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    opts: { acceptsResponsePayload?: boolean; envelopeId?: string } = {},
  ): Promise<Ack> {
    const envelope: Envelope = {
      envelope_id: opts.envelopeId ?? randomUUID(),
      type,
      payload,
      accepts_response_payload: opts.acceptsResponsePayload ?? type !== 'events_api',
    };
    return new Promise<Ack>((resolve, reject) => {
      const p: Pending = { envelope, firstAt: performance.now(), deliveries: 0, resolve, reject };
      this.pending.set(envelope.envelope_id, p);
      this.deliver(p);
    });
  }

  /**
   * Delivers an envelope that was already acknowledged again, as Slack does when the ack was lost
   * on its side: same envelope_id and payload, retry_attempt + 1.
   */
  redeliver(envelopeId: string): Promise<Ack> {
    const earlier = this.deliveries.filter((d) => d.envelopeId === envelopeId);
    const first = this.sent.get(envelopeId);
    if (!first || earlier.length === 0) throw new Error(`no envelope ${envelopeId} was sent`);
    return new Promise<Ack>((resolve, reject) => {
      const p: Pending = {
        envelope: first,
        firstAt: performance.now(),
        deliveries: earlier.length,
        resolve,
        reject,
      };
      this.pending.set(envelopeId, p);
      this.deliver(p);
    });
  }

  /** The next `count` ack frames for this envelope are lost on the way (so Slack delivers it again). */
  loseAcks(envelopeId: string, count = 1): void {
    this.lostAcks.set(envelopeId, count);
  }

  /** The payload an envelope carried. */
  sentPayload(envelopeId: string): Record<string, unknown> {
    const envelope = this.sent.get(envelopeId);
    if (!envelope) throw new Error(`no envelope ${envelopeId} was sent`);
    return structuredClone(envelope.payload);
  }

  /** The next `count` ack frames, whatever their envelope, are lost on the way. */
  loseNextAcks(count = 1): void {
    this.lostAny = count;
  }

  private lostAny = 0;

  /** Sends a `disconnect` frame; after `refresh_requested` or `link_disabled` the socket is closed. */
  disconnect(connection: number, reason: DisconnectReason): void {
    const c = this.conns.get(connection);
    if (!c?.info.open) throw new Error(`connection ${connection} is not open`);
    c.info.told = reason;
    c.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `applink-${connection}` } }));
    if (reason === 'link_disabled') c.ws.close(1000, 'link_disabled');
    if (reason === 'refresh_requested')
      setTimeout(() => c.info.open && c.ws.close(1000, 'refresh'), this.refreshGraceMs).unref();
  }

  /**
   * The connection goes dark as behind a NAT that forgot it: it stays open, but no ping or
   * envelope reaches it and nothing from it is heard; it stops counting as live.
   */
  mute(connection: number): void {
    const c = this.conns.get(connection);
    if (c) c.muted = true;
  }

  /** Drops the TCP connection with no close frame, as a network failure does. */
  drop(connection: number): void {
    this.conns.get(connection)?.ws.terminate();
  }

  private readonly sent = new Map<string, Envelope>();

  private connectionsOpen(token: string | undefined): Record<string, unknown> {
    if (token !== this.appToken)
      return { ok: false, error: token?.startsWith('xapp-') ? 'invalid_auth' : 'not_allowed_token_type' };
    if (!this.scopes.includes('connections:write'))
      return {
        ok: false,
        error: 'missing_scope',
        needed: 'connections:write',
        provided: this.scopes.join(','),
      };
    const ticket = randomBytes(12).toString('hex');
    this.tickets.add(ticket);
    const port = (this.server.address() as AddressInfo).port;
    return { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=${this.slack.appId}` };
  }

  private accept(ws: WebSocket): void {
    const id = ++this.nextConn;
    const conn: Conn = { info: { id, open: true, openedAt: Date.now() }, ws, hello: false };
    this.conns.set(id, conn);
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (!binary) this.onFrame(conn, data.toString('utf8'));
    });
    ws.on('close', () => this.onClose(conn));
    ws.on('error', () => undefined);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: [...this.conns.values()].filter((c) => c.info.open).length,
        debug_info: { host: `applink-${id}`, build_number: 1, approximate_connection_time: 18_060 },
        connection_info: { app_id: this.slack.appId },
      }),
    );
    conn.hello = true;
    for (const p of this.waiting.splice(0)) this.deliver(p);
  }

  private onFrame(conn: Conn, text: string): void {
    if (conn.muted) return;
    let frame: { envelope_id?: unknown; payload?: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    if (typeof frame.envelope_id !== 'string') return;
    const envelopeId = frame.envelope_id;
    const payload =
      typeof frame.payload === 'object' && frame.payload !== null && Object.keys(frame.payload).length > 0
        ? (frame.payload as Record<string, unknown>)
        : undefined;
    const lost = this.lostAcks.get(envelopeId) ?? 0;
    if (lost > 0) {
      this.lostAcks.set(envelopeId, lost - 1);
      return;
    }
    if (this.lostAny > 0) {
      this.lostAny -= 1;
      return;
    }
    this.acks.push({ envelopeId, connection: conn.info.id, ...(payload ? { payload } : {}), at: Date.now() });
    const p = this.pending.get(envelopeId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(envelopeId);
    p.resolve({
      envelopeId,
      ...(payload ? { payload } : {}),
      connection: conn.info.id,
      elapsedMs: performance.now() - p.firstAt,
      deliveries: p.deliveries,
    });
  }

  private onClose(conn: Conn): void {
    conn.info.open = false;
    conn.info.closedAt = Date.now();
    // What was in flight there comes again elsewhere, as after an ack timeout.
    for (const p of this.pending.values()) {
      if (p.connection === conn.info.id && p.timer) {
        clearTimeout(p.timer);
        this.retry(p);
      }
    }
  }

  private pick(): Conn | undefined {
    const live = [...this.conns.values()].filter((c) => c.info.open && c.hello && !c.info.told && !c.muted);
    if (live.length === 0) return undefined;
    this.turn = (this.turn + 1) % live.length;
    return live[this.turn];
  }

  private deliver(p: Pending): void {
    const conn = this.pick();
    if (!conn) {
      this.waiting.push(p);
      return;
    }
    const envelope: Envelope = {
      ...p.envelope,
      ...(p.deliveries > 0 ? { retry_attempt: p.deliveries, retry_reason: 'timeout' } : {}),
    };
    this.sent.set(envelope.envelope_id, p.envelope);
    p.deliveries += 1;
    p.connection = conn.info.id;
    this.deliveries.push({
      envelopeId: envelope.envelope_id,
      connection: conn.info.id,
      retryAttempt: envelope.retry_attempt ?? 0,
      at: Date.now(),
    });
    conn.ws.send(JSON.stringify(envelope));
    p.timer = setTimeout(() => this.retry(p), this.ackTimeoutMs);
  }

  private retry(p: Pending): void {
    p.timer = undefined;
    if (!this.pending.has(p.envelope.envelope_id)) return;
    if (p.deliveries > this.maxRetries) {
      this.pending.delete(p.envelope.envelope_id);
      p.reject(new Error(`envelope ${p.envelope.envelope_id} was never acknowledged`));
      return;
    }
    this.deliver(p);
  }
}
