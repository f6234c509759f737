/**
 * The Alpaca broker: our `Broker` (broker.ts) on Alpaca's trading API, through the thin REST
 * client (rest.ts) and the trade_updates stream (trade-stream.ts). Its `updates$` speaks what the
 * SimulatedBroker speaks (broker.accepted / rejected / fill / cancelled / expired), so the order
 * machine and the broker actor do not know which venue they drive. Our client order id is
 * Alpaca's `client_order_id`; `brokerOrderId` is Alpaca's order id.
 *
 * Invariants (each has a test in test/actors/alpaca-broker*.test.ts):
 * - Every fill comes out on `updates$` exactly once, whichever way it is learned (the stream, a
 *   REST catch-up, a `status` call), twice-sent or out of order: a fill is known by its execution
 *   id (`fillId` = Alpaca's `execution_id`) and by its order's cumulative quantity after it
 *   (`order.filled_qty` on the stream, `cum_qty` on a FILL activity), so the same execution learned
 *   by two roads is one fill whatever id each road gives it.
 * - `broker.accepted` comes at most once per order, before its first fill (a fill seen before the
 *   `new` brings its acceptance first), and never after a terminal answer (filled, cancelled,
 *   expired, rejected); a terminal answer comes at most once, after every fill the broker reports
 *   for the order (a `canceled` whose order snapshot shows more filled than we have waits for the
 *   missing fills from /v2/account/activities).
 * - An unknown outcome is never resubmitted blindly. A submit that timed out, lost its connection
 *   or got a 5xx asks `/v2/orders:by_client_order_id` first: found, the order is adopted (its
 *   state is replayed onto `updates$`); not found, it is sent again (same client order id, after
 *   the back-off), at most `maxRetries` times. A 422 "client_order_id must be unique" means Alpaca
 *   has it: adopted the same way. A 429 was not carried out: sent again after Retry-After. When
 *   nothing settles it, `submit` rejects (the broker actor tells the order `broker.disconnected`,
 *   and it reconciles by status).
 * - 403 / 422 (other than unique) reject the order: `broker.rejected` with a reason code from
 *   errors.ts REFUSAL_REASONS and Alpaca's own message. 401 is a halt: `halts$` emits, the call
 *   throws AlpacaOperationalError, and every later submit throws it too without reaching Alpaca
 *   (bad keys retried get an account locked), until `resume()`.
 * - Updates of orders that are not ours (`isOurs(client_order_id)` false: the user's own app) go
 *   to `external$`, never to `updates$`.
 * - After every (re)connect of the stream, every order of ours not known to be terminal is asked
 *   by REST, so an update sent while we were disconnected is not lost.
 * - Time comes from the injected scheduler only (`tsEvent`, deadlines, back-off).
 *
 * Updates of one order are handled one after the other (a promise chain per order), so a REST
 * catch-up in the middle keeps their order. `positions()` and `balance()` are the whole Alpaca
 * account's (the runtime splits it into the signatures' virtual sub-accounts).
 */
import { Subject, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import type { HeartbeatOptions, ReconnectOptions } from '../../../streams/alpaca-quotes.js';
import { ownerOf, sessionInstantOf as sessionInstantOfId } from '../../../domain/ids.js';
import { dec } from '../../../domain/money.js';
import type { Fill, OrderRequest, OrderStatus } from '../../../domain/orders.js';
import { renderReason, type ReasonCode } from '../../../domain/reasons.js';
import type { AccountBroker, AccountOrder, BrokerHalt, ExternalActivity, KnownOrder } from '../account-broker.js';
import type { BrokerBalance, BrokerPosition, BrokerStatus, BrokerUpdate } from '../broker.js';
import { AlpacaInvalidOrder, AlpacaNotFound, AlpacaOperationalError, AlpacaTemporaryError, isDuplicateClientOrderId, refusalReason } from './errors.js';
import { AlpacaRest, type RetryEvent, type RetryOptions } from './rest.js';
import { AlpacaTradeStream, type TradeStreamEvent } from './trade-stream.js';
import { WireAccountSchema, WireFillActivitySchema, WireOrderSchema, WirePositionSchema, wholeShares, type WireAccount, type WireFillActivity, type WireOrder, type WireTradeUpdate } from './wire.js';

export interface AlpacaBrokerOptions {
  /** REST base, e.g. https://paper-api.alpaca.markets. */
  readonly baseUrl: string;
  /** e.g. wss://paper-api.alpaca.markets/stream. */
  readonly streamUrl: string;
  readonly keyId: string;
  readonly secretKey: string;
  readonly scheduler: SchedulerLike;
  /** Which client order ids are ours (default: all); see `ownedBy`. */
  readonly isOurs?: (clientOrderId: string) => boolean;
  /** One REST attempt's deadline; default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  readonly retry?: RetryOptions;
  readonly reconnect?: ReconnectOptions;
  readonly heartbeat?: false | HeartbeatOptions;
  readonly fetch?: typeof fetch;
}

/** Our client order ids are `<signature>.<session>.<index>` (domain/ids.ts). */
export function ownedBy(signatures: readonly string[]): (clientOrderId: string) => boolean {
  const owner = ownerOf(signatures);
  return (cid) => owner(cid) !== undefined;
}

/** 401: the keys are refused; the runtime turns this into a critical alert and stops trading. */
export type AlpacaHalt = BrokerHalt;
export type { ExternalActivity };

/** Alpaca's order statuses -> ours (the order machine's reconciling reads them). */
export const ALPACA_STATUS: Readonly<Record<string, OrderStatus>> = {
  new: 'accepted',
  accepted: 'accepted',
  pending_new: 'accepted',
  accepted_for_bidding: 'accepted',
  calculated: 'accepted',
  stopped: 'accepted',
  suspended: 'accepted',
  held: 'accepted',
  // done for today, resumes tomorrow (a day order then expires)
  done_for_day: 'accepted',
  // we never replace; Alpaca may, on a corporate action: the order goes on
  pending_replace: 'accepted',
  replaced: 'accepted',
  partially_filled: 'partially_filled',
  filled: 'filled',
  pending_cancel: 'cancelling',
  canceled: 'cancelled',
  expired: 'expired',
  rejected: 'rejected',
};

type Terminal = 'filled' | 'cancelled' | 'expired' | 'rejected';

interface Tracked {
  readonly cid: string;
  orderId?: string;
  createdAt?: string;
  qty?: number;
  accepted: boolean;
  terminal?: Terminal;
  reason?: ReasonCode;
  message?: string;
  readonly fills: Fill[];
  readonly execIds: Set<string>;
  /** Cumulative filled quantity after each known fill. */
  readonly cums: Set<number>;
  /** Fills made up from the order's totals cover every execution up to here. */
  coveredTo: number;
  filled: number;
  queue: Promise<void>;
}

const ActivitiesSchema = z.array(z.unknown());
const OrdersSchema = z.array(WireOrderSchema);
const PositionsSchema = z.array(WirePositionSchema);
const NoBody = z.unknown();
const PAGE = 100;
const ORDER_PAGE = 500;
/** An order is created after its session's instant; this much earlier covers a clock of ours or Alpaca's that is off. */
const CLOCK_MARGIN_MS = 3_600_000;
/** Our orders are `day` orders: none still open was created more than this long ago. */
const LOOKBACK_MS = 36 * 3_600_000;

/** The session instant in our client order id (New York time: Alpaca trades US stocks). */
const sessionInstantOf = (cid: string): number | undefined => sessionInstantOfId(cid, 'us');

export class AlpacaBroker implements AccountBroker {
  readonly venue = 'Alpaca';
  readonly #rest: AlpacaRest;
  readonly #stream: AlpacaTradeStream;
  readonly #scheduler: SchedulerLike;
  readonly #isOurs: (cid: string) => boolean;
  readonly #orders = new Map<string, Tracked>();
  /** The last `recentOrders` listing, by Alpaca id: what `fillsBeyond` needs of each order. */
  #listed = new Map<string, WireOrder>();
  readonly #updates = new Subject<BrokerUpdate>();
  readonly #external = new Subject<ExternalActivity>();
  readonly #halts = new Subject<AlpacaHalt>();
  #halt: AlpacaOperationalError | undefined;
  #fillsEmitted = 0;
  #catchingUp: Promise<void> = Promise.resolve();

  readonly updates$ = this.#updates.asObservable();
  /** Orders on the account that are not ours. */
  readonly external$ = this.#external.asObservable();
  /** 401s (REST or stream): trading must stop. */
  readonly halts$ = this.#halts.asObservable();
  /** The stream's connection events. */
  readonly connection$;
  /** REST retries waited out. */
  readonly retries$;

  constructor(options: AlpacaBrokerOptions) {
    this.#scheduler = options.scheduler;
    this.#isOurs = options.isOurs ?? (() => true);
    this.#rest = new AlpacaRest({
      baseUrl: options.baseUrl,
      keyId: options.keyId,
      secretKey: options.secretKey,
      scheduler: options.scheduler,
      ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#stream = new AlpacaTradeStream({
      url: options.streamUrl,
      keyId: options.keyId,
      secretKey: options.secretKey,
      scheduler: options.scheduler,
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
      ...(options.heartbeat !== undefined ? { heartbeat: options.heartbeat } : {}),
    });
    this.connection$ = this.#stream.events$;
    this.retries$ = this.#rest.retries$;
    this.#stream.updates$.subscribe((u) => this.#onUpdate(u));
    this.#stream.events$.subscribe((e) => this.#onStreamEvent(e));
  }

  /** Open the stream; resolves once it listens and the first catch-up (every order known so far) has run. */
  async start(): Promise<void> {
    await this.#stream.start();
    await this.#catchingUp;
  }

  /**
   * An order of ours a restarted process already knows (from its committed engine state): its
   * Alpaca id if it had one and the fills already booked, so that the catch-up after `start()`
   * emits only what happened since (a fill is known by its id and by the cumulative quantity after
   * it, whichever id Alpaca's activities give it), and so that it is asked about at all.
   */
  resumeOrder(clientOrderId: string, known: KnownOrder): void {
    const t = this.#track(clientOrderId);
    if (known.brokerOrderId) t.orderId = known.brokerOrderId;
    t.qty = known.quantity;
    for (const f of known.fills) {
      if (t.execIds.has(f.fillId)) continue;
      t.execIds.add(f.fillId);
      t.filled += f.quantity;
      t.cums.add(t.filled);
      t.fills.push(f);
    }
    t.coveredTo = Math.max(t.coveredTo, t.filled);
    // Known to Alpaca once it has an id or a fill: a second `accepted` would tell the order nothing new.
    t.accepted ||= known.brokerOrderId !== undefined || known.fills.length > 0;
  }

  /** Fills emitted on `updates$` so far (an account comparison that saw this number change raced a fill). */
  get fillsEmitted(): number {
    return this.#fillsEmitted;
  }

  close(): void {
    this.#stream.close();
    this.#updates.complete();
    this.#external.complete();
    this.#halts.complete();
  }

  /** The halt in force (a 401 seen), if any. */
  get halted(): AlpacaOperationalError | undefined {
    return this.#halt;
  }

  /** Lift the halt (new keys are in place); the next submit reaches Alpaca again. */
  resume(): void {
    this.#halt = undefined;
  }

  /** Wait until every update learned so far has been handled (tests, an orderly stop). */
  async settled(): Promise<void> {
    await Promise.all([...this.#orders.values()].map((t) => t.queue));
  }

  // -------------------------------------------------------------------------------------
  // Broker

  async submit(order: OrderRequest): Promise<void> {
    if (this.#halt) throw this.#halt;
    const t = this.#track(order.clientOrderId);
    const body = {
      symbol: order.symbol,
      qty: String(order.quantity),
      side: order.side,
      type: order.type,
      time_in_force: 'day',
      ...(order.type === 'limit' && order.limitPrice ? { limit_price: order.limitPrice } : {}),
      client_order_id: order.clientOrderId,
    };
    let last: AlpacaTemporaryError | undefined;
    for (let attempt = 1; attempt <= this.#rest.maxRetries + 1; attempt++) {
      if (last) {
        const delayMs = this.#rest.retryDelay(attempt - 1, last);
        this.#rest.noteRetry({ method: 'POST', path: '/v2/orders', attempt: attempt - 1, delayMs, reason: last.message });
        await this.#rest.sleep(delayMs);
      }
      try {
        const placed = await this.#rest.once('POST', '/v2/orders', WireOrderSchema, { body });
        return await this.#enqueue(t, () => this.#apply(t, placed));
      } catch (e) {
        this.#haltOn(e, 'rest');
        if (isDuplicateClientOrderId(e)) return await this.#adopt(t);
        if (e instanceof AlpacaInvalidOrder) {
          const reason = refusalReason(e.brokerMessage ?? '');
          return await this.#enqueue(t, () => this.#end(t, 'rejected', reason, renderReason(reason, `Alpaca refused the order: ${e.status} ${e.code ?? ''} ${e.brokerMessage ?? ''}`.replace(/\s+/g, ' ').trim())));
        }
        if (!(e instanceof AlpacaTemporaryError)) throw e;
        last = e;
        if (e.outcomeKnown) continue; // a 429: not carried out, send again after the wait
        // Unknown outcome: ask before anything is sent again.
        const found = await this.#lookup(t.cid);
        if (found) return await this.#enqueue(t, () => this.#apply(t, found));
      }
    }
    throw last!;
  }

  async cancel(clientOrderId: string): Promise<void> {
    const t = this.#track(clientOrderId);
    try {
      const id = t.orderId ?? (await this.#lookup(clientOrderId))?.id;
      if (!id) return this.#emitRejected(t, 'BROKER_REJECTED', renderReason('BROKER_REJECTED', `Alpaca has no order ${clientOrderId} to cancel`));
      t.orderId = id;
      // 204: asked; the `canceled` update follows on the stream.
      await this.#rest.call('DELETE', `/v2/orders/${encodeURIComponent(id)}`, NoBody);
    } catch (e) {
      this.#haltOn(e, 'rest');
      if (!(e instanceof AlpacaInvalidOrder) && !(e instanceof AlpacaNotFound)) throw e;
      // Not cancelable (already filled, cancelled, ...): what it is now says what happened.
      const now = await this.#lookup(clientOrderId);
      if (now) await this.#enqueue(t, () => this.#apply(t, now));
      if (!t.terminal && now?.status !== 'pending_cancel') {
        this.#emitRejected(t, 'BROKER_REJECTED', renderReason('BROKER_REJECTED', `Alpaca refused the cancel of ${clientOrderId}: ${e.brokerMessage ?? e.message}`));
      }
    }
  }

  async status(clientOrderId: string): Promise<BrokerStatus> {
    const t = this.#track(clientOrderId);
    const order = await this.#lookup(clientOrderId).catch((e: unknown) => {
      this.#haltOn(e, 'rest');
      throw e;
    });
    if (!order) return { clientOrderId, status: 'not_found', fills: [] };
    await this.#enqueue(t, () => this.#apply(t, order, true));
    const mapped = ALPACA_STATUS[order.status] ?? 'accepted';
    const status: OrderStatus = mapped === 'accepted' && t.filled > 0 ? 'partially_filled' : mapped;
    return {
      clientOrderId,
      status,
      brokerOrderId: order.id,
      fills: [...t.fills],
      ...(status === 'rejected' ? { reason: t.reason ?? 'BROKER_REJECTED', message: t.message ?? renderReason('BROKER_REJECTED', 'Alpaca rejected the order') } : {}),
    };
  }

  async positions(_account?: string): Promise<BrokerPosition[]> {
    const list = await this.#call('GET', '/v2/positions', PositionsSchema);
    return list
      .filter((p) => p.side === 'long')
      .map((p) => ({ symbol: p.symbol, quantity: wholeShares(p.qty), sellable: wholeShares(p.qty_available ?? p.qty) }))
      .sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  }

  async balance(_account?: string): Promise<BrokerBalance> {
    return { cash: dec((await this.account()).cash).toFixed() };
  }

  async cash(): Promise<string> {
    return dec((await this.account()).cash).toFixed();
  }

  /** The account's buying power now (Alpaca holds open buys back from it already). */
  async buyingPower(_account?: string): Promise<string> {
    return dec((await this.account()).buying_power).toFixed();
  }

  // -------------------------------------------------------------------------------------
  // Alpaca extras (for risk and reconciliation)

  /** The account: cash, buying power, equity. */
  account(): Promise<WireAccount> {
    return this.#call('GET', '/v2/account', WireAccountSchema);
  }

  /** Open orders, ours and others, oldest first, every page (start-up reconciliation). */
  openOrders(): Promise<WireOrder[]> {
    return this.#orderPages('open');
  }

  /** Orders of every status created after `afterMs`, oldest first, every page. */
  ordersSince(afterMs: number): Promise<WireOrder[]> {
    return this.#orderPages('all', afterMs);
  }

  /**
   * GET /v2/orders page after page (Alpaca's limit is 500 a page): the next page starts a
   * millisecond before the last order's creation, so orders created in the same millisecond are not
   * skipped; the overlap is dropped by order id.
   */
  async #orderPages(status: 'open' | 'all', afterMs?: number): Promise<WireOrder[]> {
    const seen = new Map<string, WireOrder>();
    let after = afterMs;
    for (;;) {
      const page = await this.#call('GET', '/v2/orders', OrdersSchema, { query: { status, limit: ORDER_PAGE, direction: 'asc', ...(after !== undefined ? { after: new Date(after).toISOString() } : {}) } });
      let fresh = 0;
      for (const o of page) {
        if (seen.has(o.id)) continue;
        seen.set(o.id, o);
        fresh++;
      }
      if (page.length < ORDER_PAGE || fresh === 0) return [...seen.values()];
      after = Date.parse(page.at(-1)!.created_at) - 1;
    }
  }

  /** FILL activities after `afterMs`, oldest first, every page. */
  async fillsSince(afterMs: number): Promise<WireFillActivity[]> {
    const out: WireFillActivity[] = [];
    let token: string | undefined;
    for (;;) {
      const page = await this.#call('GET', '/v2/account/activities', ActivitiesSchema, {
        query: { activity_types: 'FILL', direction: 'asc', after: new Date(afterMs).toISOString(), page_size: PAGE, page_token: token },
      });
      for (const a of page) {
        const f = WireFillActivitySchema.safeParse(a);
        if (f.success) out.push(f.data);
      }
      if (page.length < PAGE) return out;
      token = (page.at(-1) as { id?: string }).id;
    }
  }

  // -------------------------------------------------------------------------------------
  // Learning what Alpaca knows

  #track(cid: string): Tracked {
    let t = this.#orders.get(cid);
    if (!t) this.#orders.set(cid, (t = { cid, accepted: false, fills: [], execIds: new Set(), cums: new Set(), coveredTo: 0, filled: 0, queue: Promise.resolve() }));
    return t;
  }

  /** Run `step` after everything queued for the order; its failure is the caller's, not the queue's. */
  #enqueue(t: Tracked, step: () => Promise<void> | void): Promise<void> {
    const run = t.queue.then(step);
    t.queue = run.catch(() => undefined);
    return run;
  }

  async #call<T>(method: string, path: string, schema: z.ZodType<T>, options?: Parameters<AlpacaRest['call']>[3]): Promise<T> {
    try {
      return await this.#rest.call(method, path, schema, options);
    } catch (e) {
      this.#haltOn(e, 'rest');
      throw e;
    }
  }

  /** The order as Alpaca has it now, or undefined when Alpaca does not have it. */
  async #lookup(cid: string): Promise<WireOrder | undefined> {
    try {
      return await this.#call('GET', '/v2/orders:by_client_order_id', WireOrderSchema, { query: { client_order_id: cid } });
    } catch (e) {
      if (e instanceof AlpacaNotFound) return undefined;
      throw e;
    }
  }

  async #adopt(t: Tracked): Promise<void> {
    const order = await this.#lookup(t.cid);
    if (!order) throw new AlpacaTemporaryError(`Alpaca says client order id ${t.cid} is taken, but has no order with it (yet)`, 422, 40010001, undefined, false);
    await this.#enqueue(t, () => this.#apply(t, order));
  }

  /**
   * Bring the order up to `order` (a snapshot from REST or from a stream update): acceptance,
   * the fills its `filled_qty` shows that we lack (from the FILL activities), its end. A stale
   * snapshot (older than what we know) changes nothing. `strict`: missing fills that cannot be
   * fetched make it throw (a `status` call must not answer without them).
   */
  async #apply(t: Tracked, order: WireOrder, strict = false, activities?: readonly WireFillActivity[]): Promise<void> {
    t.orderId = order.id;
    t.createdAt = order.created_at;
    if (order.qty !== null) t.qty = wholeShares(order.qty);
    const filled = wholeShares(order.filled_qty);
    if (filled > t.filled) {
      try {
        await this.#catchUpFills(t, order, filled, activities);
      } catch (e) {
        if (strict) throw e;
        return; // the end waits for the fills: the next snapshot (reconnect, status) tries again
      }
    }
    const status = ALPACA_STATUS[order.status] ?? 'accepted';
    if (status === 'cancelled' || status === 'expired') this.#end(t, status);
    else if (status === 'rejected') this.#end(t, 'rejected', 'BROKER_REJECTED', renderReason('BROKER_REJECTED', `Alpaca rejected the order (${order.status})`));
    else this.#accept(t);
  }

  async #catchUpFills(t: Tracked, order: WireOrder, filled: number, activities?: readonly WireFillActivity[]): Promise<void> {
    for (const f of await this.#executions(order, filled, activities)) this.#addFill(t, f.fillId, f.quantity, f.price, f.atMs, f.cum);
    if (t.filled < filled && order.filled_avg_price !== null) {
      // The activities lag behind the order: the rest, at the price the totals imply, so no share is lost.
      const rest = impliedRest(order, filled, t.fills);
      this.#addFill(t, rest.fillId, rest.quantity, rest.price, rest.atMs, filled);
      t.coveredTo = filled;
    }
  }

  /**
   * The order's FILL activities, by cumulative quantity (up to `filled`), each with the cumulative
   * quantity after it; from `activities` when the caller fetched the account's at once.
   */
  async #executions(order: WireOrder, filled: number, activities?: readonly WireFillActivity[]): Promise<(Fill & { readonly cum: number })[]> {
    return (activities ?? (await this.fillsSince(Date.parse(order.created_at) - 1_000)))
      .filter((a) => a.order_id === order.id && wholeShares(a.cum_qty) <= filled)
      .sort((a, b) => wholeShares(a.cum_qty) - wholeShares(b.cum_qty))
      .map((a) => ({ fillId: a.id.includes('::') ? a.id.slice(a.id.indexOf('::') + 2) : a.id, quantity: wholeShares(a.qty), price: a.price, fee: '0', atMs: Date.parse(a.transaction_time), cum: wholeShares(a.cum_qty) }));
  }

  /** Orders (ours and others) created after `afterMs` or still open, every page of both listings. */
  async recentOrders(afterMs: number): Promise<AccountOrder[]> {
    const [recent, stillOpen] = await Promise.all([this.ordersSince(afterMs), this.openOrders()]);
    this.#listed = new Map([...recent, ...stillOpen].map((o) => [o.id, o]));
    return [...this.#listed.values()].map((o) => ({
      clientOrderId: o.client_order_id,
      brokerOrderId: o.id,
      symbol: o.symbol,
      side: o.side === 'sell' ? 'sell' : 'buy',
      quantity: wholeShares(o.qty ?? o.filled_qty),
      filledQuantity: wholeShares(o.filled_qty),
      status: o.status,
      createdAtMs: Date.parse(o.created_at),
    }));
  }

  /** The fills of each order beyond its first `known` shares; the account's FILL activities are read once for all of them. */
  async fillsBeyond(wanted: readonly { readonly order: AccountOrder; readonly known: number }[]): Promise<Fill[][]> {
    if (wanted.length === 0) return [];
    const orders = wanted.map((w) => this.#listed.get(w.order.brokerOrderId));
    const missing = wanted.find((_, i) => orders[i] === undefined);
    if (missing) throw new Error(`Alpaca order ${missing.order.brokerOrderId} was not in the last listing (call recentOrders first)`);
    const activities = await this.fillsSince(Math.min(...orders.map((o) => Date.parse(o!.created_at))) - 1_000);
    return Promise.all(wanted.map((w, i) => this.#fillsBeyondOne(orders[i]!, w.known, activities.filter((a) => a.order_id === orders[i]!.id))));
  }

  /**
   * The fills of an order beyond the first `known` shares (an order of ours this process did not
   * follow: the runtime books them to its signature). From the FILL activities; shares the
   * activities do not show yet come as one fill at the price the order's totals imply.
   */
  async #fillsBeyondOne(order: WireOrder, known: number, activities?: readonly WireFillActivity[]): Promise<Fill[]> {
    const filled = wholeShares(order.filled_qty);
    if (filled <= known) return [];
    const all = await this.#executions(order, filled, activities);
    const out: Fill[] = all.filter((f) => f.cum > known && f.cum - f.quantity >= known).map(({ cum: _cum, ...f }) => f);
    const covered = Math.max(known, all.at(-1)?.cum ?? 0);
    if (covered < filled && order.filled_avg_price !== null) {
      const before = [...all.filter((f) => f.cum <= covered)];
      out.push(impliedRest(order, filled, before.length > 0 && (all.at(-1)?.cum ?? 0) === covered ? before : undefined, covered));
    }
    return out;
  }

  #accept(t: Tracked): void {
    if (t.accepted || t.terminal) return;
    t.accepted = true;
    this.#updates.next({ type: 'broker.accepted', clientOrderId: t.cid, brokerOrderId: t.orderId ?? '', tsEvent: this.#scheduler.now() });
  }

  /** A fill, unless it is known (by execution id, or by the cumulative quantity after it). */
  #addFill(t: Tracked, execId: string, qty: number, price: string, atMs: number, cum: number): void {
    if (t.execIds.has(execId)) return;
    t.execIds.add(execId);
    if (t.cums.has(cum) || cum <= t.coveredTo || qty <= 0) return;
    this.#accept(t);
    t.cums.add(cum);
    const fill: Fill = { fillId: execId, quantity: qty, price, fee: '0', atMs };
    t.fills.push(fill);
    t.filled += qty;
    this.#fillsEmitted++;
    this.#updates.next({ type: 'broker.fill', clientOrderId: t.cid, fill, tsEvent: this.#scheduler.now() });
    if (t.qty !== undefined && t.filled >= t.qty && !t.terminal) t.terminal = 'filled';
  }

  #end(t: Tracked, how: Exclude<Terminal, 'filled'>, reason?: ReasonCode, message?: string): void {
    if (t.terminal) return;
    t.terminal = how;
    const tsEvent = this.#scheduler.now();
    if (how === 'rejected') {
      t.reason = reason ?? 'BROKER_REJECTED';
      t.message = message ?? renderReason(t.reason);
      this.#updates.next({ type: 'broker.rejected', clientOrderId: t.cid, reason: t.reason, message: t.message, tsEvent });
    } else {
      this.#updates.next({ type: how === 'cancelled' ? 'broker.cancelled' : 'broker.expired', clientOrderId: t.cid, tsEvent });
    }
  }

  /** A refused request about an order that does not end it (a cancel that came too late). */
  #emitRejected(t: Tracked, reason: ReasonCode, message: string): void {
    this.#updates.next({ type: 'broker.rejected', clientOrderId: t.cid, reason, message, tsEvent: this.#scheduler.now() });
  }

  #onUpdate(u: WireTradeUpdate): void {
    const cid = u.order.client_order_id;
    if (!this.#isOurs(cid)) {
      this.#external.next({
        event: u.event,
        clientOrderId: cid,
        orderId: u.order.id,
        symbol: u.order.symbol,
        side: u.order.side,
        ...(u.qty ? { qty: wholeShares(u.qty) } : {}),
        ...(u.price ? { price: u.price } : {}),
        tsEvent: this.#scheduler.now(),
      });
      return;
    }
    const t = this.#track(cid);
    void this.#enqueue(t, async () => {
      if ((u.event === 'fill' || u.event === 'partial_fill') && u.execution_id && u.qty && u.price) {
        t.orderId = u.order.id;
        if (u.order.qty !== null) t.qty = wholeShares(u.order.qty);
        this.#addFill(t, u.execution_id, wholeShares(u.qty), u.price, u.timestamp ? Date.parse(u.timestamp) : this.#scheduler.now(), wholeShares(u.order.filled_qty));
      }
      if (u.event === 'order_cancel_rejected' && !t.terminal) {
        this.#emitRejected(t, 'BROKER_REJECTED', renderReason('BROKER_REJECTED', `Alpaca refused the cancel of ${cid}`));
      }
      await this.#apply(t, u.order);
    }).catch(() => undefined);
  }

  #onStreamEvent(e: TradeStreamEvent): void {
    if (e.type === 'listening') this.#catchingUp = this.#catchUp().catch(() => undefined);
    if (e.type === 'unauthorized') this.#haltOn(new AlpacaOperationalError(e.message, 401), 'stream');
  }

  /**
   * Bring every order of ours not known to be over up to Alpaca's state now (a start-up or a
   * periodic reconciliation): the orders in one listing, the fills in another, whatever their
   * number; a lookup by client order id only for an order the listing does not show. Rejects when
   * Alpaca could not be asked (nothing is then taken as known: call it again).
   */
  reconcileOrders(): Promise<void> {
    const run = this.#catchingUp.then(() => this.#catchUp());
    this.#catchingUp = run.catch(() => undefined);
    return run;
  }

  /**
   * After a (re)connect (and from `reconcileOrders`): bring every order of ours not known to be
   * over up to Alpaca's state. Orders created since the earliest of them (its creation, or its
   * session's instant in its client order id) in one listing, the account's fills since then in
   * another, handed to each order: a few requests for a thousand orders, not one or two each (a
   * request per order would spend minutes of Alpaca's ~200 a minute). Orders the listing does not
   * show are looked up one by one.
   */
  async #catchUp(): Promise<void> {
    // Orders without an Alpaca id yet are asked too (a resumed order whose submit's answer was lost).
    const pending = [...this.#orders.values()].filter((t) => !t.terminal);
    if (pending.length === 0) return;
    const earliest = Math.min(...pending.map((t) => (t.createdAt ? Date.parse(t.createdAt) : (sessionInstantOf(t.cid) ?? this.#scheduler.now() - LOOKBACK_MS)))) - CLOCK_MARGIN_MS;
    const listed = new Map((await this.ordersSince(earliest)).map((o) => [o.client_order_id, o]));
    const found: [Tracked, WireOrder][] = [];
    for (const t of pending) {
      const order = listed.get(t.cid) ?? (await this.#lookup(t.cid));
      if (order) found.push([t, order]);
    }
    const behind = found.filter(([t, o]) => wholeShares(o.filled_qty) > t.filled);
    const byOrder = new Map<string, WireFillActivity[]>();
    if (behind.length > 0) {
      const since = Math.min(...behind.map(([, o]) => Date.parse(o.created_at))) - 1_000;
      for (const a of await this.fillsSince(since)) byOrder.set(a.order_id, [...(byOrder.get(a.order_id) ?? []), a]);
    }
    await Promise.all(found.map(([t, order]) => this.#enqueue(t, () => this.#apply(t, order, true, byOrder.get(order.id) ?? []))));
  }

  #haltOn(e: unknown, source: AlpacaHalt['source']): void {
    if (!(e instanceof AlpacaOperationalError)) return;
    const first = this.#halt === undefined;
    this.#halt = e;
    if (first) this.#halts.next({ source, message: e.message, tsEvent: this.#scheduler.now() });
  }
}

/**
 * The shares of `order` beyond what `fills` cover, at the price the order's totals imply (filled x
 * average less what `fills` paid). Without the fills of the first `covered` shares, they are taken
 * at the order's average price.
 */
function impliedRest(order: WireOrder, filled: number, fills: readonly Fill[] | undefined, covered = fills?.reduce((s, f) => s + f.quantity, 0) ?? 0): Fill {
  const qty = filled - covered;
  const avg = dec(order.filled_avg_price ?? '0');
  const price = fills
    ? avg.times(filled).minus(fills.reduce((s, f) => s.plus(dec(f.price).times(f.quantity)), dec(0))).div(qty).toDecimalPlaces(6).toFixed()
    : avg.toFixed();
  return { fillId: `${order.id}:cum:${filled}`, quantity: qty, price, fee: '0', atMs: Date.parse(order.updated_at ?? order.created_at) };
}

export type { RetryEvent, TradeStreamEvent };
