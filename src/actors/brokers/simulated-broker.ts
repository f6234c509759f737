/**
 * The simulated venue: a Broker that fills orders from the point-in-time price store at the
 * injected clock's `now()`, and keeps the VENUE's own books per account (signature): cash,
 * positions as dated lots (for T+1), and every order by client order id with its fills. The
 * ledger keeps the agent's books; this is the other side, which reconciliation trusts.
 *
 * Two rule sets (`rules`):
 * - `strict` (default), the real exchange rules (src/domain/market-rules.ts, fees.ts):
 *   market orders fill at the latest known price (`priceAsOf(now)`: the open of the bar in
 *   progress or the last close) moved against the order by `slippageBps`, rounded to the tick
 *   (buys up, sells down) and kept inside the day's price band; limit orders fill only at or
 *   through their limit (a buy at min(price, limit), a sell at max), else they rest. The price
 *   must come from today's session (a bar that started today, exchange-local): a last close
 *   from an earlier day is stale, so a suspended stock, or the US 09:30-10:00 half hour that
 *   the hourly files lack, gives NO_PRICE rather than a fill at yesterday's price.
 * - `ai-trader`, AI-Trader's own rules so recorded runs reproduce: the whole order fills at the
 *   open (`1. buy price`) of the bar labelled with the session's date/time (`labelledBarAt`),
 *   no fees, no slippage, lots of 100 on A-shares (both sides), cash >= price x amount for a
 *   buy, enough shares for a sell; no T+1, price-limit or market-hours check.
 *
 * Checks, in order (the first failure is the rejection; each carries a reason code from
 * src/domain/reasons.ts and a `CODE: detail` message):
 *   strict:    account, quantity > 0, UNKNOWN_SYMBOL, limit price given and on the tick, MARKET_CLOSED,
 *              buy LOT_SIZE | sell INSUFFICIENT_POSITION, T_PLUS_ONE, LOT_SIZE (odd remainder),
 *              NO_PRICE, PRICE_LIMIT (market price at the band; limit price outside it),
 *              INSUFFICIENT_CASH (notional + fees; for a sell, fees beyond the proceeds)
 *   ai-trader: account, quantity > 0, UNKNOWN_SYMBOL, limit price given, NO_PRICE, LOT_SIZE,
 *              INSUFFICIENT_CASH (buy) | INSUFFICIENT_POSITION (sell)
 * An unknown account, a quantity that is not a positive whole number, and a malformed limit
 * order give BROKER_REJECTED (no finer code exists).
 * A second submit with a known client order id gives DUPLICATE_CLIENT_ORDER_ID and changes
 * nothing (never a second order). Every other submit is recorded, rejected ones included, so
 * `status` answers for it.
 *
 * Reservations: an accepted buy holds its estimated cost (at the limit price, or at the fill
 * price estimated now, plus fees), an accepted sell holds its shares, until it fills, is
 * cancelled or expires; new orders see only what is not held (`available`): a buy whose whole
 * cost (fees included) the available cash does not cover is rejected INSUFFICIENT_CASH, never
 * filled in part. A later fill that costs more than estimated (a resting order whose market
 * price rose) is cut to the whole lots the account can then pay, the rest resting. So the
 * venue's cash, available cash and positions never go negative.
 *
 * Partial fills (strict only). LIQUIDITY PROXY: one fill may take at most
 * floor(maxVolumeShare x volume) shares of the LAST COMPLETED bar (`lastBarAsOf(now)`; for
 * daily bars at 09:35 that is yesterday's session, for hourly bars the previous hour), shared
 * by every order on the symbol until a newer bar completes; rounded down to whole lots (a sell
 * remainder that fits is taken whole). No completed bar (the first bar of the data): no cap.
 * A market or limit order's unfilled remainder rests as `partially_filled` (or `accepted`);
 * with `marketRemainder: 'cancel'` a market order's remainder is cancelled at once instead
 * (immediate-or-cancel: `broker.cancelled` right after its fill).
 *
 * `fillPending()` is the venue's time step: the backtest driver calls it after moving the clock
 * (e.g. on every tick). It first EXPIRES resting orders accepted on an earlier exchange day
 * (orders are day orders: `broker.expired`), then tries each resting order again at `now()`
 * (a new bar brings new liquidity and a new price). Nothing fills on its own otherwise.
 *
 * Fees are computed on the order's cumulative notional; each fill carries the increment, so a
 * minimum commission is charged once per order, not once per partial fill.
 *
 * Cash (money.ts `CASH_RULES`): under `strict` a fill moves cash by its value rounded to the
 * cent, half-up (quantity x price, as a contract note books it) plus its fees, so the books
 * hold whole cents; under `ai-trader` by the unrounded value, as AI-Trader did. The ledger
 * books with the same rule, so the venue's cash and the ledger's agree to the last digit.

 *
 * EMISSION: updates are emitted SYNCHRONOUSLY on `updates$` inside `submit`, `cancel` and
 * `fillPending`, before the returned promise settles, in causal order (accepted, then fills;
 * a rejection alone). Subscribe before submitting. The promise of `submit`/`cancel` only says
 * the request was taken; it never rejects for a business reason.
 *
 * Cancel: an open order is cancelled (`broker.cancelled`, its reservation released); a cancel
 * for an unknown or already terminal order is answered `broker.rejected` BROKER_REJECTED, as a
 * real venue refuses it (the order machine then reconciles by status).
 *
 * State: `state()` returns the books as plain JSON and the `state` option restores them, so a
 * stopped backtest resumes with the venue it had.
 */
import type { DateTime } from 'luxon';
import { Subject, type Observable } from 'rxjs';
import type { PriceBar } from '../../domain/bars.js';
import { isOpenAt } from '../../domain/calendar/index.js';
import { InputError } from '../../domain/errors.js';
import { calendarHours, type TradingHours } from '../../domain/clock-events.js';
import { DEFAULT_FEE_RATES, NO_FEE_RATES, orderFees, type FeeRates, type OrderEstimate } from '../../domain/fees.js';
import {
  checkCash,
  checkLot,
  checkLotPlain,
  checkMarketOpen,
  checkPosition,
  checkPriceBand,
  checkPriceLimit,
  checkTick,
  checkTPlusOne,
  labelledBarAt,
  MARKET_RULES,
  priceBand,
  roundToTick,
  tickSize,
  violation,
  type RuleViolation,
} from '../../domain/market-rules.js';
import { MARKETS, type Market } from '../../domain/markets.js';
import { CASH_RULES, type CashRule, Dec, dec, tradeValue } from '../../domain/money.js';
import type { Fill, OrderRequest, OrderSide } from '../../domain/orders.js';
import type { PriceSource } from '../../domain/price-store.js';
import type { ReasonCode } from '../../domain/reasons.js';
import type { Broker, BrokerBalance, BrokerPosition, BrokerStatus, BrokerUpdate, OrderEstimates } from './broker.js';
import { localDate } from '../../domain/local-date.js';

export { labelledBarAt } from '../../domain/market-rules.js';

export type SimulatedRules = 'strict' | 'ai-trader';

export type LabelledBarFn = (store: PriceSource, symbol: string, t: DateTime) => PriceBar | undefined;

export interface SimulatedBrokerOptions {
  readonly market: Market;
  /** Default `strict`. */
  readonly rules?: SimulatedRules;
  readonly store: PriceSource;
  /** The injected clock (virtual in backtests, wall clock in paper trading). */
  readonly now: () => DateTime;
  /** `config.broker.fees` as it is; default: today's rates. Ignored under `ai-trader`. */
  readonly fees?: FeeRates;
  /** Default 0. Ignored under `ai-trader`. */
  readonly slippageBps?: number;
  /** Share of the last completed bar's volume one fill may take, (0, 1]; default 1. Ignored under `ai-trader`. */
  readonly maxVolumeShare?: number;
  /** Initial cash per signature (decimal strings). */
  readonly accounts: Readonly<Record<string, { readonly cash: string }>>;
  /**
   * What happens to the part of a MARKET order that cannot fill at once (liquidity cap, cash
   * cut): `rest` (default) keeps it open for `fillPending`; `cancel` cancels it right after the
   * submit (immediate-or-cancel), so the order ends at once. The order machine times out only
   * limit orders, so with `rest` a resting market remainder keeps its session waiting.
   */
  readonly marketRemainder?: 'rest' | 'cancel';
  /** AI-Trader's labelled bar (default `labelledBarAt`). */
  readonly labelledBar?: LabelledBarFn;
  /** Books saved by `state()`; when given, `accounts` only adds accounts it lacks. */
  readonly state?: SimulatedBrokerState;
}

type VenueStatus = 'accepted' | 'partially_filled' | 'filled' | 'cancelled' | 'rejected' | 'expired';
const OPEN: ReadonlySet<VenueStatus> = new Set(['accepted', 'partially_filled']);

/** A block of shares bought on one exchange day (T+1). */
export interface LotState {
  readonly quantity: number;
  /** Exchange-local date of the buy, YYYY-MM-DD. */
  readonly day: string;
}

export interface VenueOrderState {
  readonly order: OrderRequest;
  readonly brokerOrderId: string;
  readonly status: VenueStatus;
  /** Exchange-local date the order was received (day orders expire after it). */
  readonly day: string;
  readonly fills: readonly Fill[];
  readonly filledQuantity: number;
  readonly notional: string;
  readonly fees: string;
  readonly reservedCash: string;
  readonly reservedShares: number;
  readonly reason?: ReasonCode;
  readonly message?: string;
  /** 1, 2, 3, ... in the order the venue received the orders (resting orders are tried in it). */
  readonly received?: number;
}

/** The books without the orders: what the venue's snapshot holds beside one record per order. */
export interface VenueBooks {
  readonly accounts: SimulatedBrokerState['accounts'];
  readonly liquidity: SimulatedBrokerState['liquidity'];
}

export interface SimulatedBrokerState {
  readonly accounts: Readonly<Record<string, { readonly cash: string; readonly lots: Readonly<Record<string, readonly LotState[]>> }>>;
  /** In the order they were received. */
  readonly orders: readonly VenueOrderState[];
  /** Volume already taken per symbol from its liquidity bar (keyed by the bar's start, epoch ms). */
  readonly liquidity: Readonly<Record<string, { readonly bar: number; readonly used: number }>>;
}

interface Account {
  cash: Dec;
  readonly lots: Map<string, LotState[]>;
}

interface VenueOrder {
  readonly order: OrderRequest;
  readonly brokerOrderId: string;
  status: VenueStatus;
  readonly day: string;
  readonly fills: Fill[];
  filled: number;
  notional: Dec;
  fees: Dec;
  reservedCash: Dec;
  reservedShares: number;
  reason?: ReasonCode;
  message?: string;
  readonly received: number;
}

export interface Quote {
  /** The base price before slippage. */
  readonly price: Dec;
  readonly prevClose: Dec | undefined;
}

const ZERO = dec(0);
const sum = (xs: Iterable<number>): number => {
  let n = 0;
  for (const x of xs) n += x;
  return n;
};

interface Admission {
  readonly reserveCash: Dec;
  readonly reserveShares: number;
}

export interface Holding {
  /** Shares held. */
  readonly total: number;
  /** Held and not committed to an open sell. */
  readonly free: number;
  /** Of those, sellable today (T+1 under strict rules). */
  readonly freeSellable: number;
}

/** What one admission check may look at (quote and holding computed once, on demand). */
export interface AdmissionContext {
  readonly market: Market;
  readonly store: PriceSource;
  readonly order: OrderRequest;
  readonly t: DateTime;
  /** Exchange-local date of `t`. */
  readonly today: string;
  readonly zone: string;
  readonly limit: Dec | undefined;
  quote(): Quote | undefined;
  holding(): Holding;
  /** Cash not held by open buys. */
  available(): Dec;
  execPrice(q: Quote): Dec;
  /** What `quantity` at `price` moves cash by, before fees (the rule set's cash rule, money.ts). */
  value(price: Dec, quantity: number): Dec;
  feeTotal(quantity: number, notional: Dec): Dec;
}

export type AdmissionCheck = (c: AdmissionContext) => RuleViolation | undefined;

/** Cash the whole buy needs: at the limit price, or at the fill price estimated now; fees included. */
function buyCost(c: AdmissionContext): Dec {
  const quote = c.quote();
  const price = c.limit ?? (quote ? c.execPrice(quote) : ZERO);
  const notional = c.value(price, c.order.quantity);
  return notional.plus(c.feeTotal(c.order.quantity, notional));
}

const knownSymbol: AdmissionCheck = ({ store, market, order }) =>
  store.has(order.symbol) && store.market(order.symbol) === market
    ? undefined
    : violation('UNKNOWN_SYMBOL', `${order.symbol} is not traded on ${MARKETS[market].name} (it is not in the price data)`);

/** Orders that crossed no schema (a replayed `amount: 0`) are refused, never accepted and left hanging. */
const positiveQuantity: AdmissionCheck = ({ order }) =>
  Number.isSafeInteger(order.quantity) && order.quantity > 0
    ? undefined
    : violation('BROKER_REJECTED', `quantity ${order.quantity} of ${order.symbol} is not a positive whole number of shares`);

const limitGiven: AdmissionCheck = ({ order, limit }) => {
  if (order.type !== 'limit' || limit) return undefined;
  return order.limitPrice === undefined
    ? violation('BROKER_REJECTED', `limit order ${order.clientOrderId} has no limit price`)
    : violation('BROKER_REJECTED', `limit price ${JSON.stringify(order.limitPrice)} of ${order.symbol} is not a decimal number`);
};

/** A limit order's price, when it is a well-formed decimal. */
function limitOf(order: { readonly type?: OrderRequest['type'] | undefined; readonly limitPrice?: string | undefined }): Dec | undefined {
  return order.type === 'limit' && order.limitPrice !== undefined && /^\d+(\.\d+)?$/.test(order.limitPrice) ? dec(order.limitPrice) : undefined;
}

const limitOnTick: AdmissionCheck = ({ market, order, limit }) =>
  limit ? checkTick(market, { symbol: order.symbol, limitPrice: limit }) : undefined;

const marketOpen: AdmissionCheck = ({ market, t }) => checkMarketOpen(market, t, isOpenAt(market, t));

const buyLot: AdmissionCheck = ({ market, order }) =>
  order.side === 'buy' ? checkLot(market, { side: 'buy', symbol: order.symbol, quantity: order.quantity }) : undefined;

/** Sells: enough shares, T+1, then the odd-remainder lot rule against what is sellable. */
const sellHolding: AdmissionCheck = (c) => {
  const { market, order, today } = c;
  if (order.side !== 'sell') return undefined;
  const h = c.holding();
  const { symbol, quantity } = order;
  return (
    checkPosition({ symbol, quantity, held: h.free }) ??
    checkTPlusOne(market, { symbol, quantity, held: h.free, sellable: h.freeSellable, today }) ??
    checkLot(market, { side: 'sell', symbol, quantity, available: h.freeSellable })
  );
};

const hasPrice =
  (what: string): AdmissionCheck =>
  (c) => {
    if (c.quote()) return undefined;
    const local = c.t.setZone(c.zone).toFormat('yyyy-LL-dd HH:mm');
    return violation('NO_PRICE', `${c.order.symbol}: ${what} at ${local} ${c.zone}`);
  };

/** The market price at the band (buy at limit-up, sell at limit-down), or a limit price outside it. */
const priceLimits: AdmissionCheck = (c) => {
  const quote = c.quote();
  if (!quote) return undefined;
  const { symbol, side } = c.order;
  return (
    checkPriceLimit(c.market, { symbol, side, price: quote.price, prevClose: quote.prevClose }) ??
    (c.limit ? checkPriceBand(c.market, { symbol, limitPrice: c.limit, prevClose: quote.prevClose }) : undefined)
  );
};

/** Buys: the whole cost with fees; sells: fees beyond the proceeds (only with fees). */
const funds: AdmissionCheck = (c) => {
  const { symbol, side, quantity } = c.order;
  if (side === 'buy') return checkCash(c.market, { symbol, side, quantity, required: buyCost(c), available: c.available() });
  const quote = c.quote();
  const price = c.limit ?? (quote ? c.execPrice(quote) : ZERO);
  const notional = c.value(price, quantity);
  const fee = c.feeTotal(quantity, notional);
  return fee.gt(notional) ? checkCash(c.market, { symbol, side, quantity, required: fee.minus(notional), available: c.available() }) : undefined;
};

/** AI-Trader: amount % 100 on A-shares, both sides. */
const plainLot: AdmissionCheck = ({ market, order }) => checkLotPlain(market, order);

/** AI-Trader: enough shares (no T+1). */
const sellPosition: AdmissionCheck = (c) =>
  c.order.side === 'sell' ? checkPosition({ symbol: c.order.symbol, quantity: c.order.quantity, held: c.holding().free }) : undefined;

/**
 * The checks of each rule set, in order (after the account check). The first failure is the
 * rejection.
 */
export const ADMISSION_CHECKS: Readonly<Record<SimulatedRules, readonly AdmissionCheck[]>> = {
  strict: [
    positiveQuantity,
    knownSymbol,
    limitGiven,
    limitOnTick,
    marketOpen,
    buyLot,
    sellHolding,
    hasPrice("no trade of today's session is known"),
    priceLimits,
    funds,
  ],
  'ai-trader': [positiveQuantity, knownSymbol, limitGiven, hasPrice("no bar is labelled with the session's date/time"), plainLot, sellPosition, funds],
};

export class SimulatedBroker implements Broker, OrderEstimates {
  readonly market: Market;
  readonly rules: SimulatedRules;
  readonly #store: PriceSource;
  readonly #now: () => DateTime;
  readonly #fees: FeeRates;
  readonly #slippage: Dec;
  readonly #volumeShare: Dec;
  readonly #labelledBar: LabelledBarFn;
  readonly #marketRemainder: 'rest' | 'cancel';
  readonly #cashRule: CashRule;
  readonly #zone: string;
  readonly #accounts = new Map<string, Account>();
  readonly #orders = new Map<string, VenueOrder>();
  /** Open orders, in the order received. */
  readonly #open = new Map<string, VenueOrder>();
  readonly #liquidity = new Map<string, { bar: number; used: number }>();
  /** Orders changed since `takeChangedOrders` last ran (every change is announced, see #emit). */
  readonly #changed = new Set<string>();
  #received = 0;
  readonly #updates = new Subject<BrokerUpdate>();
  readonly updates$: Observable<BrokerUpdate> = this.#updates.asObservable();

  constructor(opts: SimulatedBrokerOptions) {
    this.market = opts.market;
    this.rules = opts.rules ?? 'strict';
    this.#store = opts.store;
    this.#now = opts.now;
    this.#fees = this.rules === 'ai-trader' ? NO_FEE_RATES : (opts.fees ?? DEFAULT_FEE_RATES);
    const bps = this.rules === 'ai-trader' ? 0 : (opts.slippageBps ?? 0);
    if (!(bps >= 0)) throw new RangeError(`slippageBps must be >= 0, got ${bps}`);
    this.#slippage = dec(bps).dividedBy(10_000);
    const share = opts.maxVolumeShare ?? 1;
    if (!(share > 0 && share <= 1)) throw new RangeError(`maxVolumeShare must be in (0, 1], got ${share}`);
    this.#volumeShare = dec(share);
    this.#labelledBar = opts.labelledBar ?? labelledBarAt;
    this.#marketRemainder = opts.marketRemainder ?? 'rest';
    this.#cashRule = CASH_RULES[this.rules];
    this.#zone = MARKETS[this.market].zone;
    if (opts.state) this.#restore(opts.state);
    for (const [signature, { cash }] of Object.entries(opts.accounts)) {
      if (!this.#accounts.has(signature)) this.#accounts.set(signature, { cash: dec(cash), lots: new Map() });
    }
  }

  // -------------------------------------------------------------------------------------
  // Broker

  async submit(order: OrderRequest): Promise<void> {
    this.#submit(order, this.#now());
  }

  async cancel(clientOrderId: string): Promise<void> {
    const t = this.#now();
    const o = this.#orders.get(clientOrderId);
    if (!o) {
      this.#reject(clientOrderId, t, violation('BROKER_REJECTED', `no order ${clientOrderId} to cancel`));
    } else if (!OPEN.has(o.status)) {
      this.#reject(clientOrderId, t, violation('BROKER_REJECTED', `order ${clientOrderId} is already ${o.status}; nothing to cancel`));
    } else {
      this.#close(o, 'cancelled');
      this.#emit({ type: 'broker.cancelled', clientOrderId, tsEvent: t.toMillis() });
    }
  }

  async status(clientOrderId: string): Promise<BrokerStatus> {
    const o = this.#orders.get(clientOrderId);
    if (!o) return { clientOrderId, status: 'not_found', fills: [] };
    return {
      clientOrderId,
      status: o.status,
      brokerOrderId: o.brokerOrderId,
      fills: [...o.fills],
      ...(o.reason ? { reason: o.reason } : {}),
      ...(o.message ? { message: o.message } : {}),
    };
  }

  async positions(account: string): Promise<BrokerPosition[]> {
    const a = this.#account(account);
    const today = this.#day(this.#now());
    const out: BrokerPosition[] = [];
    for (const symbol of [...a.lots.keys()].sort()) {
      const h = this.#holding(account, a, symbol, today);
      if (h.total > 0) out.push({ symbol, quantity: h.total, sellable: h.freeSellable });
    }
    return out;
  }

  /** Cash, including what open buy orders hold (see `available`). */
  async balance(account: string): Promise<BrokerBalance> {
    return { cash: this.#account(account).cash.toFixed() };
  }

  // -------------------------------------------------------------------------------------
  // Venue extras

  /** Cash not held by open buy orders. */
  available(account: string): string {
    const a = this.#account(account);
    return a.cash.minus(this.#reservedCash(account)).toFixed();
  }

  /**
   * What the venue would do with an order now (OrderEstimates): the price it would fill at
   * (a limit order: its limit, as the venue reserves it; a market order: the rule set's price,
   * strict the latest price of today's session moved by the slippage, ai-trader the labelled
   * bar's open) and the fees of its fee table (none under ai-trader). Undefined when the venue
   * has no price (it would refuse NO_PRICE) or the quantity is not a whole positive number.
   */
  estimate(intent: Parameters<OrderEstimates['estimate']>[0]): OrderEstimate | undefined {
    const { side, symbol, quantity } = intent;
    if (!Number.isSafeInteger(quantity) || quantity <= 0) return undefined;
    let price = limitOf(intent);
    if (!price) {
      const quote = this.#quote(symbol, this.#now());
      if (!quote) return undefined;
      price = this.#execPrice(symbol, side, quote);
    }
    return { price, fees: orderFees(this.market, { side, quantity, notional: price.times(quantity) }, this.#fees) };
  }

  /**
   * When orders trade (OrderEstimates): strict, the exchange calendar's continuous sessions;
   * ai-trader, every instant (AI-Trader fills each session at its labelled bar, the lunch-break
   * 11:30 and the post-close 15:00 labels included, so its recorded runs reproduce).
   */
  readonly hours: TradingHours = (market, at) => (this.rules === 'ai-trader' ? { open: true, nextOpen: at } : calendarHours(market, at));

  /**
   * The venue's time step (see the header): expire day orders from earlier exchange days,
   * then try every resting order again at `now()`. Updates are emitted synchronously.
   */
  fillPending(): void {
    const t = this.#now();
    const today = this.#day(t);
    for (const o of [...this.#open.values()]) {
      if (o.day < today) {
        this.#close(o, 'expired');
        this.#emit({ type: 'broker.expired', clientOrderId: o.order.clientOrderId, tsEvent: t.toMillis() });
      } else {
        this.#tryFill(o, t);
      }
    }
  }

  /** The books as plain JSON: accounts, liquidity and every order, in the order received. */
  state(): SimulatedBrokerState {
    return { ...this.books(), orders: [...this.#orders.values()].map(orderState) };
  }

  /** Accounts and liquidity as plain JSON: the venue's snapshot, beside one record per order. */
  books(): VenueBooks {
    const accounts: Record<string, { cash: string; lots: Record<string, LotState[]> }> = {};
    for (const [sig, a] of this.#accounts) {
      const lots: Record<string, LotState[]> = {};
      for (const [symbol, list] of a.lots) lots[symbol] = list.map((l) => ({ ...l }));
      accounts[sig] = { cash: a.cash.toFixed(), lots };
    }
    const liquidity: Record<string, { bar: number; used: number }> = {};
    for (const [symbol, l] of this.#liquidity) liquidity[symbol] = { ...l };
    return { accounts, liquidity };
  }

  /**
   * The orders changed since the last call, as plain JSON, in the order received; the set is
   * cleared. A commit writes only these (its cost follows what the step changed, not the
   * venue's history).
   */
  takeChangedOrders(): VenueOrderState[] {
    const out: VenueOrderState[] = [];
    for (const cid of this.#changed) {
      const o = this.#orders.get(cid);
      if (o) out.push(orderState(o));
    }
    this.#changed.clear();
    return out.sort((a, b) => a.received! - b.received!);
  }

  // -------------------------------------------------------------------------------------
  // Submission

  #submit(order: OrderRequest, t: DateTime): void {
    const cid = order.clientOrderId;
    const existing = this.#orders.get(cid);
    if (existing) {
      this.#emit({
        type: 'broker.rejected',
        clientOrderId: cid,
        ...violation('DUPLICATE_CLIENT_ORDER_ID', `order ${cid} was already received (it is ${existing.status}); it is not placed again`),
        tsEvent: t.toMillis(),
      });
      return;
    }
    let admitted: RuleViolation | Admission;
    try {
      admitted = this.#admit(order, t);
    } catch (e) {
      // Input the venue cannot judge (an instant outside the calendar's years): refused with
      // the reason, never a thrown submit, which the broker actor would report as a disconnect.
      if (!(e instanceof InputError)) throw e;
      admitted = violation('BROKER_REJECTED', e.message);
    }
    const o: VenueOrder = {
      order,
      brokerOrderId: `sim:${cid}`,
      status: 'reason' in admitted ? 'rejected' : 'accepted',
      day: this.#day(t),
      fills: [],
      filled: 0,
      notional: ZERO,
      fees: ZERO,
      reservedCash: 'reason' in admitted ? ZERO : admitted.reserveCash,
      reservedShares: 'reason' in admitted ? 0 : admitted.reserveShares,
      received: ++this.#received,
    };
    this.#orders.set(cid, o);
    this.#changed.add(cid);
    if ('reason' in admitted) {
      o.reason = admitted.reason;
      o.message = admitted.message;
      this.#reject(cid, t, admitted);
      return;
    }
    this.#open.set(cid, o);
    this.#emit({ type: 'broker.accepted', clientOrderId: cid, brokerOrderId: o.brokerOrderId, tsEvent: t.toMillis() });
    this.#tryFill(o, t);
    if (order.type === 'market' && this.#marketRemainder === 'cancel' && OPEN.has(o.status)) {
      this.#close(o, 'cancelled');
      this.#emit({ type: 'broker.cancelled', clientOrderId: cid, tsEvent: t.toMillis() });
    }
  }

  /** The rule set's checks (ADMISSION_CHECKS), in order; on success what the order holds while open. */
  #admit(order: OrderRequest, t: DateTime): RuleViolation | Admission {
    const account = this.#accounts.get(order.signature);
    if (!account) return violation('BROKER_REJECTED', `no account for signature ${order.signature} at this venue`);
    const today = this.#day(t);
    let quote: Quote | undefined | null = null;
    let holding: Holding | undefined;
    const c: AdmissionContext = {
      market: this.market,
      store: this.#store,
      order,
      t,
      today,
      zone: this.#zone,
      limit: limitOf(order),
      quote: () => (quote === null ? (quote = this.#quote(order.symbol, t)) : quote),
      holding: () => (holding ??= this.#holding(order.signature, account, order.symbol, today)),
      available: () => account.cash.minus(this.#reservedCash(order.signature)),
      execPrice: (q) => this.#execPrice(order.symbol, order.side, q),
      value: (price, quantity) => tradeValue(price, quantity, this.#cashRule),
      feeTotal: (quantity, notional) => this.#feeTotal(order.side, quantity, notional),
    };
    for (const check of ADMISSION_CHECKS[this.rules]) {
      const bad = check(c);
      if (bad) return bad;
    }
    return order.side === 'buy' ? { reserveCash: buyCost(c), reserveShares: 0 } : { reserveCash: ZERO, reserveShares: order.quantity };
  }

  // -------------------------------------------------------------------------------------
  // Filling

  /** Fill what can be filled of an open order at `t` (at most one fill per call). */
  #tryFill(o: VenueOrder, t: DateTime): void {
    if (!OPEN.has(o.status)) return;
    const strict = this.rules === 'strict';
    const { symbol, side, signature } = o.order;
    if (strict && !isOpenAt(this.market, t)) return;
    const quote = this.#quote(symbol, t);
    if (!quote) return;
    if (strict && checkPriceLimit(this.market, { symbol, side, price: quote.price, prevClose: quote.prevClose })) return;
    let price = this.#execPrice(symbol, side, quote);
    const limit = limitOf(o.order);
    if (limit) {
      if (side === 'buy' ? quote.price.gt(limit) : quote.price.lt(limit)) return; // not at or through the limit: rests
      price = side === 'buy' ? Dec.min(price, limit) : Dec.max(price, limit);
    }
    const lot = MARKET_RULES[this.market].lotSize;
    const remaining = o.order.quantity - o.filled;
    let quantity = remaining;
    const liquidity = strict ? this.#liquidityLeft(symbol, t) : undefined;
    if (liquidity !== undefined && liquidity.left < remaining) {
      quantity = Math.floor(liquidity.left / lot) * lot;
    }
    if (quantity <= 0) return;
    const account = this.#account(signature);
    const otherReserved = this.#reservedCash(signature).minus(o.reservedCash);
    const room = account.cash.minus(otherReserved);
    const costOf = (q: number): { cash: Dec; fee: Dec; notional: Dec } => {
      const notional = tradeValue(price, q, this.#cashRule);
      const fee = this.#feeTotal(side, o.filled + q, o.notional.plus(notional)).minus(o.fees);
      return { notional, fee, cash: side === 'buy' ? notional.plus(fee) : fee.minus(notional) };
    };
    if (side === 'buy' && costOf(quantity).cash.gt(room)) {
      // The price rose since the order was admitted: fill the whole lots the account can pay.
      let lo = 0;
      let hi = Math.floor(quantity / lot);
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (costOf(mid * lot).cash.lte(room)) lo = mid;
        else hi = mid - 1;
      }
      quantity = lo * lot;
      if (quantity <= 0) return;
    }
    const cost = costOf(quantity);
    if (side === 'sell' && cost.cash.gt(room)) return; // fees beyond proceeds and cash: wait
    const fill: Fill = {
      fillId: `${o.order.clientOrderId}#${o.fills.length + 1}`,
      quantity,
      price: price.toFixed(),
      fee: cost.fee.toFixed(),
      atMs: t.toMillis(),
    };
    account.cash = account.cash.minus(cost.cash);
    if (side === 'buy') {
      o.reservedCash = Dec.max(ZERO, o.reservedCash.minus(cost.cash));
      this.#addLot(account, symbol, quantity, this.#day(t));
    } else {
      o.reservedShares -= quantity;
      this.#removeShares(account, symbol, quantity);
    }
    o.fills.push(fill);
    o.filled += quantity;
    o.notional = o.notional.plus(cost.notional);
    o.fees = o.fees.plus(cost.fee);
    if (liquidity !== undefined) this.#liquidity.set(symbol, { bar: liquidity.bar, used: liquidity.used + quantity });
    if (o.filled >= o.order.quantity) this.#close(o, 'filled');
    else o.status = 'partially_filled';
    this.#emit({ type: 'broker.fill', clientOrderId: o.order.clientOrderId, fill, tsEvent: t.toMillis() });
  }

  /**
   * The base price at `t`: strict, the latest known price of today's session (point in time);
   * ai-trader, the open of the labelled bar. Undefined: NO_PRICE.
   */
  #quote(symbol: string, t: DateTime): Quote | undefined {
    if (this.rules === 'ai-trader') {
      const bar = this.#labelledBar(this.#store, symbol, t);
      return bar ? { price: bar.open, prevClose: undefined } : undefined;
    }
    const p = this.#store.priceAsOf(symbol, t);
    if (!p || this.#day(p.bar.start) !== this.#day(t)) return undefined;
    return { price: p.price, prevClose: this.#store.previousClose(symbol, t)?.price };
  }

  /** The base price moved against the order by the slippage, on the tick, inside the band. */
  #execPrice(symbol: string, side: OrderSide, quote: Quote): Dec {
    if (this.#slippage.isZero()) return quote.price;
    const raw = side === 'buy' ? quote.price.times(this.#slippage.plus(1)) : quote.price.times(dec(1).minus(this.#slippage));
    const tick = tickSize(this.market, raw);
    let price = roundToTick(raw, tick, side === 'buy' ? 'up' : 'down');
    const band = quote.prevClose === undefined ? undefined : priceBand(this.market, symbol, quote.prevClose);
    if (band && side === 'buy' && price.gt(band.up)) price = band.up;
    if (band && side === 'sell' && price.lt(band.down)) price = band.down;
    if (price.lte(0)) price = tick;
    return price;
  }

  #feeTotal(side: OrderSide, quantity: number, notional: Dec): Dec {
    return orderFees(this.market, { side, quantity, notional }, this.#fees).total;
  }

  /** Shares left to take from the symbol's liquidity bar; undefined when there is no volume data (no cap). */
  #liquidityLeft(symbol: string, t: DateTime): { left: number; bar: number; used: number } | undefined {
    const bar = this.#store.lastBarAsOf(symbol, t);
    if (!bar) return undefined;
    const cap = bar.volume.times(this.#volumeShare).floor().toNumber();
    const key = bar.start.toMillis();
    const seen = this.#liquidity.get(symbol);
    const used = seen && seen.bar === key ? seen.used : 0;
    return { left: Math.max(0, cap - used), bar: key, used };
  }

  // -------------------------------------------------------------------------------------
  // Books

  #account(signature: string): Account {
    const a = this.#accounts.get(signature);
    if (!a) throw new Error(`simulated broker: no account for signature ${signature}`);
    return a;
  }

  #day(t: DateTime): string {
    return localDate(t.toMillis(), this.#zone);
  }

  #reservedCash(signature: string): Dec {
    let total = ZERO;
    for (const o of this.#open.values()) if (o.order.signature === signature) total = total.plus(o.reservedCash);
    return total;
  }

  #reservedShares(signature: string, symbol: string): number {
    let total = 0;
    for (const o of this.#open.values()) if (o.order.signature === signature && o.order.symbol === symbol) total += o.reservedShares;
    return total;
  }

  /** Shares held; of them not held by open sells; of those, sellable today (T+1 under strict). */
  #holding(signature: string, a: Account, symbol: string, today: string): Holding {
    const lots = a.lots.get(symbol) ?? [];
    const total = sum(lots.map((l) => l.quantity));
    const tPlusOne = this.rules === 'strict' && MARKET_RULES[this.market].tPlusOne;
    const sellable = tPlusOne ? sum(lots.filter((l) => l.day < today).map((l) => l.quantity)) : total;
    const reserved = this.#reservedShares(signature, symbol);
    return { total, free: Math.max(0, total - reserved), freeSellable: Math.max(0, sellable - reserved) };
  }

  #addLot(a: Account, symbol: string, quantity: number, day: string): void {
    const lots = a.lots.get(symbol) ?? [];
    const last = lots[lots.length - 1];
    if (last && last.day === day) lots[lots.length - 1] = { quantity: last.quantity + quantity, day };
    else lots.push({ quantity, day });
    a.lots.set(symbol, lots);
  }

  /** Oldest lots first (the sellable ones under T+1). */
  #removeShares(a: Account, symbol: string, quantity: number): void {
    const lots = a.lots.get(symbol) ?? [];
    let left = quantity;
    while (left > 0 && lots.length > 0) {
      const first = lots[0]!;
      if (first.quantity <= left) {
        left -= first.quantity;
        lots.shift();
      } else {
        lots[0] = { quantity: first.quantity - left, day: first.day };
        left = 0;
      }
    }
    if (left > 0) throw new Error(`simulated broker: sold ${quantity} ${symbol} with ${quantity - left} held (a bug: sells are reserved)`);
    if (lots.length === 0) a.lots.delete(symbol);
  }

  /** To a terminal status; whatever the order held is released. */
  #close(o: VenueOrder, status: 'filled' | 'cancelled' | 'expired'): void {
    o.status = status;
    o.reservedCash = ZERO;
    o.reservedShares = 0;
    this.#open.delete(o.order.clientOrderId);
  }

  #reject(clientOrderId: string, t: DateTime, v: RuleViolation): void {
    this.#emit({ type: 'broker.rejected', clientOrderId, reason: v.reason, message: v.message, tsEvent: t.toMillis() });
  }

  #emit(update: BrokerUpdate): void {
    // Every change of an order is announced; a rejection of an unknown id changes nothing.
    if (this.#orders.has(update.clientOrderId)) this.#changed.add(update.clientOrderId);
    this.#updates.next(update);
  }

  #restore(state: SimulatedBrokerState): void {
    for (const [sig, a] of Object.entries(state.accounts)) {
      const lots = new Map<string, LotState[]>();
      for (const [symbol, list] of Object.entries(a.lots)) if (list.length > 0) lots.set(symbol, list.map((l) => ({ ...l })));
      this.#accounts.set(sig, { cash: dec(a.cash), lots });
    }
    // Orders saved before `received` was kept are in receipt order already; they are written
    // again, with their number, by the next commit.
    const orders = state.orders.map((o, i) => ({ o, received: o.received ?? i + 1, legacy: o.received === undefined }));
    orders.sort((a, b) => a.received - b.received);
    for (const { o: s, received, legacy } of orders) {
      const o: VenueOrder = {
        order: s.order,
        brokerOrderId: s.brokerOrderId,
        status: s.status,
        day: s.day,
        fills: [...s.fills],
        filled: s.filledQuantity,
        notional: dec(s.notional),
        fees: dec(s.fees),
        reservedCash: dec(s.reservedCash),
        reservedShares: s.reservedShares,
        received,
        ...(s.reason ? { reason: s.reason } : {}),
        ...(s.message ? { message: s.message } : {}),
      };
      this.#orders.set(s.order.clientOrderId, o);
      if (OPEN.has(o.status)) this.#open.set(s.order.clientOrderId, o);
      if (legacy) this.#changed.add(s.order.clientOrderId);
      this.#received = Math.max(this.#received, received);
    }
    for (const [symbol, l] of Object.entries(state.liquidity)) this.#liquidity.set(symbol, { ...l });
  }
}

function orderState(o: VenueOrder): VenueOrderState {
  return {
    order: o.order,
    brokerOrderId: o.brokerOrderId,
    status: o.status,
    day: o.day,
    fills: [...o.fills],
    filledQuantity: o.filled,
    notional: o.notional.toFixed(),
    fees: o.fees.toFixed(),
    reservedCash: o.reservedCash.toFixed(),
    reservedShares: o.reservedShares,
    ...(o.reason ? { reason: o.reason } : {}),
    ...(o.message ? { message: o.message } : {}),
    received: o.received,
  };
}
