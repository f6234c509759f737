/**
 * The WebSocket event feed (`/feed`): fans one `Observable<FeedEvent>` out to every
 * connected client, each through its own filter.
 *
 * - Auth at the upgrade (src/server/auth.ts): loopback without a token, anyone
 *   else with it. The first frame to a client is `hello`.
 * - `kill` / `kill.reset` need a connection that presented the token, even from
 *   loopback: throwing the switch stops trading, and loopback trust is there so
 *   local tools can *watch* without configuration, not so any local process (or a
 *   browser tab steered at 127.0.0.1) can halt or, worse, resume trading.
 * - A client that cannot keep up is dropped, never buffered for: each send checks
 *   the socket's buffered bytes and the writes not yet flushed, and past either
 *   limit the client gets a best-effort `slow_client` notice and is terminated
 *   (terminate frees the buffer at once; a graceful close would hold it until
 *   the peer answers, which a stalled peer never does).
 * - Heartbeats and ping/pong liveness run on the injected scheduler: a client that
 *   has not answered the previous ping by the next heartbeat is dropped.
 * - Every frame goes through `safeJson`, so credential-looking keys never leave.
 *
 * One event is serialised once, whatever the number of clients, and a burst of events
 * leaves each client's socket in one write (corked until the synchronous run ends).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { asyncScheduler, interval, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { FeedClientMessageSchema, type FeedEvent, type FeedEventType } from '../domain/feed.js';
import { authenticate, type AuthVia } from './auth.js';
import { safeJson } from './redact.js';

export const FEED_PATH = '/feed';
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
export const DEFAULT_MAX_QUEUED_MESSAGES = 10_000;
export const DEFAULT_HEARTBEAT_MS = 10_000;
const CORK_FLUSH_BYTES = 64 * 1024;
/** Client messages are tiny; anything bigger is not ours. */
const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** Why the server sent a client a `notice`. */
export const NOTICE_REASONS = ['slow_client', 'bad_request', 'subscribed', 'forbidden', 'unavailable', 'done', 'failed'] as const;
export type NoticeReason = (typeof NOTICE_REASONS)[number];

export interface KillRequest {
  readonly signature?: string | undefined;
  readonly reason: string;
}
export interface KillResetRequest {
  readonly signature?: string | undefined;
}

export interface EventFeedOptions {
  readonly events: Observable<FeedEvent>;
  /** The feed token's value (the process reads it from the env var the config names). */
  readonly token?: string | undefined;
  /** Let loopback clients in without a token (default true). */
  readonly trustLoopback?: boolean | undefined;
  /** Drives heartbeats and ping/pong; a VirtualTimeScheduler in tests. Default asyncScheduler. */
  readonly scheduler?: SchedulerLike | undefined;
  /** Heartbeat period; 0 turns heartbeats and liveness pings off. Default 10 s (as `server.heartbeat_seconds`). */
  readonly heartbeatMs?: number | undefined;
  /** Extra heartbeat fields (quote feed freshness, ...). Must not throw; if it does, the heartbeat says so. */
  readonly heartbeatPayload?: (() => Record<string, unknown>) | undefined;
  readonly maxBufferedBytes?: number | undefined;
  readonly maxQueuedMessages?: number | undefined;
  /** Throw the kill switch (e.g. `(r) => killSwitch.activate(r)`); its result goes back in the notice. */
  readonly onKill?: ((request: KillRequest) => Promise<unknown>) | undefined;
  /** Release it (e.g. `(r) => killSwitch.reset(r)`). */
  readonly onKillReset?: ((request: KillResetRequest) => Promise<unknown>) | undefined;
}

export interface FeedStats {
  /** Connected now. */
  readonly clients: number;
  /** Frames handed to sockets (events, hellos, notices, heartbeats). */
  readonly sent: number;
  /** Clients dropped for being slow. */
  readonly dropped: number;
  /** Upgrades refused by auth. */
  readonly rejected: number;
  /** Clients dropped for not answering a ping. */
  readonly timedOut: number;
  /** Client messages that failed to parse or validate. */
  readonly badMessages: number;
  /** The most bytes any one client ever had buffered right after a send. */
  readonly peakBufferedBytes: number;
  /** The upstream observable: still open, completed, or errored. */
  readonly upstream: 'open' | 'completed' | 'errored';
}

interface Filter {
  /** undefined = every type except quote. */
  readonly types?: ReadonlySet<FeedEventType>;
  /** undefined = every signature; events without one always pass. */
  readonly signatures?: ReadonlySet<string>;
}

interface Client {
  readonly ws: WebSocket;
  /** The upgraded TCP socket under `ws`, corked while a burst of sends is being written. */
  readonly socket: Duplex;
  corked: boolean;
  readonly via: AuthVia;
  filter: Filter;
  /** Sends whose write callback has not fired yet. */
  pending: number;
  alive: boolean;
  gone: boolean;
}

const DEFAULT_KILL_REASON = 'halted from the event feed';

const passes = (filter: Filter, event: FeedEvent): boolean => {
  if (filter.types === undefined ? event.type === 'quote' : !filter.types.has(event.type)) return false;
  return filter.signatures === undefined || event.signature === undefined || filter.signatures.has(event.signature);
};

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' };

/** Answer a refused upgrade in plain HTTP: the client has not become a WebSocket yet. */
function refuse(socket: Duplex, status: 401 | 403 | 503, reason: string): void {
  const body = JSON.stringify({ error: reason });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const describeFilter = (filter: Filter) => ({
  types: filter.types === undefined ? 'all except quote' : [...filter.types],
  signatures: filter.signatures === undefined ? 'all' : [...filter.signatures],
});

export class EventFeed {
  readonly #options: EventFeedOptions;
  readonly #scheduler: SchedulerLike;
  readonly #maxBuffered: number;
  readonly #maxQueued: number;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_CLIENT_MESSAGE_BYTES, clientTracking: false });
  readonly #clients = new Set<Client>();
  readonly #subscriptions: Subscription[] = [];
  #sent = 0;
  #dropped = 0;
  #rejected = 0;
  #timedOut = 0;
  #badMessages = 0;
  #peakBuffered = 0;
  #upstream: FeedStats['upstream'] = 'open';
  #closed = false;

  constructor(options: EventFeedOptions) {
    this.#options = options;
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#maxQueued = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES;
    this.#subscriptions.push(
      options.events.subscribe({
        next: (event) => this.#fanOut(event),
        error: () => (this.#upstream = 'errored'),
        complete: () => (this.#upstream = 'completed'),
      }),
    );
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (heartbeatMs > 0) this.#subscriptions.push(interval(heartbeatMs, this.#scheduler).subscribe(() => this.#beat()));
  }

  /**
   * Take an HTTP upgrade if it is for `/feed` (true), authenticating it first; a refused
   * one gets a plain HTTP 401/403 and its socket ended. False: not ours, the caller answers.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (new URL(req.url ?? '/', 'http://local').pathname !== FEED_PATH) return false;
    socket.on('error', () => socket.destroy());
    if (this.#closed) {
      refuse(socket, 503, 'shutting down');
      return true;
    }
    const auth = authenticate(req, this.#options);
    if (!auth.ok) {
      this.#rejected++;
      refuse(socket, auth.status, auth.reason);
      return true;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, socket, auth.via));
    return true;
  }

  stats(): FeedStats {
    return {
      clients: this.#clients.size,
      sent: this.#sent,
      dropped: this.#dropped,
      rejected: this.#rejected,
      timedOut: this.#timedOut,
      badMessages: this.#badMessages,
      peakBufferedBytes: this.#peakBuffered,
      upstream: this.#upstream,
    };
  }

  /** Stop fanning out and disconnect everyone (close frame 1001, then the socket). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#subscriptions.splice(0)) s.unsubscribe();
    for (const client of [...this.#clients]) {
      client.ws.close(1001, 'server shutting down');
      this.#remove(client);
      client.ws.terminate();
    }
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #now(): string {
    return new Date(this.#scheduler.now()).toISOString();
  }

  #accept(ws: WebSocket, socket: Duplex, via: AuthVia): void {
    if (this.#closed) {
      ws.terminate(); // the upgrade finished after close()
      return;
    }
    const client: Client = { ws, socket, corked: false, via, filter: {}, pending: 0, alive: true, gone: false };
    this.#clients.add(client);
    ws.on('error', () => this.#remove(client)); // ws closes the socket itself after an error
    ws.on('close', () => this.#remove(client));
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => void this.#onMessage(client, data, isBinary));
    this.#direct(client, 'hello', {
      auth: via,
      canKill: via === 'token' && this.#options.onKill !== undefined,
      filter: describeFilter(client.filter),
      heartbeatMs: this.#options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      // The count with this client in it, so a page can show it before the first heartbeat.
      clients: this.#clients.size,
    });
  }

  #remove(client: Client): void {
    client.gone = true;
    this.#clients.delete(client);
  }

  #fanOut(event: FeedEvent): void {
    if (event.type === 'hello' || event.type === 'notice') return; // per-client messages, never broadcast
    let text: string | undefined;
    for (const client of this.#clients) {
      if (!passes(client.filter, event)) continue;
      text ??= safeJson(event, this.#options.token);
      this.#send(client, text);
    }
  }

  #direct(client: Client, type: 'hello' | 'notice', payload: Record<string, unknown>): void {
    this.#send(client, safeJson({ type, time: this.#now(), payload } satisfies FeedEvent, this.#options.token));
  }

  #notice(client: Client, reason: NoticeReason, fields: Record<string, unknown> = {}): void {
    this.#direct(client, 'notice', { reason, ...fields });
  }

  #send(client: Client, text: string): void {
    if (client.gone || client.ws.readyState !== WebSocket.OPEN) return;
    this.#cork(client);
    client.pending++;
    client.ws.send(text, () => client.pending--);
    this.#sent++;
    const buffered = client.ws.bufferedAmount;
    if (buffered > this.#peakBuffered) this.#peakBuffered = buffered;
    if (buffered > this.#maxBuffered || client.pending > this.#maxQueued) this.#dropSlow(client, buffered);
  }

  /**
   * Frames sent in one synchronous run (a burst of events) leave in one writev instead of one
   * syscall each: the socket stays corked until the run ends, or until CORK_FLUSH_BYTES pile up.
   */
  #cork(client: Client): void {
    if (client.corked) {
      if (client.socket.writableLength < CORK_FLUSH_BYTES) return;
      client.socket.uncork();
    }
    client.corked = true;
    client.socket.cork();
    process.nextTick(() => this.#uncork(client));
  }

  #uncork(client: Client): void {
    if (!client.corked) return;
    client.corked = false;
    client.socket.uncork();
  }

  #dropSlow(client: Client, buffered: number): void {
    this.#remove(client);
    this.#dropped++;
    // Best effort: queued behind what the client has not read, so a stalled one never sees it.
    client.ws.send(safeJson({ type: 'notice', time: this.#now(), payload: { reason: 'slow_client', bufferedBytes: buffered, queued: client.pending } }, this.#options.token));
    client.ws.terminate();
  }

  #beat(): void {
    for (const client of [...this.#clients]) {
      if (!client.alive) {
        this.#remove(client);
        this.#timedOut++;
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
    let extra: Record<string, unknown>;
    try {
      extra = this.#options.heartbeatPayload?.() ?? {};
    } catch {
      extra = { heartbeatPayloadFailed: true };
    }
    this.#fanOut({ type: 'heartbeat', time: this.#now(), payload: { ...extra, clients: this.#clients.size } });
  }

  async #onMessage(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary frame');
      raw = JSON.parse(data.toString());
    } catch {
      this.#badMessages++;
      this.#notice(client, 'bad_request', { message: 'expected a JSON text message' });
      return;
    }
    const parsed = FeedClientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.#badMessages++;
      this.#notice(client, 'bad_request', {
        message: 'not a feed client message',
        issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
      });
      return;
    }
    const msg = parsed.data;
    if (msg.action === 'subscribe') {
      client.filter = {
        ...(msg.types === undefined ? {} : { types: new Set(msg.types) }),
        ...(msg.signatures === undefined ? {} : { signatures: new Set(msg.signatures) }),
      };
      this.#notice(client, 'subscribed', { filter: describeFilter(client.filter) });
      return;
    }
    if (client.via !== 'token') {
      this.#notice(client, 'forbidden', { action: msg.action, message: `${msg.action} needs a connection authenticated with the feed token` });
      return;
    }
    const run =
      msg.action === 'kill'
        ? this.#options.onKill && (() => this.#options.onKill!({ signature: msg.signature, reason: msg.reason ?? DEFAULT_KILL_REASON }))
        : this.#options.onKillReset && (() => this.#options.onKillReset!({ signature: msg.signature }));
    if (run === undefined) {
      this.#notice(client, 'unavailable', { action: msg.action, message: `this server does not handle ${msg.action}` });
      return;
    }
    try {
      const result = await run();
      this.#notice(client, 'done', { action: msg.action, signature: msg.signature, result });
    } catch (err) {
      this.#notice(client, 'failed', { action: msg.action, signature: msg.signature, message: err instanceof Error ? err.message : String(err) });
    }
  }
}
