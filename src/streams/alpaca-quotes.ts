/**
 * A minimal client of the Alpaca market-data v2 WebSocket stream (wss://stream.data.alpaca.markets/v2/<feed>),
 * with `ws`, turning trades (and quote midpoints) into `Quote`s on an RxJS stream.
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
 * - An `error` event before the subscription is acknowledged (bad key: 402, ...) fails
 *   `connect()` and errors the quote stream with an AlpacaStreamError carrying the server's
 *   code and message; after it, errors are counted and published on `control`.
 * - The key and secret are sent in the auth frame and nowhere else: they are kept in private
 *   fields, never put in an error, a log line or a control event.
 * - `close()` sends a normal close, waits for the socket to close (terminating it after
 *   `closeTimeoutMs`), and completes the streams. A connection dropped by the other side
 *   errors the quote stream with an AlpacaStreamError (`DISCONNECTED`).
 *
 * This first version connects once. Reconnection with exponential back-off, resubscription
 * after a reconnect, heartbeat (ping/pong) detection of dead connections and per-symbol
 * staleness belong to the paper-trading issue (8) and will be added there.
 */
import { Observable, Subject } from 'rxjs';
import WebSocket from 'ws';
import { z } from 'zod';
import { dec } from '../domain/money.js';
import type { Quote } from '../domain/quotes.js';

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
  /** WebSocket opening handshake timeout; default 10 000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** How long `close()` waits for the closing handshake before terminating; default 1 000 ms. */
  readonly closeTimeoutMs?: number;
}

export type AlpacaStreamStatus = 'idle' | 'connecting' | 'authenticating' | 'subscribing' | 'streaming' | 'closing' | 'closed' | 'failed';

/** Control events from the server, for diagnostics. */
export type AlpacaControl =
  | { readonly type: 'success'; readonly msg: string }
  | { readonly type: 'subscription'; readonly trades: readonly string[]; readonly quotes: readonly string[] }
  | { readonly type: 'error'; readonly code: number; readonly msg: string };

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
const SCHEMAS: Readonly<Record<string, z.ZodType>> = { t: TradeEvent, q: QuoteEvent, success: SuccessEvent, error: ErrorEvent, subscription: SubscriptionEvent };

/** A JSON number as a decimal string: its shortest round-trip form, never with an exponent. */
export function priceText(n: number): string {
  return dec(n).toFixed();
}

export class AlpacaQuoteStream {
  readonly #url: string;
  readonly #key: string;
  readonly #secret: string;
  readonly #trades: readonly string[];
  readonly #quoteSymbols: readonly string[];
  readonly #onMalformed: AlpacaQuoteStreamOptions['onMalformed'];
  readonly #handshakeTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #quotes = new Subject<Quote>();
  readonly #control = new Subject<AlpacaControl>();
  readonly #stats: AlpacaStreamStats = { frames: 0, events: 0, trades: 0, quoteEvents: 0, emitted: 0, malformed: 0, ignored: 0, serverErrors: 0 };
  #status: AlpacaStreamStatus = 'idle';
  #ws: WebSocket | undefined;
  #connecting: Promise<void> | undefined;
  #settle: { resolve: () => void; reject: (e: AlpacaStreamError) => void } | undefined;
  #closed: Promise<void> | undefined;
  #socketError: Error | undefined;

  /** Quotes, hot: subscribe before `connect()` to see every one. */
  readonly quotes: Observable<Quote> = this.#quotes.asObservable();
  /** success / subscription / error events from the server. */
  readonly control: Observable<AlpacaControl> = this.#control.asObservable();

  constructor(options: AlpacaQuoteStreamOptions) {
    this.#url = options.url;
    this.#key = options.key;
    this.#secret = options.secret;
    this.#trades = options.trades ?? [];
    this.#quoteSymbols = options.quotes ?? [];
    this.#onMalformed = options.onMalformed;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 1_000;
  }

  get status(): AlpacaStreamStatus {
    return this.#status;
  }

  stats(): Readonly<AlpacaStreamStats> {
    return { ...this.#stats };
  }

  /** Connect, authenticate and subscribe; resolves once the subscription is acknowledged. */
  connect(): Promise<void> {
    if (this.#connecting) return this.#connecting;
    this.#connecting = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.#status = 'connecting';
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#url, { handshakeTimeout: this.#handshakeTimeoutMs });
    } catch (err) {
      this.#fail(new AlpacaStreamError('SOCKET', `cannot connect to the Alpaca stream: ${err instanceof Error ? err.message : String(err)}`));
      return this.#connecting;
    }
    this.#ws = ws;
    ws.on('message', (data, isBinary) => this.#onFrame(isBinary ? '' : data.toString()));
    ws.on('error', (err) => {
      this.#socketError = err;
    });
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    return this.#connecting;
  }

  /** Close the connection and complete the streams. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    const ws = this.#ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) {
      this.#finish();
      return (this.#closed = Promise.resolve());
    }
    if (this.#status !== 'failed') this.#status = 'closing';
    this.#closed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => ws.terminate(), this.#closeTimeoutMs);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, 'client closing');
    return this.#closed;
  }

  // -------------------------------------------------------------------------------------

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
      this.#onEvent(parsed.data as z.infer<typeof TradeEvent> | z.infer<typeof QuoteEvent> | z.infer<typeof SuccessEvent> | z.infer<typeof ErrorEvent> | z.infer<typeof SubscriptionEvent>);
      if (this.#status === 'failed' || this.#status === 'closed') return;
    }
  }

  #onEvent(
    e: z.infer<typeof TradeEvent> | z.infer<typeof QuoteEvent> | z.infer<typeof SuccessEvent> | z.infer<typeof ErrorEvent> | z.infer<typeof SubscriptionEvent>,
  ): void {
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
          this.#settle?.resolve();
          this.#settle = undefined;
        }
        return;
      case 'error':
        this.#stats.serverErrors++;
        this.#control.next({ type: 'error', code: e.code, msg: e.msg });
        if (this.#status !== 'streaming' && this.#status !== 'closing') {
          this.#fail(new AlpacaStreamError(e.code, `Alpaca stream refused the connection while ${this.#status}: ${e.code} ${e.msg}`));
        }
        return;
    }
  }

  #emit(q: Quote): void {
    this.#stats.emitted++;
    this.#quotes.next(q);
  }

  /** A fatal error: reject connect(), error the streams, drop the socket. */
  #fail(err: AlpacaStreamError): void {
    if (this.#status === 'failed' || this.#status === 'closed') return;
    this.#status = 'failed';
    this.#settle?.reject(err);
    this.#settle = undefined;
    this.#quotes.error(err);
    this.#control.complete();
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
  }

  #onClose(code: number, reason: string): void {
    if (this.#status === 'closing') {
      this.#finish();
      return;
    }
    const cause = this.#socketError ? `: ${this.#socketError.message}` : '';
    const why = reason ? ` (${reason})` : '';
    this.#fail(
      this.#socketError && this.#status === 'connecting'
        ? new AlpacaStreamError('SOCKET', `cannot connect to the Alpaca stream${cause}`)
        : new AlpacaStreamError('DISCONNECTED', `the Alpaca stream closed while ${this.#status}, code ${code}${why}${cause}`),
    );
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
