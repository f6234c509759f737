/**
 * A client of Alpaca's trade_updates WebSocket (wss://{paper-api|api}.alpaca.markets/stream), on
 * `ws`:
 *
 *   client {"action":"authenticate","data":{"key_id","secret_key"}}
 *   server {"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}
 *   client {"action":"listen","data":{"streams":["trade_updates"]}}
 *   server {"stream":"listening","data":{"streams":["trade_updates"]}}
 *   server {"stream":"trade_updates","data":{"event","execution_id","order",...}}   (binary frames on paper)
 *
 * Frames are read the same whether text or binary. A frame that is not JSON, or an update that does
 * not fit its schema, is counted and skipped (`malformed`).
 *
 * Lifecycle: a drop, or a connection that cannot be opened, is retried after `backoffDelay(n)` on
 * the injected scheduler (n = consecutive failures, reset once listening), for ever; each new
 * connection authenticates and listens again and then says `listening` with its number, the cue
 * for the broker to ask REST what it missed. `unauthorized` is final: retrying bad keys only gets
 * an account locked. A ping every `pingIntervalMs`; no pong nor frame within `pongTimeoutMs`
 * means the connection is dead (half-open): it is terminated and handled as a drop.
 * The key and secret are sent in the authenticate frame and nowhere else.
 */
import { Subject, type SchedulerLike, type Subscription } from 'rxjs';
import WebSocket from 'ws';
import { backoffDelay, type HeartbeatOptions, type ReconnectOptions } from '../../../streams/alpaca-quotes.js';
import { AuthorizationDataSchema, ListeningDataSchema, StreamFrameSchema, WireTradeUpdateSchema, type WireTradeUpdate } from './wire.js';

export interface AlpacaTradeStreamOptions {
  readonly url: string;
  readonly keyId: string;
  readonly secretKey: string;
  readonly scheduler: SchedulerLike;
  readonly reconnect?: ReconnectOptions;
  /** `false` turns the ping/pong check off; default 30 000 / 10 000 ms. */
  readonly heartbeat?: false | HeartbeatOptions;
  /** Opening handshake timeout (a `ws` option, wall clock); default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
}

export type TradeStreamEvent =
  /** Listening on the n-th connection (1 = the first). */
  | { readonly type: 'listening'; readonly connection: number }
  | { readonly type: 'disconnected'; readonly connection: number; readonly reason: string }
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number }
  /** The server refused the keys: final, no reconnect. */
  | { readonly type: 'unauthorized'; readonly message: string }
  | { readonly type: 'malformed'; readonly reason: string };

type Status = 'idle' | 'connecting' | 'authenticating' | 'listening' | 'reconnecting' | 'unauthorized' | 'closed';

export class AlpacaTradeStream {
  readonly #o: AlpacaTradeStreamOptions;
  readonly #updates = new Subject<WireTradeUpdate>();
  readonly #events = new Subject<TradeStreamEvent>();
  readonly updates$ = this.#updates.asObservable();
  readonly events$ = this.#events.asObservable();
  #status: Status = 'idle';
  #ws: WebSocket | undefined;
  #connections = 0;
  #failures = 0;
  #retry: Subscription | undefined;
  #ping: Subscription | undefined;
  #pong: Subscription | undefined;
  #first: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #firstDone: Promise<void> | undefined;

  constructor(options: AlpacaTradeStreamOptions) {
    this.#o = options;
  }

  get status(): Status {
    return this.#status;
  }

  /** Connect; resolves when first listening, rejects if the keys are refused. Reconnects on its own after that. */
  start(): Promise<void> {
    if (this.#firstDone) return this.#firstDone;
    this.#firstDone = new Promise<void>((resolve, reject) => (this.#first = { resolve, reject }));
    this.#open();
    return this.#firstDone;
  }

  /** Stop for good: no reconnect, streams complete. */
  close(): void {
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    this.#retry?.unsubscribe();
    this.#stopHeartbeat();
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.terminate();
    this.#first?.reject(new Error('the trade stream was closed before it was listening'));
    this.#updates.complete();
    this.#events.complete();
  }

  #open(): void {
    this.#connections++;
    const n = this.#connections;
    this.#status = 'connecting';
    const ws = new WebSocket(this.#o.url, { handshakeTimeout: this.#o.handshakeTimeoutMs ?? 10_000 });
    this.#ws = ws;
    let reason = '';
    ws.on('open', () => {
      if (this.#ws !== ws) return;
      this.#status = 'authenticating';
      ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: this.#o.keyId, secret_key: this.#o.secretKey } }));
      this.#startHeartbeat(ws);
    });
    ws.on('message', (data) => {
      if (this.#ws !== ws) return;
      this.#alive(ws);
      this.#onFrame(ws, n, data.toString());
    });
    ws.on('pong', () => {
      if (this.#ws === ws) this.#alive(ws);
    });
    ws.on('error', (e) => (reason = e.message));
    ws.on('close', (code) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#stopHeartbeat();
      if (this.#status === 'closed' || this.#status === 'unauthorized') return;
      this.#events.next({ type: 'disconnected', connection: n, reason: reason || `closed with code ${code}` });
      this.#reconnect();
    });
  }

  #reconnect(): void {
    this.#failures++;
    const delayMs = backoffDelay(this.#failures, this.#o.reconnect);
    this.#status = 'reconnecting';
    this.#events.next({ type: 'retrying', attempt: this.#failures, delayMs });
    this.#retry = this.#o.scheduler.schedule(() => {
      if (this.#status === 'reconnecting') this.#open();
    }, delayMs);
  }

  #onFrame(ws: WebSocket, n: number, text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.#events.next({ type: 'malformed', reason: 'a frame that is not JSON' });
      return;
    }
    const frame = StreamFrameSchema.safeParse(json);
    if (!frame.success) {
      this.#events.next({ type: 'malformed', reason: 'a frame that is not an object' });
      return;
    }
    const { stream, data } = frame.data;
    if (stream === 'authorization') {
      const auth = AuthorizationDataSchema.safeParse(data);
      if (auth.success && auth.data.status === 'authorized') {
        ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
        return;
      }
      this.#status = 'unauthorized';
      const message = `the Alpaca trade stream refused the API key (${auth.success ? `${auth.data.action ?? 'authenticate'}: ${auth.data.status}` : 'no status'}): trading stops`;
      this.#events.next({ type: 'unauthorized', message });
      this.#ws = undefined;
      this.#stopHeartbeat();
      ws.terminate();
      this.#first?.reject(new Error(message));
      this.#first = undefined;
    } else if (stream === 'listening') {
      const l = ListeningDataSchema.safeParse(data);
      if (!l.success || !l.data.streams.includes('trade_updates')) {
        this.#events.next({ type: 'malformed', reason: 'a listening answer without trade_updates' });
        return;
      }
      if (this.#status === 'listening') return; // a repeated acknowledgement
      this.#status = 'listening';
      this.#failures = 0;
      this.#events.next({ type: 'listening', connection: n });
      this.#first?.resolve();
      this.#first = undefined;
    } else if (stream === 'trade_updates') {
      const u = WireTradeUpdateSchema.safeParse(data);
      if (!u.success) {
        this.#events.next({ type: 'malformed', reason: `a trade update: ${u.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
        return;
      }
      this.#updates.next(u.data);
    }
  }

  #startHeartbeat(ws: WebSocket): void {
    const hb = this.#o.heartbeat;
    if (hb === false) return;
    const every = hb?.pingIntervalMs ?? 30_000;
    const wait = hb?.pongTimeoutMs ?? 10_000;
    const next = (): void => {
      this.#ping = this.#o.scheduler.schedule(() => {
        if (this.#ws !== ws) return;
        ws.ping();
        this.#pong = this.#o.scheduler.schedule(() => {
          if (this.#ws === ws) ws.terminate(); // dead: handled as a drop by 'close'
        }, wait);
        next();
      }, every);
    };
    next();
  }

  #alive(ws: WebSocket): void {
    if (this.#ws === ws) {
      this.#pong?.unsubscribe();
      this.#pong = undefined;
    }
  }

  #stopHeartbeat(): void {
    this.#ping?.unsubscribe();
    this.#pong?.unsubscribe();
    this.#ping = this.#pong = undefined;
  }
}
