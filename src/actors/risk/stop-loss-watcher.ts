/**
 * The stop-loss watcher: every position of every signature is checked on each quote of its
 * symbol (not only at session instants), and a protective market sell goes out when a rule of
 * src/domain/risk/stop-loss.ts fires. It is plain code driven by two calls, so the risk actor
 * (or a test, or the bench) owns it:
 * - `onQuote(quote)`: from the quote stream (bar-quotes in a backtest, the Alpaca stream live);
 * - `onResult(result)`: the `order.result` of a protective order (the risk actor forwards them:
 *   protective orders are placed with `replyTo: 'risk'`).
 * Time comes only from the injected `now()`; the calendar functions are injected too.
 *
 * Per position (signature x symbol) the watcher keeps one record, in one of four phases:
 * - watching  -> a rule fires: the trigger is COMMITTED (a later recovery does not undo it) and
 *                an attempt is made;
 * - pending   -> one sell is in flight; quotes do nothing (at most one order per position);
 * - deferred  -> the sell cannot go out now; it is attempted again on the first quote that
 *                qualifies: `open` = at/after an instant (the next open for MARKET_CLOSED, the
 *                next trading day's open for T_PLUS_ONE), `aboveLimitDown` = the price trades
 *                above limit-down (with `prevClose`), or above the price it was refused at
 *                (without `prevClose`);
 * - done      -> filled, or failed with an alert; quiet until the position is closed or bought into.
 * An attempt: market closed -> deferred to the next open; nothing sellable (A-share bought
 * today) -> deferred to the next trading day's open; at limit-down -> deferred until above it;
 * else ONE market sell of the sellable shares. Shares held back by T+1 (bought today, when
 * older lots exist) are sold by a follow-up order at the next trading day's open, once the
 * first one filled. Rejections PRICE_LIMIT / MARKET_CLOSED / T_PLUS_ONE re-arm by the same
 * rules; any other end (rejected, cancelled, expired, denied) -> done + a critical alert. After
 * `maxAttempts` orders for one position the watcher gives up with an alert.
 *
 * Position identity: the ledger's Account is immutable, so a position's object changes only
 * when that symbol fills. A changed position is the SAME position when it shrank (or stayed)
 * at the same average cost (a sell, ours or the agent's); it is a NEW position when it grew or
 * its average cost moved (a buy), and a position that disappears (closed) drops its record. A
 * new position is watched afresh (new cost, new high-water mark). Limit of the rule: a close
 * followed by a re-buy of no more shares at exactly the same average cost, between two quotes
 * of the symbol, looks like the same position (its thresholds would be the same anyway).
 *
 * Cheap per quote: an index symbol -> holding signatures, refreshed per signature only when the
 * signature's positions object changes (one reference compare per signature per quote); for
 * each holder one or two decimal multiplications and comparisons (thresholds are precomputed
 * per position).
 *
 * Client order ids are deterministic: `clientOrderId(signature, market, at, 'SL-<symbol>')`, with
 * `-<n>` appended from the second order for a position key on (`SL-AAPL-2`), so a retry in the
 * same minute does not collide. The watcher passes the id to `placeOrder`; use it as is.
 *
 * Restarts: `snapshot()` / `restore()` carry the records as JSON; without them a restarted
 * watcher starts from the positions (a protective order still in flight is resumed by the
 * engine, its result is then unknown here and ignored).
 *
 * `revision` moves exactly when what `snapshot()` returns changes, so the commit asks for a
 * snapshot only then (building and comparing it at every commit was 11% of a big backtest's
 * CPU, issue 20). The types enforce it: the snapshotted fields of a record and the three maps
 * are readonly, and every write goes through `#set` / `#put` / `#drop` / `restore`.
 */
import { DateTime } from 'luxon';
import { clientOrderId } from '../../domain/ids.js';
import { MARKET_RULES, checkPriceLimit } from '../../domain/market-rules.js';
import { MARKETS, type Market } from '../../domain/markets.js';
import { Dec, dec } from '../../domain/money.js';
import type { OrderIntent, OrderResult } from '../../domain/orders.js';
import { COST_DECIMALS, type Position } from '../../domain/portfolio.js';
import type { Quote } from '../../domain/quotes.js';
import { renderReason, type ReasonCode } from '../../domain/reasons.js';
import {
  anyStopRule,
  describeTrigger,
  protectiveSell,
  sellableShares,
  stopLevels,
  triggeredBy,
  withHighWater,
  type StopLevels,
  type StopRatios,
  type StopTrigger,
} from '../../domain/risk/stop-loss.js';

export interface StopLossAlert {
  readonly level: 'warning' | 'critical';
  /** STOP_LOSS_ORDER_FAILED | STOP_LOSS_GAVE_UP | STOP_LOSS_WATCHER_ERROR */
  readonly code: string;
  readonly message: string;
  readonly signature?: string;
  readonly symbol?: string;
  readonly clientOrderId?: string;
}

export interface StopLossWatcherDeps {
  readonly market: Market;
  readonly ratios: StopRatios;
  readonly signatures: readonly string[];
  /** The signature's current positions (e.g. `ledger.account(signature).positions`). */
  positions(signature: string): Readonly<Record<string, Position>>;
  /** Epoch ms of the injected clock. */
  now(): number;
  /** The calendar's; asked once per wall-clock minute (exchange hours fall on whole minutes). */
  isOpenAt(market: Market, instant: DateTime): boolean;
  nextOpen(market: Market, instant: DateTime): DateTime;
  /**
   * Send one protective market sell (the lead: `engine.placeOrder` with `replyTo: 'risk'` and
   * this client order id). Must not throw; a throw is reported as an alert and ends the position's watch.
   */
  placeOrder(signature: string, intent: OrderIntent, reason: StopTrigger, atIso: string, clientOrderId: string): void;
  /** Previous session's close as of now (daily band, limit-down); absent = no band check. */
  prevClose?(symbol: string): Dec | undefined;
  alert?(alert: StopLossAlert): void;
  /** Orders per position before giving up; default 10. */
  readonly maxAttempts?: number;
  /** A MARKET_CLOSED rejection while the calendar says open is retried no sooner than this; default 60 000. */
  readonly closedRetryMs?: number;
}

type Phase =
  | { readonly kind: 'watching' }
  | { readonly kind: 'pending'; readonly clientOrderId: string; readonly quantity: number; readonly followUp: boolean; readonly price: Dec }
  | { readonly kind: 'deferred'; readonly until: 'open'; readonly atMs: number; readonly because: ReasonCode }
  | { readonly kind: 'deferred'; readonly until: 'aboveLimitDown'; readonly price: Dec }
  | { readonly kind: 'done'; readonly outcome: 'filled' | 'failed' };

export type StopPhase = Phase['kind'];

/** What a record contributes to `snapshot()`: readonly here, written only by `#set` (which moves `revision`). */
interface Snapshotted {
  readonly quantity: number;
  readonly costBasis: Dec;
  readonly highWater: Dec | undefined;
  readonly trigger: StopTrigger | undefined;
  readonly detail: string | undefined;
  readonly phase: Phase;
  readonly attempts: number;
  readonly changedWhilePending: boolean;
}

interface Rec extends Snapshotted {
  readonly key: string;
  readonly signature: string;
  readonly symbol: string;
  /** The position object last seen (identity fast path); undefined after a restore. Not snapshotted. */
  pos: Position | undefined;
  /** Derived from the snapshotted fields and the ratios. Not snapshotted. */
  levels: StopLevels;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** What `onResult` did with a result. */
export type StopResultOutcome = 'unknown' | 'stale' | 'queued' | 'done' | 'follow-up' | 'retry' | 'failed' | 'rewatch';

export interface StopLossStats {
  quotes: number;
  /** Quotes of a symbol someone holds. */
  quotesHeld: number;
  /** Position checks (holders x quotes). */
  checks: number;
  triggers: number;
  orders: number;
  deferrals: number;
  failures: number;
  errors: number;
}

/** JSON form of the watcher's state (decimals as strings). */
export interface StopLossWatcherSnapshot {
  readonly version: 1;
  readonly records: readonly {
    signature: string;
    symbol: string;
    quantity: number;
    costBasis: string;
    highWater?: string;
    trigger?: StopTrigger;
    detail?: string;
    phase: Record<string, unknown> & { kind: StopPhase };
    attempts: number;
    changedWhilePending: boolean;
  }[];
  readonly orders: readonly [string, string][];
  readonly seq: readonly [string, number][];
}

const RETRYABLE = new Set<ReasonCode>(['PRICE_LIMIT', 'MARKET_CLOSED', 'T_PLUS_ONE']);
const SEP = '\u0000';
const COST_TOLERANCE = dec(10).pow(-COST_DECIMALS);

interface Instant {
  readonly ms: number;
  readonly at: DateTime;
  readonly atIso: string;
  /** Exchange-local date. */
  readonly today: string;
  readonly open: boolean;
  id(signature: string, index: string): string;
}
const SIG_SLOT = '\u0001';
const INDEX_SLOT = '\u0002';

interface Held {
  ref: Readonly<Record<string, Position>> | undefined;
  symbols: ReadonlySet<string>;
}

export class StopLossWatcher {
  readonly #d: StopLossWatcherDeps;
  readonly #zone: string;
  readonly #tPlusOne: boolean;
  readonly #active: boolean;
  readonly #maxAttempts: number;
  readonly #closedRetryMs: number;
  readonly #held = new Map<string, Held>();
  /** symbol -> signatures holding it; arrays are replaced, never mutated (safe to iterate while re-entered). */
  readonly #holders = new Map<string, readonly string[]>();
  // The snapshotted maps: readonly views, written only through #put / #drop / restore (which move #revision).
  readonly #records: ReadonlyMap<string, Rec> = new Map<string, Rec>();
  /** clientOrderId -> record key, for orders in flight. */
  readonly #orders: ReadonlyMap<string, string> = new Map<string, string>();
  /** record key -> orders issued so far (client order id suffix), kept across positions. */
  readonly #seq: ReadonlyMap<string, number> = new Map<string, number>();
  #revision = 0;
  #lastInstant: Instant | undefined;
  #lastMinute: { readonly minuteMs: number; readonly today: string; readonly open: boolean; id(signature: string, index: string): string } | undefined;
  readonly #stats: StopLossStats = { quotes: 0, quotesHeld: 0, checks: 0, triggers: 0, orders: 0, deferrals: 0, failures: 0, errors: 0 };

  constructor(deps: StopLossWatcherDeps) {
    this.#d = deps;
    this.#zone = MARKETS[deps.market].zone;
    this.#tPlusOne = MARKET_RULES[deps.market].tPlusOne;
    this.#active = anyStopRule(deps.ratios);
    this.#maxAttempts = deps.maxAttempts ?? 10;
    this.#closedRetryMs = deps.closedRetryMs ?? 60_000;
    for (const s of deps.signatures) this.#held.set(s, { ref: undefined, symbols: new Set() });
  }

  /** Check every position holding `quote.symbol`. */
  onQuote(quote: Quote): void {
    this.#stats.quotes++;
    if (!this.#active) return;
    try {
      this.#refresh();
    } catch (err) {
      this.#error(err);
      return;
    }
    const holders = this.#holders.get(quote.symbol);
    if (holders === undefined || holders.length === 0) return;
    this.#stats.quotesHeld++;
    let price: Dec;
    try {
      price = dec(quote.price);
    } catch (err) {
      this.#error(err);
      return;
    }
    const nowMs = this.#d.now();
    for (const signature of holders) {
      try {
        const pos = this.#held.get(signature)?.ref?.[quote.symbol];
        if (pos === undefined) continue;
        this.#stats.checks++;
        const rec = this.#record(signature, quote.symbol, pos);
        this.#sync(rec, pos);
        this.#step(rec, pos, price, nowMs);
      } catch (err) {
        this.#error(err, signature, quote.symbol);
      }
    }
  }

  /** The result of a protective order (forwarded by the risk actor). */
  onResult(result: OrderResult): StopResultOutcome {
    const id = result.clientOrderId;
    const key = this.#orders.get(id);
    if (key === undefined) return 'unknown';
    if (result.status === 'queued') return 'queued';
    this.#drop(this.#orders, id);
    const rec = this.#records.get(key);
    if (rec === undefined || rec.phase.kind !== 'pending' || rec.phase.clientOrderId !== id) return 'stale';
    const pending = rec.phase;
    if (rec.changedWhilePending) {
      this.#reset(rec);
      return 'rewatch';
    }
    if (result.status === 'filled') {
      if (pending.followUp) {
        this.#defer(rec, { kind: 'deferred', until: 'open', atMs: this.#nextTradingOpen(this.#at(this.#d.now())), because: 'T_PLUS_ONE' });
        return 'follow-up';
      }
      this.#set(rec, { phase: { kind: 'done', outcome: 'filled' } });
      return 'done';
    }
    if (result.status === 'rejected' && result.reason !== undefined && RETRYABLE.has(result.reason)) {
      if (rec.attempts >= this.#maxAttempts) {
        this.#giveUp(rec, `${rec.attempts} orders, the last rejected with ${result.reason}`, id);
        return 'failed';
      }
      const at = this.#at(this.#d.now());
      if (result.reason === 'PRICE_LIMIT') this.#defer(rec, { kind: 'deferred', until: 'aboveLimitDown', price: pending.price });
      else if (result.reason === 'T_PLUS_ONE') this.#defer(rec, { kind: 'deferred', until: 'open', atMs: this.#nextTradingOpen(at), because: 'T_PLUS_ONE' });
      else {
        const open = this.#d.nextOpen(this.#d.market, at).toMillis();
        const atMs = open > at.toMillis() ? open : at.toMillis() + this.#closedRetryMs;
        this.#defer(rec, { kind: 'deferred', until: 'open', atMs, because: 'MARKET_CLOSED' });
      }
      return 'retry';
    }
    this.#set(rec, { phase: { kind: 'done', outcome: 'failed' } });
    this.#stats.failures++;
    const why = result.reason !== undefined ? renderReason(result.reason, result.message) : (result.message ?? 'no reason given');
    this.#d.alert?.({
      level: 'critical',
      code: 'STOP_LOSS_ORDER_FAILED',
      message:
        `${rec.trigger ?? 'protective'} sell of ${pending.quantity} ${rec.symbol} for ${rec.signature} ended ${result.status} ` +
        `(${result.filledQuantity} filled): ${why}; the position is no longer protected until it changes`,
      signature: rec.signature,
      symbol: rec.symbol,
      clientOrderId: id,
    });
    return 'failed';
  }

  /** The phase of a position's record (undefined: not seen yet, or closed). */
  phaseOf(signature: string, symbol: string): StopPhase | undefined {
    return this.#records.get(signature + SEP + symbol)?.phase.kind;
  }

  stats(): Readonly<StopLossStats> {
    return { ...this.#stats };
  }

  /** Moves whenever what `snapshot()` returns changes (and only then, but for `restore`): the commit's cue. */
  get revision(): number {
    return this.#revision;
  }

  snapshot(): StopLossWatcherSnapshot {
    const records = [...this.#records.values()].map((r) => ({
      signature: r.signature,
      symbol: r.symbol,
      quantity: r.quantity,
      costBasis: r.costBasis.toFixed(),
      ...(r.highWater !== undefined ? { highWater: r.highWater.toFixed() } : {}),
      ...(r.trigger !== undefined ? { trigger: r.trigger } : {}),
      ...(r.detail !== undefined ? { detail: r.detail } : {}),
      phase: Object.fromEntries(Object.entries(r.phase).map(([k, v]) => [k, v instanceof Dec ? v.toFixed() : v])) as StopLossWatcherSnapshot['records'][number]['phase'],
      attempts: r.attempts,
      changedWhilePending: r.changedWhilePending,
    }));
    return { version: 1, records, orders: [...this.#orders], seq: [...this.#seq] };
  }

  /** Replace the state with a snapshot (positions are re-read on the next quote). */
  restore(s: StopLossWatcherSnapshot): void {
    const records = this.#records as Map<string, Rec>;
    const orders = this.#orders as Map<string, string>;
    const seq = this.#seq as Map<string, number>;
    records.clear();
    orders.clear();
    seq.clear();
    this.#revision++;
    for (const h of this.#held.values()) h.ref = undefined;
    for (const r of s.records) {
      const costBasis = dec(r.costBasis);
      const highWater = r.highWater !== undefined ? dec(r.highWater) : undefined;
      const p = r.phase as Record<string, unknown>;
      const phase = (typeof p['price'] === 'string' ? { ...p, price: dec(p['price']) } : p) as unknown as Phase;
      const key = r.signature + SEP + r.symbol;
      records.set(key, {
        key,
        signature: r.signature,
        symbol: r.symbol,
        pos: undefined,
        quantity: r.quantity,
        costBasis,
        highWater,
        levels: stopLevels(costBasis, r.quantity, this.#d.ratios, highWater),
        trigger: r.trigger,
        detail: r.detail,
        phase,
        attempts: r.attempts,
        changedWhilePending: r.changedWhilePending,
      });
    }
    for (const [id, key] of s.orders) orders.set(id, key);
    for (const [key, n] of s.seq) seq.set(key, n);
  }

  // -------------------------------------------------------------------------------------

  /** The one way to change a record's snapshotted fields: callers pass only real changes. */
  #set(rec: Rec, change: Partial<Snapshotted>): void {
    Object.assign(rec as Writable<Rec>, change);
    this.#revision++;
  }

  #put<V>(map: ReadonlyMap<string, V>, key: string, value: V): void {
    (map as Map<string, V>).set(key, value);
    this.#revision++;
  }

  #drop<V>(map: ReadonlyMap<string, V>, key: string): void {
    if ((map as Map<string, V>).delete(key)) this.#revision++;
  }

  /** Re-index the signatures whose positions object changed; drop records of closed positions. */
  #refresh(): void {
    for (const [signature, held] of this.#held) {
      const ref = this.#d.positions(signature);
      if (ref === held.ref) continue;
      const now = new Set(Object.keys(ref));
      for (const symbol of held.symbols) {
        if (now.has(symbol)) continue;
        this.#drop(this.#records, signature + SEP + symbol);
        this.#holders.set(symbol, (this.#holders.get(symbol) ?? []).filter((s) => s !== signature));
      }
      for (const symbol of now) {
        if (held.symbols.has(symbol)) continue;
        this.#holders.set(symbol, [...(this.#holders.get(symbol) ?? []), signature]);
      }
      held.ref = ref;
      held.symbols = now;
    }
  }

  #record(signature: string, symbol: string, pos: Position): Rec {
    const key = signature + SEP + symbol;
    let rec = this.#records.get(key);
    if (rec === undefined) {
      rec = {
        key,
        signature,
        symbol,
        pos,
        quantity: pos.quantity,
        costBasis: pos.costBasis,
        highWater: undefined,
        levels: stopLevels(pos.costBasis, pos.quantity, this.#d.ratios),
        trigger: undefined,
        detail: undefined,
        phase: { kind: 'watching' },
        attempts: 0,
        changedWhilePending: false,
      };
      this.#put(this.#records, key, rec);
    }
    return rec;
  }

  /** Bring the record up to date with the position; a bought-into position is a new one. */
  #sync(rec: Rec, pos: Position): void {
    if (rec.pos === pos) return;
    rec.pos = pos;
    if (pos.quantity === rec.quantity && pos.costBasis.equals(rec.costBasis)) return;
    // Same average cost: |cb' x Q - cb x q'| within the ledger's rounding of a partial sell's removed cost.
    const sameAverage = pos.costBasis.times(rec.quantity).minus(rec.costBasis.times(pos.quantity)).abs().lte(COST_TOLERANCE.times(rec.quantity));
    const same = pos.quantity <= rec.quantity && sameAverage;
    this.#set(rec, { quantity: pos.quantity, costBasis: pos.costBasis });
    if (same || rec.phase.kind === 'watching') {
      // A shrinking position keeps its phase; a watched one that grew keeps its high-water mark.
      rec.levels = stopLevels(pos.costBasis, pos.quantity, this.#d.ratios, rec.highWater);
      return;
    }
    if (rec.phase.kind === 'pending') {
      this.#set(rec, { changedWhilePending: true });
      rec.levels = stopLevels(pos.costBasis, pos.quantity, this.#d.ratios, rec.highWater);
      return;
    }
    this.#reset(rec);
  }

  /** Watch afresh: a new position (new cost, new high-water mark). */
  #reset(rec: Rec): void {
    this.#set(rec, { highWater: undefined, trigger: undefined, detail: undefined, phase: { kind: 'watching' }, attempts: 0, changedWhilePending: false });
    rec.levels = stopLevels(rec.costBasis, rec.quantity, this.#d.ratios);
  }

  #step(rec: Rec, pos: Position, price: Dec, nowMs: number): void {
    const phase = rec.phase;
    switch (phase.kind) {
      case 'watching': {
        if (this.#d.ratios.trailingStop !== undefined && (rec.highWater === undefined || price.gt(rec.highWater))) {
          this.#set(rec, { highWater: price });
          rec.levels = withHighWater(rec.levels, this.#d.ratios, price);
        }
        const trigger = triggeredBy(rec.levels, price);
        if (trigger === undefined) return;
        this.#stats.triggers++;
        this.#set(rec, { trigger, detail: describeTrigger(trigger, rec.symbol, price, rec.levels, this.#d.ratios) });
        this.#attempt(rec, pos, price, nowMs);
        return;
      }
      case 'deferred': {
        if (phase.until === 'open') {
          if (nowMs >= phase.atMs) this.#attempt(rec, pos, price, nowMs);
          return;
        }
        const prevClose = this.#d.prevClose?.(rec.symbol);
        const clear =
          prevClose !== undefined
            ? checkPriceLimit(this.#d.market, { symbol: rec.symbol, side: 'sell', price, prevClose }) === undefined
            : price.gt(phase.price);
        if (clear) this.#attempt(rec, pos, price, nowMs);
        return;
      }
      case 'pending':
      case 'done':
        return;
    }
  }

  /** The trigger is committed: sell now if the rules allow, else defer by them. */
  #attempt(rec: Rec, pos: Position, price: Dec, nowMs: number): void {
    const instant = this.#instant(nowMs);
    const { at, today, atIso } = instant;
    if (!instant.open) {
      this.#defer(rec, { kind: 'deferred', until: 'open', atMs: this.#d.nextOpen(this.#d.market, at).toMillis(), because: 'MARKET_CLOSED' });
      return;
    }
    const sell = protectiveSell(this.#d.market, {
      symbol: rec.symbol,
      quantity: pos.quantity,
      sellable: sellableShares(pos.lots, today, this.#tPlusOne),
      price,
      prevClose: this.#d.prevClose?.(rec.symbol),
      today,
    });
    if (sell.blocked !== undefined) {
      if (sell.blocked.reason === 'PRICE_LIMIT') this.#defer(rec, { kind: 'deferred', until: 'aboveLimitDown', price });
      else this.#defer(rec, { kind: 'deferred', until: 'open', atMs: this.#nextTradingOpen(at), because: sell.blocked.reason });
      return;
    }
    if (rec.attempts >= this.#maxAttempts) {
      this.#giveUp(rec, `${rec.attempts} orders did not close it`);
      return;
    }
    this.#set(rec, { attempts: rec.attempts + 1 });
    const id = this.#nextId(rec, instant);
    const trigger = rec.trigger ?? 'STOP_LOSS';
    // State first: placeOrder may re-enter (a simulated broker answering synchronously).
    this.#set(rec, { phase: { kind: 'pending', clientOrderId: id, quantity: sell.quantity, followUp: sell.heldBack > 0, price }, changedWhilePending: false });
    this.#put(this.#orders, id, rec.key);
    this.#stats.orders++;
    try {
      this.#d.placeOrder(rec.signature, { side: 'sell', symbol: rec.symbol, quantity: sell.quantity, type: 'market' }, trigger, atIso, id);
    } catch (err) {
      this.#drop(this.#orders, id);
      this.#set(rec, { phase: { kind: 'done', outcome: 'failed' } });
      this.#stats.failures++;
      this.#error(err, rec.signature, rec.symbol, id);
    }
  }

  #defer(rec: Rec, phase: Extract<Phase, { kind: 'deferred' }>): void {
    this.#set(rec, { phase });
    this.#stats.deferrals++;
  }

  #giveUp(rec: Rec, why: string, id?: string): void {
    this.#set(rec, { phase: { kind: 'done', outcome: 'failed' } });
    this.#stats.failures++;
    this.#d.alert?.({
      level: 'critical',
      code: 'STOP_LOSS_GAVE_UP',
      message: `${rec.trigger ?? 'protective'} exit of ${rec.symbol} for ${rec.signature} given up after ${why} (${rec.detail ?? 'no detail'})`,
      signature: rec.signature,
      symbol: rec.symbol,
      ...(id !== undefined ? { clientOrderId: id } : {}),
    });
  }

  #nextId(rec: Rec, instant: Instant): string {
    const n = (this.#seq.get(rec.key) ?? 0) + 1;
    this.#put(this.#seq, rec.key, n);
    return instant.id(rec.signature, n === 1 ? `SL-${rec.symbol}` : `SL-${rec.symbol}-${n}`);
  }

  /**
   * The calendar facts of one instant, computed once for all the holders a quote fires for
   * (luxon and the calendar cost tens of microseconds a call). Whether the market is open, the
   * exchange date and the client order id (minute precision) are kept per minute: exchange
   * hours, day boundaries and zone offset changes all fall on whole minutes. The id template
   * comes from `clientOrderId` itself, with placeholders for the signature and the index.
   */
  #instant(ms: number): Instant {
    const last = this.#lastInstant;
    if (last !== undefined && last.ms === ms) return last;
    const minuteMs = Math.floor(ms / 60_000) * 60_000;
    let minute = this.#lastMinute;
    if (minute === undefined || minute.minuteMs !== minuteMs) {
      const at = this.#at(minuteMs);
      const template = clientOrderId(SIG_SLOT, this.#d.market, at.toISO()!, INDEX_SLOT);
      minute = {
        minuteMs,
        today: at.toISODate()!,
        open: this.#d.isOpenAt(this.#d.market, at),
        id: (signature, index) => template.replace(SIG_SLOT, () => signature).replace(INDEX_SLOT, () => index),
      };
      this.#lastMinute = minute;
    }
    const at = this.#at(ms);
    const instant: Instant = { ms, at, atIso: at.toISO()!, today: minute.today, open: minute.open, id: minute.id };
    this.#lastInstant = instant;
    return instant;
  }

  #at(ms: number): DateTime {
    return DateTime.fromMillis(ms, { zone: this.#zone });
  }

  /** The first open of a later trading day than `at`'s (T+1). */
  #nextTradingOpen(at: DateTime): number {
    return this.#d.nextOpen(this.#d.market, at.plus({ days: 1 }).startOf('day')).toMillis();
  }

  #error(err: unknown, signature?: string, symbol?: string, id?: string): void {
    this.#stats.errors++;
    this.#d.alert?.({
      level: 'critical',
      code: 'STOP_LOSS_WATCHER_ERROR',
      message: `stop-loss watcher${symbol ? ` (${symbol}${signature ? ` of ${signature}` : ''})` : ''}: ${err instanceof Error ? err.message : String(err)}`,
      ...(signature !== undefined ? { signature } : {}),
      ...(symbol !== undefined ? { symbol } : {}),
      ...(id !== undefined ? { clientOrderId: id } : {}),
    });
  }
}
