/**
 * Live quotes from Futu OpenD's pushes (data_source.type broker with broker.type futu), as a
 * QuoteFeed (src/streams/quote-feed.ts); src/runtime/quote-source.ts puts it behind the price
 * sanity gate like every other source.
 *
 * On its own FutuConnection (one WebSocket; the trading adapter keeps its own), each connection's
 * session (before 'listening', so again after every reconnect, an OpenD restart included, since
 * OpenD forgets a connection's subscriptions with it):
 *
 *   Qot_Sub (3001) {securityList: the run's symbols, subTypeList [SubType_Basic], isSubOrUnSub,
 *                   isRegOrUnRegPush: true, isFirstPush: false}
 *   Qot_GetBasicQot (3004) -> the first snapshot (what traded while we were not connected)
 *   then Qot_UpdateBasicQot (3005) pushes, one quote per BasicQot.
 *
 * A quote: `curPrice` (a double) as its shortest round-trip decimal rounded half-even to 3
 * decimals (wire.ts `priceOf`, as order prices), at `updateTimestamp` (seconds), else `updateTime`
 * read in the exchange's zone (SH/SZ Asia/Shanghai, US America/New_York, HK Asia/Hong_Kong): the
 * exchange's time, never our clock. An item that does not parse, has no time, a price that is not
 * a positive finite number, or a security we did not subscribe to is counted malformed and
 * skipped (the others of its push still count). A quote equal to its symbol's last one (same time,
 * same price: a push sent twice, the snapshot after a reconnect) is not emitted again. Anything
 * else goes out: the sanity gate, not this module, judges prices and times.
 *
 * A subscription OpenD refuses is final (a code it does not know, no quote rights for the market,
 * the quota used up): the connection halts, and the error names the symbols refused (each of the
 * refused batch is tried alone to find them). At start that fails `start()`; after a reconnect the
 * feed stays down (health says why) and its quotes go stale, so risk refuses orders on them.
 */
import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import { InputError } from '../../../domain/errors.js';
import type { Quote } from '../../../domain/quotes.js';
import type { ReconnectOptions } from '../../../streams/alpaca-quotes.js';
import type { QuoteFeed, QuoteFeedHealth } from '../../../streams/quote-feed.js';
import { VenueHalted, VenueRefused } from '../venue-adapter.js';
import { FutuConnection, type FutuConnectionEvent } from './connection.js';
import { FUTU_CMDS } from './protos.js';
import type { FutuConnectionSettings } from './settings.js';
import { fromQotSecurity, QOT_MARKETS, toQotSecurity, type QotSecurity } from './symbols.js';
import { BasicQotListS2C, BasicQotWire, priceOf, timeIn } from './wire.js';

export interface FutuQuoteFeedOptions {
  readonly settings: FutuConnectionSettings;
  readonly symbols: readonly string[];
  readonly scheduler: SchedulerLike;
  readonly reconnect?: ReconnectOptions;
  /** Opening handshake timeout (a `ws` option); default 10 000 ms. */
  readonly openTimeoutMs?: number;
}

/** Qot_Common.SubType_Basic: the basic quote (last price and its time). */
const SUB_TYPE_BASIC = 1;
export const FUTU_QUOTE_SOURCE = 'futu';

export type FutuQuoteEvent = FutuConnectionEvent | { readonly type: 'subscribed'; readonly connection: number; readonly symbols: number } | { readonly type: 'skipped'; readonly reason: string };

export class FutuQuoteFeed implements QuoteFeed {
  readonly #conn: FutuConnection;
  readonly #securities: readonly QotSecurity[];
  readonly #ours: ReadonlySet<string>;
  readonly #quotes = new Subject<Quote>();
  readonly #own = new Subject<FutuQuoteEvent>();
  readonly #last = new Map<string, Quote>();
  readonly quotes: Observable<Quote> = this.#quotes.asObservable();
  /** Connection events and the feed's own (subscriptions, items skipped): for logs and tests. */
  readonly events$: Observable<FutuQuoteEvent> = this.#own.asObservable();
  #stats = { quotes: 0, malformed: 0, failures: 0 };
  #lastQuoteMs: number | undefined;
  #lastError: string | undefined;
  #sessions = 0;
  #closed = false;

  constructor(options: FutuQuoteFeedOptions) {
    const unmapped = options.symbols.filter((s) => toQotSecurity(s) === undefined);
    if (unmapped.length > 0) throw new InputError(`Futu OpenD quotes: no Futu security for ${unmapped.join(', ')} (expected 600519.SH, 000001.SZ, 00700.HK or a US ticker)`);
    if (options.symbols.length === 0) throw new InputError('Futu OpenD quotes: expected at least one symbol to subscribe to');
    this.#securities = options.symbols.map((s) => toQotSecurity(s)!);
    this.#ours = new Set(this.#securities.map((s) => fromQotSecurity(s)!));
    const s = options.settings;
    this.#conn = new FutuConnection({
      url: s.url,
      websocketKey: s.websocketKey,
      scheduler: options.scheduler,
      requestTimeoutMs: s.requestTimeoutMs,
      keepAliveIntervalMs: s.keepAliveIntervalMs,
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
      ...(options.openTimeoutMs !== undefined ? { openTimeoutMs: options.openTimeoutMs } : {}),
      onSession: (c) => this.#session(c),
    });
    this.#conn.events$.subscribe((e) => {
      if (e.type === 'disconnected') this.#lastError = `disconnected: ${e.reason}`;
      else if (e.type === 'retrying') this.#stats.failures++;
      else if (e.type === 'halted') this.#lastError = e.message;
      else if (e.type === 'malformed') this.#stats.malformed++;
      this.#own.next(e);
    });
    this.#conn.pushesOf(FUTU_CMDS.Qot_UpdateBasicQot).subscribe((s2c) => this.#onList(s2c, 'Qot_UpdateBasicQot'));
  }

  /** Resolves once subscribed (and the snapshot read) on the first connection; rejects with the refusal when OpenD refuses the symbols. */
  async start(): Promise<void> {
    try {
      await this.#conn.start();
    } catch (e) {
      // A refused key or subscription is the config's to fix: say so as an input error.
      if (e instanceof VenueHalted) throw new InputError(e.message);
      throw e;
    }
  }

  last(symbol: string): Quote | undefined {
    return this.#last.get(symbol);
  }

  isStale(symbol: string, nowMs: number, maxAgeMs: number): boolean {
    const q = this.#last.get(symbol);
    return q === undefined || nowMs - q.atMs > maxAgeMs;
  }

  health(): QuoteFeedHealth {
    return {
      source: FUTU_QUOTE_SOURCE,
      connected: this.#conn.status === 'ready',
      ...(this.#lastQuoteMs !== undefined ? { lastQuoteMs: this.#lastQuoteMs } : {}),
      quotes: this.#stats.quotes,
      malformed: this.#stats.malformed,
      failures: this.#stats.failures,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#conn.close();
    this.#quotes.complete();
    this.#own.complete();
    return Promise.resolve();
  }

  async #session(c: FutuConnection): Promise<void> {
    const n = ++this.#sessions;
    await this.#subscribe(c, this.#securities);
    this.#own.next({ type: 'subscribed', connection: n, symbols: this.#securities.length });
    // The snapshot: a quote that moved while we were away. Pushes follow whether or not it comes,
    // so a failed one costs only that catch-up (a dead link is the keep-alive's to find).
    try {
      this.#onList(await c.request('Qot_GetBasicQot', { securityList: this.#securities }), 'Qot_GetBasicQot');
    } catch (e) {
      this.#lastError = `the snapshot (Qot_GetBasicQot) failed: ${(e as Error).message}`;
    }
  }

  async #subscribe(c: FutuConnection, securities: readonly QotSecurity[]): Promise<void> {
    const sub = (list: readonly QotSecurity[]) => c.request('Qot_Sub', { securityList: list, subTypeList: [SUB_TYPE_BASIC], isSubOrUnSub: true, isRegOrUnRegPush: true, isFirstPush: false });
    try {
      await sub(securities);
    } catch (e) {
      if (!(e instanceof VenueRefused)) throw e; // a timeout or a drop: the next connection tries again
      // Which ones? Each alone (only on this failure path: OpenD rate-limits subscriptions).
      const refused: string[] = [];
      if (securities.length > 1) {
        for (const s of securities) {
          try {
            await sub([s]);
          } catch (one) {
            if (one instanceof VenueRefused) refused.push(`${fromQotSecurity(s)} (${one.message})`);
            else throw one;
          }
        }
      } else refused.push(`${fromQotSecurity(securities[0]!)} (${e.message})`);
      throw new VenueHalted(
        refused.length > 0
          ? `Futu OpenD refused to subscribe to the quotes of ${refused.join('; ')}: check the symbols and the account's quote rights`
          : `Futu OpenD refused to subscribe to the quotes of the ${securities.length} symbols together, though each alone was taken (${e.message}): the subscription quota?`,
      );
    }
  }

  #onList(s2c: Record<string, unknown>, what: string): void {
    const list = BasicQotListS2C.safeParse(s2c);
    if (!list.success) return this.#skip(`${what} that does not parse: ${list.error.issues.map((i) => i.message).join('; ')}`);
    for (const raw of list.data.basicQotList) {
      const item = BasicQotWire.safeParse(raw);
      if (!item.success) {
        this.#skip(`a BasicQot of ${what} that does not parse: ${item.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        continue;
      }
      const q = this.#toQuote(item.data, what);
      if (q) this.#emit(q);
    }
  }

  #toQuote(b: BasicQotWire, what: string): Quote | undefined {
    const symbol = fromQotSecurity(b.security);
    const label = `${b.security.market}:${b.security.code}`;
    if (!symbol || !this.#ours.has(symbol)) return void this.#skip(`${what}: a quote of ${symbol ?? label}, which is not subscribed`);
    if (!Number.isFinite(b.curPrice) || b.curPrice <= 0) return void this.#skip(`${what}: ${symbol} has no price (${b.curPrice})`);
    const atMs = timeIn(b.updateTimestamp, b.updateTime, QOT_MARKETS[b.security.market]!.zone);
    if (atMs === undefined) return void this.#skip(`${what}: ${symbol} has no time (updateTime ${JSON.stringify(b.updateTime ?? '')})`);
    const price = priceOf(b.curPrice);
    // 1e-4 rounds to 0 at 3 decimals: no price either.
    if (!/[1-9]/.test(price)) return void this.#skip(`${what}: ${symbol} has no price (${b.curPrice})`);
    return { symbol, price, atMs, source: FUTU_QUOTE_SOURCE };
  }

  #emit(q: Quote): void {
    const last = this.#last.get(q.symbol);
    if (last && last.atMs === q.atMs && last.price === q.price) return;
    // An older one still goes out (the gate drops it, with its alert); the last stays the newest.
    if (!last || q.atMs >= last.atMs) this.#last.set(q.symbol, q);
    this.#stats.quotes++;
    this.#lastQuoteMs = q.atMs;
    this.#quotes.next(q);
  }

  #skip(reason: string): void {
    this.#stats.malformed++;
    this.#own.next({ type: 'skipped', reason });
  }
}
