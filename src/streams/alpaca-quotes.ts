/**
 * A client of the Alpaca market-data v2 WebSocket stream (wss://stream.data.alpaca.markets/v2/<feed>),
 * with `ws`, turning trades (and quote midpoints) into `Quote`s on an RxJS stream; the paper and
 * live runtimes' `QuoteFeed` for US stocks, and the client of our replay server.
 *
 * Protocol (every server frame is a JSON array of events, `T` names the event):
 *   server  [{"T":"success","msg":"connected"}]
 *   client  {"action":"auth","key":...,"secret":...}
 *   server  [{"T":"success","msg":"authenticated"}]        or [{"T":"error","code":402,"msg":"auth failed"}]
 *   client  {"action":"subscribe","trades":[...],"quotes":[...]}
 *   server  [{"T":"subscription","trades":[...],"quotes":[...],"bars":[]}]
 *   server  [{"T":"t","S":"AAPL","p":126.55,"t":"2021-02-22T15:51:44.208Z",...}, {"T":"q","S":"AMD","bp":87.66,"ap":87.68,"t":...}]
 * - A trade gives `{ symbol: S, price: p, atMs: t, source: 'alpaca' }`; a quote gives its
 *   midpoint (bp + ap) / 2, exact, with source 'alpaca-mid', and only when both sides are > 0.
 * - Prices: JSON.parse turns `126.55` into a binary double; the price is that double's
 *   shortest round-trip decimal (what `String(n)` prints, without exponent), which is the
 *   exact text the server sent for any price of up to 15 significant digits, i.e. every
 *   exchange price. `t` is RFC-3339 (nanoseconds allowed), read to the millisecond.
 * - Validation with zod, per event: a frame that is not JSON or not an array, and an event
 *   that does not fit its type's schema, are counted (`stats().malformed`), reported to
 *   `onMalformed` and skipped; the stream goes on. Events of other types (bars, statuses,
 *   corrections) are counted as ignored.
 * - Our replay server (src/server/replay-server.ts) also sends `replay_clock` events, the
 *   replayed market time; they come out on `marketTime` (never emitted by a real Alpaca server).
 *
 * Connection lifecycle:
 * - An `error` event before the subscription is acknowledged (bad key 402, 401, 406 connection
 *   limit, ...) is fatal on every connection, the first or a reconnect: retrying bad credentials
 *   only gets an account locked. It fails `connect()` and errors `quotes` with an
 *   AlpacaStreamError carrying the server's code and message. After it, errors are counted and
 *   published on `control`.
 * - `reconnect` (off by default, so the first version's callers keep their behaviour): a dropped
 *   or dead connection, or one that cannot be opened, is retried after `min(maxMs, baseMs *
 *   factor^(n-1))` ms (n = consecutive failed attempts, reset once a subscription is
 *   acknowledged), less a random `jitter` share so that many clients do not come back in step;
 *   each reconnect authenticates and subscribes to the same symbols again. `quotes` goes on
 *   across reconnects. Off: a dropped connection errors `quotes` (`DISCONNECTED`).
 * - `heartbeat` (on by default): a ping every `pingIntervalMs`; when neither the pong nor any
 *   frame arrives within `pongTimeoutMs`, the connection is dead (a half-open TCP connection
 *   never says so): it is terminated and handled as dropped.
 * - All timers (back-off, heartbeat, close timeout) run on the injected RxJS scheduler, so tests
 *   drive them with virtual time.
 * - The key and secret are sent in the auth frame and nowhere else: they are kept in private
 *   fields, never put in an error, a log line, a control or connection event, or `health()`.
 * - `close()` sends a normal close, waits for the socket to close (terminating it after
 *   `closeTimeoutMs`), and completes the streams.
 */
import { Observable, ReplaySubject, Subject, asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import WebSocket from 'ws';
import { z } from 'zod';
import { dec } from '../domain/money.js';
import type { Quote } from '../domain/quotes.js';
import type { QuoteFeed, QuoteFeedHealth } from './quote-feed.js';
import { REPLAY_CLOCK_EVENT, REPLAY_STATES, type MarketTimeReading } from './replay-clock.js';

export interface ReconnectOptions {
  /** First retry delay; default 1 000 ms. */
  readonly baseMs?: number;
  /** Growth per further failed attempt; default 2. */
  readonly factor?: number;
  /** Longest delay; default 30 000 ms. */
  readonly maxMs?: number;
  /** Share of the delay taken off at random, 0..1: `d * (1 - jitter * random())`; default 0.2, 0 = none. */
  readonly jitter?: number;
  /** Random numbers in [0, 1) for the jitter; default Math.random. */
  readonly random?: () => number;
  /** Consecutive failed attempts after which the stream fails (last error); default Infinity. */
  readonly maxAttempts?: number;
}

export interface HeartbeatOptions {
  /** Time between pings; default 30 000 ms. */
  readonly pingIntervalMs?: number;
  /** No pong nor any frame this long after a ping: the connection is dead; default 10 000 ms. */
  readonly pongTimeoutMs?: number;
}

export interface AlpacaQuoteStreamOptions {
  /** e.g. wss://stream.data.alpaca.markets/v2/iex, or a local replay server. */
  readonly url: string;
  readonly key: string;
  readonly secret: string;
  /** Symbols whose trades to subscribe ('*' for all). */
  readonly trades?: readonly string[];
  /** Symbols whose quotes (bid/ask) to subscribe; their midpoints become quotes. */
  readonly quotes?: readonly string[];
  /** Told about each malformed frame or event (never about credentials). */
  readonly onMalformed?: (info: { readonly reason: string; readonly sample: string }) => void;
  /** WebSocket opening handshake timeout (a `ws` option); default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** How long `close()` waits for the closing handshake before terminating; default 1 000 ms. */
  readonly closeTimeoutMs?: number;
  /** Reconnect with exponential back-off: `true` for the defaults, or options. Default off. */
  readonly reconnect?: boolean | ReconnectOptions;
  /** Ping/pong dead-connection detection: `false` turns it off. Default on (30 s / 10 s). */
  readonly heartbeat?: boolean | HeartbeatOptions;
  /** Timers and `now()` for `isStale`'s default; default the real async scheduler. */
  readonly scheduler?: SchedulerLike;
  /** The feed's name in `health()`; default 'alpaca' ('replay' for the replay server). */
  readonly name?: string;
  /** A quote older than this is stale (`isStale` default); default 30 000 ms. */
  readonly staleAfterMs?: number;
}

export type AlpacaStreamStatus =
  | 'idle'
  | 'connecting'
  | 'authenticating'
  | 'subscribing'
  | 'streaming'
  /** Waiting out the back-off before the next attempt. */
  | 'reconnecting'
  | 'closing'
  | 'closed'
  | 'failed';

/** Control events from the server, for diagnostics. */
export type AlpacaControl =
  | { readonly type: 'success'; readonly msg: string }
  | { readonly type: 'subscription'; readonly trades: readonly string[]; readonly quotes: readonly string[] }
  | { readonly type: 'error'; readonly code: number; readonly msg: string };

/** What happened to the connection (ours, not the server's), for logs, alerts and tests. */
export type AlpacaConnectionEvent =
  /** The subscription was acknowledged on the n-th connection (1 = the first). */
  | { readonly type: 'streaming'; readonly connection: number }
  /** `closeCode`: the WebSocket close code when the server closed the connection (1001: going away, e.g. a replay server whose replay is over). */
  | { readonly type: 'disconnected'; readonly connection: number; readonly reason: string; readonly closeCode?: number }
  /** The n-th consecutive attempt starts in `delayMs`. */
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'failed'; readonly reason: string };

export class AlpacaStreamError extends Error {
  override readonly name: string = 'AlpacaStreamError';
  constructor(
    /** The server's error code (401, 402, 406, ...), or what went wrong locally. */
    readonly code: number | 'DISCONNECTED' | 'SOCKET',
    message: string,
  ) {
    super(message);
  }
}

export interface AlpacaStreamStats {
  /** Frames received. */
  frames: number;
  /** Events in them. */
  events: number;
  trades: number;
  quoteEvents: number;
  /** Quotes emitted. */
  emitted: number;
  /** Frames or events that failed validation (skipped). */
  malformed: number;
  /** Well-formed events of other types, and quotes without two sides. */
  ignored: number;
  serverErrors: number;
  /** Connection attempts after the first one. */
  reconnects: number;
  /** Connections found dead by the heartbeat. */
  heartbeatTimeouts: number;
  pings: number;
  pongs: number;
  /** replay_clock events (replay server only). */
  clockEvents: number;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;
const Timestamp = z
  .string()
  .regex(RFC3339, { error: 'expected an RFC-3339 timestamp' })
  .transform((s, ctx) => {
    const ms = Date.parse(s);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'not a valid instant' });
      return z.NEVER;
    }
    return ms;
  });
const Price = z.number().positive().finite();
const Side = z.number().nonnegative().finite();

const TradeEvent = z.looseObject({ T: z.literal('t'), S: z.string().min(1), p: Price, t: Timestamp });
const QuoteEvent = z.looseObject({ T: z.literal('q'), S: z.string().min(1), bp: Side, ap: Side, t: Timestamp });
const SuccessEvent = z.looseObject({ T: z.literal('success'), msg: z.string() });
const ErrorEvent = z.looseObject({ T: z.literal('error'), code: z.number(), msg: z.string() });
const SubscriptionEvent = z.looseObject({
  T: z.literal('subscription'),
  trades: z.array(z.string()).default([]),
  quotes: z.array(z.string()).default([]),
});
const ClockEvent = z.looseObject({
  T: z.literal(REPLAY_CLOCK_EVENT),
  t: Timestamp,
  speed: z.number().positive().finite(),
  day: z.string().optional(),
  state: z.enum(REPLAY_STATES as [string, ...string[]]).optional(),
  held: z.boolean().optional(),
});
type ServerEvent =
  | z.infer<typeof TradeEvent>
  | z.infer<typeof QuoteEvent>
  | z.infer<typeof SuccessEvent>
  | z.infer<typeof ErrorEvent>
  | z.infer<typeof SubscriptionEvent>
  | z.infer<typeof ClockEvent>;
const SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  t: TradeEvent,
  q: QuoteEvent,
  success: SuccessEvent,
  error: ErrorEvent,
  subscription: SubscriptionEvent,
  [REPLAY_CLOCK_EVENT]: ClockEvent,
};

/** A JSON number as a decimal string: its shortest round-trip form, never with an exponent. */
export function priceText(n: number): string {
  // String(n) is that shortest form already (decimal.js reads a number through it too), except
  // with an exponent below 1e-6 and from 1e21; skipping decimal.js there is a quarter of a quote's cost.
  const s = String(n);
  return s.includes('e') ? dec(n).toFixed() : s;
}

interface Backoff {
  readonly baseMs: number;
  readonly factor: number;
  readonly maxMs: number;
  readonly jitter: number;
  readonly random: () => number;
  readonly maxAttempts: number;
}

/** Delay before the `attempt`-th consecutive attempt (1 = the first retry), whole ms. */
export function backoffDelay(attempt: number, options: ReconnectOptions = {}): number {
  const o = backoffOptions(options);
  const raw = Math.min(o.maxMs, o.baseMs * o.factor ** Math.max(0, attempt - 1));
  return Math.round(raw * (1 - o.jitter * o.random()));
}

function backoffOptions(options: ReconnectOptions): Backoff {
  const o: Backoff = {
    baseMs: options.baseMs ?? 1_000,
    factor: options.factor ?? 2,
    maxMs: options.maxMs ?? 30_000,
    jitter: options.jitter ?? 0.2,
    random: options.random ?? Math.random,
    maxAttempts: options.maxAttempts ?? Infinity,
  };
  if (!(o.baseMs >= 0 && o.factor >= 1 && o.maxMs >= o.baseMs && o.jitter >= 0 && o.jitter <= 1 && o.maxAttempts >= 0)) {
    throw new RangeError(`invalid reconnect options: need baseMs >= 0, factor >= 1, maxMs >= baseMs, 0 <= jitter <= 1, maxAttempts >= 0`);
  }
  return o;
}

export class AlpacaQuoteStream implements QuoteFeed {
  readonly #url: string;
  readonly #key: string;
  readonly #secret: string;
  readonly #trades: readonly string[];
  readonly #quoteSymbols: readonly string[];
  readonly #onMalformed: AlpacaQuoteStreamOptions['onMalformed'];
  readonly #handshakeTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #backoff: Backoff | undefined;
  readonly #heartbeat: Required<HeartbeatOptions> | undefined;
  readonly #scheduler: SchedulerLike;
  readonly #name: string;
  readonly #staleAfterMs: number;
  readonly #quotes = new Subject<Quote>();
  readonly #control = new Subject<AlpacaControl>();
  readonly #connection = new Subject<AlpacaConnectionEvent>();
  readonly #marketTime = new ReplaySubject<MarketTimeReading>(1);
  readonly #stats: AlpacaStreamStats = {
    frames: 0,
    events: 0,
    trades: 0,
    quoteEvents: 0,
    emitted: 0,
    malformed: 0,
    ignored: 0,
    serverErrors: 0,
    reconnects: 0,
    heartbeatTimeouts: 0,
    pings: 0,
    pongs: 0,
    clockEvents: 0,
  };
  readonly #last = new Map<string, Quote>();
  #lastQuoteMs: number | undefined;
  #lastError: string | undefined;
  #status: AlpacaStreamStatus = 'idle';
  #ws: WebSocket | undefined;
  /** Connections opened so far (the current one's number). */
  #connections = 0;
  /** Consecutive failed attempts since the last acknowledged subscription. */
  #failedAttempts = 0;
  #retryTimer: Subscription | undefined;
  #pingTimer: Subscription | undefined;
  #pongDue: Subscription | undefined;
  #connecting: Promise<void> | undefined;
  #settle: { resolve: () => void; reject: (e: AlpacaStreamError) => void } | undefined;
  #closed: Promise<void> | undefined;
  #socketError: Error | undefined;

  /** Quotes, hot: subscribe before `connect()` to see every one. Goes on across reconnects. */
  readonly quotes: Observable<Quote> = this.#quotes.asObservable();
  /** success / subscription / error events from the server. */
  readonly control: Observable<AlpacaControl> = this.#control.asObservable();
  /** Our side of the connection: streaming, disconnected, retrying, failed. */
  readonly connection: Observable<AlpacaConnectionEvent> = this.#connection.asObservable();
  /**
   * The replay server's announced market time (replays the latest to a new subscriber);
   * never emits with a real Alpaca server. Feed it to `ReplayClock.follow`.
   */
  readonly marketTime: Observable<MarketTimeReading> = this.#marketTime.asObservable();

  constructor(options: AlpacaQuoteStreamOptions) {
    this.#url = options.url;
    this.#key = options.key;
    this.#secret = options.secret;
    this.#trades = options.trades ?? [];
    this.#quoteSymbols = options.quotes ?? [];
    this.#onMalformed = options.onMalformed;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 1_000;
    const r = options.reconnect;
    this.#backoff = r === undefined || r === false ? undefined : backoffOptions(r === true ? {} : r);
    const h = options.heartbeat;
    if (h === undefined || h === true || typeof h === 'object') {
      const hb = typeof h === 'object' ? h : {};
      this.#heartbeat = { pingIntervalMs: hb.pingIntervalMs ?? 30_000, pongTimeoutMs: hb.pongTimeoutMs ?? 10_000 };
      if (!(this.#heartbeat.pingIntervalMs > 0 && this.#heartbeat.pongTimeoutMs > 0)) {
        throw new RangeError('invalid heartbeat options: pingIntervalMs and pongTimeoutMs must be > 0');
      }
    }
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#name = options.name ?? 'alpaca';
    this.#staleAfterMs = options.staleAfterMs ?? 30_000;
  }

  get status(): AlpacaStreamStatus {
    return this.#status;
  }

  stats(): Readonly<AlpacaStreamStats> {
    return { ...this.#stats };
  }

  /**
   * Connect, authenticate and subscribe; resolves once the first subscription is acknowledged.
   * With `reconnect`, failed attempts before that are retried (up to `maxAttempts`).
   */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new AlpacaStreamError('DISCONNECTED', 'the stream was closed'));
    if (this.#connecting) return this.#connecting;
    this.#connecting = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.#open();
    return this.#connecting;
  }

  /** QuoteFeed: same as `connect()`. */
  start(): Promise<void> {
    return this.connect();
  }

  /** The latest quote of a symbol, if any. */
  last(symbol: string): Quote | undefined {
    return this.#last.get(symbol);
  }

  /**
   * No quote of `symbol` within `maxAgeMs` before `nowMs`, by the quote's own time. Unknown
   * symbols are stale. Defaults: the scheduler's now and `staleAfterMs`; against a replay,
   * pass the replayed market time (a `ReplayClock`'s now).
   */
  isStale(symbol: string, nowMs: number = this.#scheduler.now(), maxAgeMs: number = this.#staleAfterMs): boolean {
    const q = this.#last.get(symbol);
    return q === undefined || nowMs - q.atMs > maxAgeMs;
  }

  /** The subscribed symbols (not '*') that are stale at `nowMs`, sorted. */
  staleSymbols(nowMs: number = this.#scheduler.now(), maxAgeMs: number = this.#staleAfterMs): string[] {
    const symbols = new Set([...this.#trades, ...this.#quoteSymbols].filter((s) => s !== '*'));
    return [...symbols].filter((s) => this.isStale(s, nowMs, maxAgeMs)).sort();
  }

  health(): QuoteFeedHealth {
    return {
      source: this.#name,
      connected: this.#status === 'streaming',
      ...(this.#lastQuoteMs !== undefined ? { lastQuoteMs: this.#lastQuoteMs } : {}),
      quotes: this.#stats.emitted,
      malformed: this.#stats.malformed,
      failures: this.#stats.reconnects,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  /** Close the connection, stop the timers and complete the streams. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#cancelRetry();
    this.#stopHeartbeat();
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) {
      this.#finish();
      return (this.#closed = Promise.resolve());
    }
    if (this.#status !== 'failed') this.#status = 'closing';
    this.#closed = new Promise<void>((resolve) => {
      const timer = this.#scheduler.schedule(() => ws.terminate(), this.#closeTimeoutMs);
      ws.once('close', () => {
        timer.unsubscribe();
        resolve();
      });
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, 'client closing');
    return this.#closed;
  }

  // -------------------------------------------------------------------------------------
  // Connection

  #open(): void {
    this.#connections++;
    this.#status = 'connecting';
    this.#socketError = undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#url, { handshakeTimeout: this.#handshakeTimeoutMs });
    } catch (err) {
      // A malformed URL stays malformed: never retried.
      this.#fail(new AlpacaStreamError('SOCKET', `cannot connect to the Alpaca stream: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    this.#ws = ws;
    // Every listener checks that `ws` is still the current socket: a dropped one may speak late.
    ws.on('open', () => {
      if (this.#ws === ws) this.#startHeartbeat(ws);
    });
    ws.on('message', (data, isBinary) => {
      if (this.#ws !== ws) return;
      this.#alive();
      this.#onFrame(isBinary ? '' : data.toString());
    });
    ws.on('pong', () => {
      if (this.#ws !== ws) return;
      this.#stats.pongs++;
      this.#alive();
    });
    ws.on('error', (err) => {
      if (this.#ws === ws) this.#socketError = err;
    });
    ws.on('close', (code, reason) => {
      if (this.#ws === ws) this.#onClose(code, reason.toString());
    });
  }

  #onClose(code: number, reason: string): void {
    this.#stopHeartbeat();
    if (this.#status === 'closing') {
      this.#finish();
      return;
    }
    if (this.#status === 'failed' || this.#status === 'closed') return;
    const cause = this.#socketError ? `: ${this.#socketError.message}` : '';
    const why = reason ? ` (${reason})` : '';
    const refused = this.#socketError && this.#status === 'connecting';
    this.#lost(
      refused
        ? new AlpacaStreamError('SOCKET', `cannot connect to the Alpaca stream${cause}`)
        : new AlpacaStreamError('DISCONNECTED', `the Alpaca stream closed while ${this.#status}, code ${code}${why}${cause}`),
      refused || this.#socketError ? undefined : code,
    );
  }

  /** The connection is gone (not by us, not refused by the server): retry, or fail without `reconnect`. */
  #lost(err: AlpacaStreamError, closeCode?: number): void {
    this.#ws = undefined;
    this.#stopHeartbeat();
    this.#lastError = err.message;
    this.#connection.next({ type: 'disconnected', connection: this.#connections, reason: err.message, ...(closeCode !== undefined ? { closeCode } : {}) });
    const backoff = this.#backoff;
    if (backoff === undefined) {
      this.#fail(err);
      return;
    }
    if (this.#failedAttempts >= backoff.maxAttempts) {
      this.#fail(new AlpacaStreamError(err.code, `${err.message}; gave up after ${this.#failedAttempts} reconnect attempt(s)`));
      return;
    }
    this.#failedAttempts++;
    const delayMs = backoffDelay(this.#failedAttempts, backoff);
    this.#status = 'reconnecting';
    this.#connection.next({ type: 'retrying', attempt: this.#failedAttempts, delayMs });
    this.#retryTimer = this.#scheduler.schedule(() => {
      this.#retryTimer = undefined;
      if (this.#status !== 'reconnecting') return;
      this.#stats.reconnects++;
      this.#open();
    }, delayMs);
  }

  #cancelRetry(): void {
    this.#retryTimer?.unsubscribe();
    this.#retryTimer = undefined;
  }

  // -------------------------------------------------------------------------------------
  // Heartbeat

  #startHeartbeat(ws: WebSocket): void {
    const hb = this.#heartbeat;
    if (hb === undefined) return;
    this.#stopHeartbeat();
    // A fresh action per ping: a rescheduled VirtualAction chains onto the previous one, and
    // a long virtual-time run would make that chain deep enough to overflow on unsubscribe.
    const next = (): void => {
      this.#pingTimer = this.#scheduler.schedule(() => {
        if (this.#ws !== ws) return;
        // One ping in flight at a time: its deadline is what decides.
        if (this.#pongDue === undefined && ws.readyState === WebSocket.OPEN) {
          ws.ping();
          this.#stats.pings++;
          this.#pongDue = this.#scheduler.schedule(() => this.#dead(ws, hb.pongTimeoutMs), hb.pongTimeoutMs);
        }
        next();
      }, hb.pingIntervalMs);
    };
    next();
  }

  #stopHeartbeat(): void {
    this.#pingTimer?.unsubscribe();
    this.#pingTimer = undefined;
    this.#pongDue?.unsubscribe();
    this.#pongDue = undefined;
  }

  /** A pong or any frame: the connection is alive. */
  #alive(): void {
    if (this.#pongDue === undefined) return;
    this.#pongDue.unsubscribe();
    this.#pongDue = undefined;
  }

  #dead(ws: WebSocket, timeoutMs: number): void {
    this.#pongDue = undefined;
    if (this.#ws !== ws) return;
    this.#stats.heartbeatTimeouts++;
    const status = this.#status;
    // Let go of it first, so its late close event is not taken for the next connection's.
    this.#ws = undefined;
    ws.terminate();
    this.#lost(new AlpacaStreamError('DISCONNECTED', `no pong nor any frame within ${timeoutMs} ms of a ping while ${status}: the connection is dead`));
  }

  // -------------------------------------------------------------------------------------
  // Frames

  #send(message: object): void {
    this.#ws?.send(JSON.stringify(message));
  }

  #malformed(reason: string, sample: unknown): void {
    this.#stats.malformed++;
    if (this.#onMalformed) {
      const text = typeof sample === 'string' ? sample : JSON.stringify(sample) ?? String(sample);
      this.#onMalformed({ reason, sample: text.length > 200 ? `${text.slice(0, 200)}...` : text });
    }
  }

  #onFrame(text: string): void {
    this.#stats.frames++;
    let events: unknown;
    try {
      events = JSON.parse(text);
    } catch {
      this.#malformed('not JSON', text);
      return;
    }
    if (!Array.isArray(events)) {
      this.#malformed('not an array of events', events);
      return;
    }
    const ws = this.#ws;
    for (const raw of events) {
      this.#stats.events++;
      const type = typeof raw === 'object' && raw !== null ? (raw as { T?: unknown }).T : undefined;
      if (typeof type !== 'string') {
        this.#malformed('event without a type T', raw);
        continue;
      }
      const schema = SCHEMAS[type];
      if (schema === undefined) {
        this.#stats.ignored++;
        continue;
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        this.#malformed(`bad "${type}" event: ${parsed.error.issues.map((i) => `${i.path.join('.') || type}: ${i.message}`).join('; ')}`, raw);
        continue;
      }
      this.#onEvent(parsed.data as ServerEvent);
      // A fatal error (or the consumer closing us from a quote) ends this frame.
      if (this.#ws !== ws || this.#status === 'failed' || this.#status === 'closed') return;
    }
  }

  #onEvent(e: ServerEvent): void {
    switch (e.T) {
      case 't':
        this.#stats.trades++;
        this.#emit({ symbol: e.S, price: priceText(e.p), atMs: e.t, source: 'alpaca' });
        return;
      case 'q': {
        this.#stats.quoteEvents++;
        if (!(e.bp > 0 && e.ap > 0)) {
          this.#stats.ignored++;
          return;
        }
        const mid = dec(priceText(e.bp)).plus(dec(priceText(e.ap))).dividedBy(2);
        this.#emit({ symbol: e.S, price: mid.toFixed(), atMs: e.t, source: 'alpaca-mid' });
        return;
      }
      case REPLAY_CLOCK_EVENT:
        this.#stats.clockEvents++;
        this.#marketTime.next({
          atMs: e.t,
          speed: e.speed,
          ...(e.day !== undefined ? { day: e.day } : {}),
          ...(e.state !== undefined ? { state: e.state as MarketTimeReading['state'] } : {}),
          ...(e.held ? { held: true } : {}),
        });
        return;
      case 'success':
        this.#control.next({ type: 'success', msg: e.msg });
        if (e.msg === 'connected' && this.#status === 'connecting') {
          this.#status = 'authenticating';
          this.#send({ action: 'auth', key: this.#key, secret: this.#secret });
        } else if (e.msg === 'authenticated' && this.#status === 'authenticating') {
          this.#status = 'subscribing';
          this.#send({ action: 'subscribe', trades: this.#trades, quotes: this.#quoteSymbols });
        }
        return;
      case 'subscription':
        this.#control.next({ type: 'subscription', trades: e.trades, quotes: e.quotes });
        if (this.#status === 'subscribing') {
          this.#status = 'streaming';
          this.#failedAttempts = 0;
          this.#connection.next({ type: 'streaming', connection: this.#connections });
          this.#settle?.resolve();
          this.#settle = undefined;
        }
        return;
      case 'error':
        this.#stats.serverErrors++;
        this.#lastError = `server error ${e.code} ${e.msg}`;
        this.#control.next({ type: 'error', code: e.code, msg: e.msg });
        if (this.#status !== 'streaming' && this.#status !== 'closing') {
          this.#fail(new AlpacaStreamError(e.code, `Alpaca stream refused the connection while ${this.#status}: ${e.code} ${e.msg}`));
        }
        return;
    }
  }

  #emit(q: Quote): void {
    this.#stats.emitted++;
    this.#last.set(q.symbol, q);
    this.#lastQuoteMs = q.atMs;
    this.#quotes.next(q);
  }

  // -------------------------------------------------------------------------------------
  // Endings

  /** A fatal error: reject connect(), error the quotes, complete the rest, drop the socket. */
  #fail(err: AlpacaStreamError): void {
    if (this.#status === 'failed' || this.#status === 'closed') return;
    this.#status = 'failed';
    this.#lastError = err.message;
    this.#cancelRetry();
    this.#stopHeartbeat();
    this.#settle?.reject(err);
    this.#settle = undefined;
    this.#connection.next({ type: 'failed', reason: err.message });
    this.#quotes.error(err);
    this.#control.complete();
    this.#connection.complete();
    this.#marketTime.complete();
    const ws = this.#ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.terminate();
  }

  #finish(): void {
    if (this.#status === 'failed' || this.#status === 'closed') return;
    this.#status = 'closed';
    this.#settle?.reject(new AlpacaStreamError('DISCONNECTED', 'closed before the subscription was acknowledged'));
    this.#settle = undefined;
    this.#quotes.complete();
    this.#control.complete();
    this.#connection.complete();
    this.#marketTime.complete();
  }
}

/**
 * The quote stream as a cold Observable: each subscription opens its own connection and
 * closes it on unsubscribe. Connection and server errors arrive as AlpacaStreamError.
 */
export function alpacaQuotes(options: AlpacaQuoteStreamOptions): Observable<Quote> {
  return new Observable<Quote>((subscriber) => {
    const stream = new AlpacaQuoteStream(options);
    const sub = stream.quotes.subscribe(subscriber);
    stream.connect().catch(() => undefined); // the failure also errors `quotes`
    return () => {
      sub.unsubscribe();
      void stream.close();
    };
  });
}
