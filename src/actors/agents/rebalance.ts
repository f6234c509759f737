/**
 * Rebalancing to target weights: pure planning, exact decimals, no I/O, no clock.
 * The rules agent (rules-agent.ts) turns its strategy into relative target weights
 * and asks this module for the orders, one at a time.
 *
 * Planning (`planRebalance`), from the account at the session start and the prices
 * known at the session instant:
 * - equity E = cash + the value of every held symbol that has a price. A held symbol
 *   without a price is neither valued nor traded (listed in `unpriced`): the plan never
 *   trades on a guess.
 * - investable I = min(E x (1 - cashBuffer), E - minCash), at least 0. The rest,
 *   `reserve` = E - I, stays in cash: the buffer pays fees and slippage (default 1% of
 *   equity, see DEFAULT_REBALANCE) and `minCash` lets the risk actor's
 *   `min_cash_reserve` be respected instead of fought.
 * - target shares of s = floor(I x w(s) / (sum(w) x price(s) x lot)) x lot, with w the
 *   relative weights (exact: one division, so 99000 / 3 / 330 is exactly 100 shares).
 * - a position is traded only when its weight is off target by more than `threshold`
 *   (|held x price - I x w / sum(w)| > threshold x E, weights as fractions of equity).
 *   Entering a symbol (held 0, target > 0) and leaving one (weight 0, held > 0) always
 *   trade: with 50 symbols at 2% each, a 5% band would otherwise never buy anything.
 * - sells: held - target, at most the sellable shares (A-share T+1 holds back today's
 *   buys), in whole lots, or whole lots plus the whole odd remainder of the sellable
 *   shares (the A-share odd-lot rule; a whole position of 150 can go at once).
 * - buys: target - held in whole lots, most under-weight first, cut to the cash that
 *   cash - reserve + the sells' proceeds (net of the fee allowance) leaves, each buy
 *   counted at price x (1 + feeAllowance).
 * - orders: sells first (by symbol), then buys.
 *
 * Stepping (`nextPlannedOrder`): the next order of the plan that has not been asked
 * for yet in this session (recognised by side and symbol in the session's results, so a
 * rejected order is never retried), with buys cut again to the cash the results show:
 * proceeds of sells that actually filled, minus what filled (or queued) buys cost. A buy
 * that no longer fits in one lot is skipped. Same inputs, same answer: a re-asked step
 * gets the same order.
 */
import type { Market } from '../../domain/markets.js';
import { Dec, dec } from '../../domain/money.js';
import type { OrderResult, OrderSide } from '../../domain/orders.js';

/** Shares per lot, per market (A-shares: 手 of 100; US: 1). */
export const LOT_SIZES: Readonly<Record<Market, number>> = { cn: 100, us: 1 };

export interface Holding {
  readonly quantity: number;
  /** Shares that may be sold now. */
  readonly sellable: number;
}

export interface RebalanceSettings {
  /** Shares per lot. */
  readonly lot: number;
  /** Band around each target weight, as a fraction of equity (0.05 = 5 percentage points). */
  readonly threshold: number;
  /** Fraction of equity kept in cash for fees and slippage. */
  readonly cashBuffer: number;
  /** Cash always kept (absolute, account currency). */
  readonly minCash: Dec;
  /** Fees and slippage per order, as a fraction of its value. */
  readonly feeAllowance: number;
}

/**
 * Defaults: 1% of equity stays in cash; each order is allowed 0.3% for fees and
 * slippage (A-share defaults: 0.025% commission with a 5 CNY minimum, which is 0.25% of
 * a 2,000 CNY order, 0.001% transfer fee, 0.05% stamp duty on sells; US: no commission).
 */
export const DEFAULT_REBALANCE = { threshold: 0.05, cashBuffer: 0.01, feeAllowance: 0.003, minCash: '0' } as const;

export interface RebalanceInput {
  readonly cash: Dec;
  readonly holdings: Readonly<Record<string, Holding>>;
  /** Latest known price of each symbol. */
  readonly prices: ReadonlyMap<string, Dec>;
  /** Relative target weights (>= 0; normalised by their sum). A held symbol not listed has weight 0. */
  readonly weights: Readonly<Record<string, number>>;
}

export interface PlannedOrder {
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
  /** The price the plan was made at. */
  readonly price: Dec;
  readonly held: number;
  readonly target: number;
}

export interface RebalancePlan {
  readonly equity: Dec;
  readonly investable: Dec;
  /** Cash kept: equity - investable. */
  readonly reserve: Dec;
  /** Target shares of every symbol the plan looked at (weighted or held, and priced). */
  readonly targets: Readonly<Record<string, number>>;
  /** Sells (by symbol), then buys (most under-weight first). */
  readonly orders: readonly PlannedOrder[];
  /** Held symbols without a price: left alone. */
  readonly unpriced: readonly string[];
  /** Buys the plan dropped for want of cash. */
  readonly droppedForCash: readonly string[];
}

const ZERO = new Dec(0);
const floorLots = (shares: Dec, lot: number): number => shares.div(lot).floor().times(lot).toNumber();
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Buy cost per share, fees allowed for. */
const buyCost = (price: Dec, s: RebalanceSettings) => price.times(dec(1).plus(String(s.feeAllowance)));

/** How many shares (whole lots, at most `wanted`) `cash` buys at `price`. */
function affordable(wanted: number, price: Dec, cash: Dec, s: RebalanceSettings): number {
  if (cash.lte(0)) return 0;
  const perShare = buyCost(price, s);
  if (perShare.lte(0)) return wanted;
  return Math.min(wanted, floorLots(cash.div(perShare).floor(), s.lot));
}

/**
 * The largest sell of at most `wanted` shares the lot rule allows: whole lots, or whole lots
 * plus the whole odd remainder of the sellable shares (quantity % lot == sellable % lot), as
 * A-shares allow (domain/market-rules.ts `checkLot`). With lot 1 that is `wanted`.
 */
export function sellQuantity(wanted: number, sellable: number, lot: number): number {
  const q = Math.min(wanted, sellable);
  if (q <= 0) return 0;
  const whole = Math.floor(q / lot) * lot;
  const odd = sellable % lot;
  const withOdd = odd > 0 && q >= odd ? Math.floor((q - odd) / lot) * lot + odd : 0;
  return Math.max(whole, withOdd);
}

export function planRebalance(input: RebalanceInput, s: RebalanceSettings): RebalancePlan {
  const { cash, holdings, prices } = input;
  const lot = s.lot;
  const unpriced: string[] = [];
  let equity = cash;
  for (const [symbol, h] of Object.entries(holdings)) {
    if (h.quantity === 0) continue;
    const p = prices.get(symbol);
    if (p === undefined) unpriced.push(symbol);
    else equity = equity.plus(p.times(h.quantity));
  }
  unpriced.sort(byString);
  const investable = Dec.max(ZERO, Dec.min(equity.times(dec(1).minus(String(s.cashBuffer))), equity.minus(s.minCash)));
  const reserve = equity.minus(investable);

  const weightOf = (symbol: string) => Math.max(0, input.weights[symbol] ?? 0);
  const totalWeight = Object.keys(input.weights).reduce((sum, k) => sum.plus(weightOf(k)), ZERO);
  const symbols = new Set<string>();
  for (const k of Object.keys(input.weights)) if (weightOf(k) > 0 && prices.has(k)) symbols.add(k);
  for (const [k, h] of Object.entries(holdings)) if (h.quantity > 0 && prices.has(k)) symbols.add(k);

  const targets: Record<string, number> = {};
  const sells: PlannedOrder[] = [];
  const buys: (PlannedOrder & { deficit: Dec })[] = [];
  const band = equity.times(String(s.threshold));
  for (const symbol of [...symbols].sort(byString)) {
    const price = prices.get(symbol)!;
    const w = weightOf(symbol);
    const h = holdings[symbol];
    const held = h?.quantity ?? 0;
    // I x w / sum(w): the value this symbol should hold.
    const targetValue = w > 0 && totalWeight.gt(0) ? investable.times(w).div(totalWeight) : ZERO;
    const target = price.gt(0) ? floorLots(investable.times(w).div(totalWeight.gt(0) ? totalWeight.times(price) : 1), lot) : 0;
    targets[symbol] = w > 0 ? target : 0;
    const heldValue = price.times(held);
    const entering = held === 0 && target > 0;
    const leaving = w === 0 && held > 0;
    if (!entering && !leaving && heldValue.minus(targetValue).abs().lte(band)) continue;
    const wanted = w > 0 ? target : 0;
    if (wanted < held) {
      const sellable = Math.max(0, Math.min(held, h?.sellable ?? 0));
      const q = sellQuantity(Math.min(held - wanted, sellable), sellable, lot);
      if (q > 0) sells.push({ side: 'sell', symbol, quantity: q, price, held, target: wanted });
    } else if (wanted > held) {
      const q = floorLots(new Dec(wanted - held), lot);
      if (q > 0) buys.push({ side: 'buy', symbol, quantity: q, price, held, target: wanted, deficit: targetValue.minus(heldValue) });
    }
  }
  buys.sort((a, b) => b.deficit.comparedTo(a.deficit) || byString(a.symbol, b.symbol));

  // Cut the buys to the cash the sells leave (estimated at the plan's prices).
  let available = cash.minus(reserve);
  for (const o of sells) available = available.plus(o.price.times(o.quantity).times(dec(1).minus(String(s.feeAllowance))));
  const orders: PlannedOrder[] = [...sells];
  const droppedForCash: string[] = [];
  for (const { deficit: _deficit, ...o } of buys) {
    const q = affordable(o.quantity, o.price, available, s);
    if (q <= 0) {
      droppedForCash.push(o.symbol);
      continue;
    }
    available = available.minus(buyCost(o.price, s).times(q));
    orders.push({ ...o, quantity: q });
  }
  return { equity, investable, reserve, targets, orders, unpriced, droppedForCash };
}

const keyOf = (side: OrderSide, symbol: string) => `${side}\u0000${symbol}`;

export interface NextOrder {
  /** The order to ask for now; undefined when the plan is exhausted. */
  readonly order: PlannedOrder | undefined;
  /** Plan orders already asked for in this session. */
  readonly asked: number;
  /** Buys passed over because the cash the results show does not cover one lot. */
  readonly skippedForCash: readonly string[];
}

/** Cash the session's results have moved: + sell proceeds that filled, - buy costs that filled or are queued. */
function cashMoved(plan: RebalancePlan, results: readonly OrderResult[], s: RebalanceSettings): Dec {
  const planned = new Map(plan.orders.map((o) => [keyOf(o.side, o.symbol), o]));
  let moved = ZERO;
  for (const r of results) {
    const filled = r.filledQuantity > 0 && r.averagePrice !== undefined ? dec(r.averagePrice).times(r.filledQuantity) : ZERO;
    const fees = dec(r.fees);
    if (r.intent.side === 'sell') moved = moved.plus(filled).minus(fees);
    else if (r.status === 'queued') {
      // Not filled yet, but the cash is spoken for: count it at the plan's price.
      const price = planned.get(keyOf('buy', r.intent.symbol))?.price ?? (r.intent.limitPrice ? dec(r.intent.limitPrice) : undefined);
      if (price) moved = moved.minus(buyCost(price, s).times(r.intent.quantity));
    } else moved = moved.minus(filled).minus(fees);
  }
  return moved;
}

/** The next order of the plan, given what the session has asked for and got so far. */
export function nextPlannedOrder(plan: RebalancePlan, cash: Dec, results: readonly OrderResult[], s: RebalanceSettings): NextOrder {
  const asked = new Set(results.map((r) => keyOf(r.intent.side, r.intent.symbol)));
  let askedCount = 0;
  const available = cash.minus(plan.reserve).plus(cashMoved(plan, results, s));
  const skippedForCash: string[] = [];
  for (const o of plan.orders) {
    if (asked.has(keyOf(o.side, o.symbol))) {
      askedCount++;
      continue;
    }
    if (o.side === 'sell') return { order: o, asked: askedCount, skippedForCash };
    const q = affordable(o.quantity, o.price, available, s);
    if (q > 0) return { order: q === o.quantity ? o : { ...o, quantity: q }, asked: askedCount, skippedForCash };
    skippedForCash.push(o.symbol);
  }
  return { order: undefined, asked: askedCount, skippedForCash };
}
