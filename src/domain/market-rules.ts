/**
 * Exchange rules as DATA, per market and per board, and the pure checks that read them.
 *
 * `MARKET_RULES` holds what a venue enforces: lot size and the odd-lot rule, T+1, the price
 * tick, the currency, and a board table (first matching pattern wins) giving each board's
 * daily price-limit ratio. No rule is an if-chain on a market name; a check reads the table.
 *
 * A-shares (SSE/SZSE trading rules):
 * - lots of 100 to buy; a SELL may be any multiple of 100, or include the account's whole
 *   odd remainder in one order ("余额不足100股的部分，应当一次性申报卖出"): with 250 held,
 *   100, 200, 50, 150 and 250 are valid, 30 and 130 are not. Selling a whole position is
 *   the common case of this rule;
 * - T+1: shares bought on a trading day can be sold from the next trading day on;
 * - daily price band from the previous close: limit = round(prevClose x (1 +- r), 2) half-up
 *   (the exchanges round to the 0.01 tick this way); main board r = 10%, STAR (688xxx.SH) and
 *   ChiNext (300xxx/301xxx.SZ) r = 20%, Beijing (.BJ) r = 30%. A buy at or above limit-up, or
 *   a sell at or below limit-down, does not fill (PRICE_LIMIT); a limit order priced outside
 *   the band is refused the same way.
 * Not modelled (documented extensions): ST / *ST stocks (±5%; the data has no ST flag), the
 * first five days of a new listing (no band), STAR's own quantity rule (at least 200 shares,
 * then steps of 1; we apply lots of 100 like AI-Trader), BSE's 100 + steps of 1.
 *
 * US equities: whole shares (lot 1, odd lots anywhere), no T+1, no daily band (LULD pauses are
 * not modelled), tick 0.01 (0.0001 below $1, Reg NMS rule 612).
 *
 * `labelledBarAt` (AI-Trader's "bar labelled with the session's date/time") lives here too:
 * it is pure and the point-in-time view needs it; it could move to point-in-time.ts.
 */
import type { DateTime } from 'luxon';
import type { PriceBar } from './bars.js';
import { MARKETS, type Market } from './markets.js';
import { Dec, dec } from './money.js';
import type { OrderSide } from './orders.js';
import type { PriceSource } from './price-store.js';
import { renderReason, type ReasonCode } from './reasons.js';
import { localDate } from './local-date.js';

export type Board = 'main' | 'star' | 'chinext' | 'bse' | 'us';

export interface BoardRule {
  readonly board: Board;
  readonly name: string;
  /** Symbols of this board. Rows are tried in order; the last one catches everything. */
  readonly match: RegExp;
  /** Daily band as a fraction of the previous close (decimal string); absent: no band. */
  readonly priceLimitRatio?: string;
  /**
   * The board's own least order instead of lots (STAR: 200 shares, then single shares). Checked
   * before a real broker is asked (live risk); the simulated venue applies lots of 100 as AI-Trader did.
   */
  readonly minBuy?: number;
}

export interface TickRule {
  /** Applies to prices strictly below this (decimal string); absent: every price. */
  readonly below?: string;
  readonly tick: string;
}

export interface MarketRules {
  readonly market: Market;
  readonly currency: 'CNY' | 'USD';
  /** Shares per board lot. */
  readonly lotSize: number;
  /**
   * Odd lots on a sell: `remainder` = only the account's whole odd remainder, in one order
   * (A-shares); `any` = no lot rule at all (lot 1).
   */
  readonly oddLotSell: 'remainder' | 'any';
  /** Shares bought today cannot be sold before the next trading day. */
  readonly tPlusOne: boolean;
  /** First matching row wins. */
  readonly ticks: readonly TickRule[];
  /** First matching row wins; the last row matches everything. */
  readonly boards: readonly BoardRule[];
}

export const MARKET_RULES: Readonly<Record<Market, MarketRules>> = {
  cn: {
    market: 'cn',
    currency: 'CNY',
    lotSize: 100,
    oddLotSell: 'remainder',
    tPlusOne: true,
    ticks: [{ tick: '0.01' }],
    boards: [
      { board: 'star', name: 'STAR Market (科创板)', match: /^688\d{3}\.SH$/i, priceLimitRatio: '0.2', minBuy: 200 },
      { board: 'chinext', name: 'ChiNext (创业板)', match: /^30[01]\d{3}\.SZ$/i, priceLimitRatio: '0.2' },
      { board: 'bse', name: 'Beijing Stock Exchange (北交所)', match: /\.BJ$/i, priceLimitRatio: '0.3' },
      { board: 'main', name: 'main board (主板)', match: /./, priceLimitRatio: '0.1' },
    ],
  },
  us: {
    market: 'us',
    currency: 'USD',
    lotSize: 1,
    oddLotSell: 'any',
    tPlusOne: false,
    ticks: [{ below: '1', tick: '0.0001' }, { tick: '0.01' }],
    boards: [{ board: 'us', name: 'US equities', match: /./ }],
  },
};

/** A refusal by a rule: the reason code and the sentence for the agent (`CODE: detail`). */
export interface RuleViolation {
  readonly reason: ReasonCode;
  readonly message: string;
}

export function violation(reason: ReasonCode, detail?: string): RuleViolation {
  return { reason, message: renderReason(reason, detail) };
}

export function boardOf(market: Market, symbol: string): BoardRule {
  const rows = MARKET_RULES[market].boards;
  return rows.find((b) => b.match.test(symbol)) ?? rows[rows.length - 1]!;
}

/** The tick that applies at `price`. */
export function tickSize(market: Market, price: Dec): Dec {
  const row = MARKET_RULES[market].ticks.find((t) => t.below === undefined || price.lt(t.below));
  return dec(row?.tick ?? '0.01');
}

/** `price` on the tick grid: `up` (ceil), `down` (floor) or `nearest` (half-up). */
export function roundToTick(price: Dec, tick: Dec, direction: 'up' | 'down' | 'nearest'): Dec {
  const mode = direction === 'up' ? Dec.ROUND_CEIL : direction === 'down' ? Dec.ROUND_FLOOR : Dec.ROUND_HALF_UP;
  return price.dividedBy(tick).toDecimalPlaces(0, mode).times(tick);
}

export interface PriceBand {
  readonly up: Dec;
  readonly down: Dec;
  readonly ratio: Dec;
  readonly board: BoardRule;
}

/**
 * The day's band: round(prevClose x (1 +- r), 2) half-up, the exchanges' rounding.
 * Undefined for a board without a band (US).
 */
export function priceBand(market: Market, symbol: string, prevClose: Dec): PriceBand | undefined {
  const board = boardOf(market, symbol);
  if (board.priceLimitRatio === undefined) return undefined;
  const ratio = dec(board.priceLimitRatio);
  const up = prevClose.times(ratio.plus(1)).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
  const down = prevClose.times(dec(1).minus(ratio)).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
  return { up, down, ratio, board };
}

const pct = (r: Dec): string => `${r.times(100).toFixed()}%`;
const px = (p: Dec): string => p.toFixed(2);

// ---------------------------------------------------------------------------------------
// Checks: each returns a violation or undefined

export interface LotQuery {
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
  /**
   * Sells: the shares the account may sell now (its available balance). Needed for the
   * odd-remainder rule; without it an odd sell is refused.
   */
  readonly available?: number;
}

/**
 * Board lots. Buys: a multiple of the lot. Sells on A-shares: a multiple of the lot, or one
 * that carries the account's whole odd remainder (quantity % 100 == available % 100, quantity
 * <= available), so selling a whole position of 250 is allowed.
 */
export function checkLot(market: Market, q: LotQuery): RuleViolation | undefined {
  const rules = MARKET_RULES[market];
  const lot = rules.lotSize;
  if (q.quantity % lot === 0) return undefined;
  if (q.side === 'sell' && rules.oddLotSell === 'any') return undefined;
  if (q.side === 'buy' || q.available === undefined) {
    return violation('LOT_SIZE', `${q.quantity} shares of ${q.symbol} is not a multiple of ${lot}`);
  }
  const oddHeld = q.available % lot;
  if (q.quantity <= q.available && q.quantity % lot === oddHeld) return undefined;
  return violation(
    'LOT_SIZE',
    `${q.quantity} shares of ${q.symbol} is not a multiple of ${lot}; an odd lot may only be sold together with ` +
      (oddHeld === 0 ? `an odd remainder, and the ${q.available} sellable shares have none` : `the whole odd remainder of ${oddHeld} of the ${q.available} sellable shares`),
  );
}

/**
 * A board with its own quantity rule instead of lots (STAR: 科创板 a buy is at least 200 shares,
 * then any whole number above; a sell is at least 200, or the whole holding when less is sellable).
 * Undefined for boards that trade in lots (checkLot's).
 */
export function checkBoardQuantity(market: Market, q: LotQuery): RuleViolation | undefined {
  const board = boardOf(market, q.symbol);
  const min = board.minBuy;
  if (min === undefined || q.quantity >= min) return undefined;
  if (q.side === 'sell' && q.available !== undefined && q.quantity === q.available) return undefined;
  const what = q.side === 'buy' ? `a buy of ${q.symbol} on the ${board.name} is at least ${min} shares` : `a sell of ${q.symbol} on the ${board.name} is at least ${min} shares, or the whole ${q.available ?? 0} sellable`;
  return violation('LOT_SIZE', `${what}, not ${q.quantity}`);
}

/** Whether `symbol` trades in lots (else its board has its own quantity rule: checkBoardQuantity). */
export function tradesInLots(market: Market, symbol: string): boolean {
  return boardOf(market, symbol).minBuy === undefined;
}

/** AI-Trader's own lot rule: `amount % 100 != 0` is refused on A-shares, both sides. */
export function checkLotPlain(market: Market, q: Pick<LotQuery, 'symbol' | 'quantity'>): RuleViolation | undefined {
  const lot = MARKET_RULES[market].lotSize;
  if (q.quantity % lot === 0) return undefined;
  return violation('LOT_SIZE', `${q.quantity} shares of ${q.symbol} is not a multiple of ${lot}`);
}

export interface HoldingQuery {
  readonly symbol: string;
  readonly quantity: number;
  /** Shares held and not committed to another open sell. */
  readonly held: number;
  /** Of those, the ones that may be sold today (T+1). */
  readonly sellable: number;
  /** Exchange-local date, for the message. */
  readonly today?: string;
}

/** Enough shares at all (ignoring T+1). */
export function checkPosition(q: Pick<HoldingQuery, 'symbol' | 'quantity' | 'held'>): RuleViolation | undefined {
  if (q.quantity <= q.held) return undefined;
  return violation('INSUFFICIENT_POSITION', `selling ${q.quantity} shares of ${q.symbol} but only ${q.held} are held`);
}

/** T+1: the shares are held, but some of those needed were bought today. */
export function checkTPlusOne(market: Market, q: HoldingQuery): RuleViolation | undefined {
  if (!MARKET_RULES[market].tPlusOne || q.quantity <= q.sellable) return undefined;
  const today = q.today ? ` (${q.today})` : '';
  return violation(
    'T_PLUS_ONE',
    `selling ${q.quantity} shares of ${q.symbol}: ${q.held - q.sellable} of the ${q.held} held were bought today${today} ` +
      `and cannot be sold before the next trading day; ${q.sellable} can be sold now`,
  );
}

/**
 * The daily band at the market price: a buy at or above limit-up, or a sell at or below
 * limit-down, does not fill. No previous close (first day of data) or no band: no check.
 */
export function checkPriceLimit(
  market: Market,
  q: { readonly symbol: string; readonly side: OrderSide; readonly price: Dec; readonly prevClose: Dec | undefined },
): RuleViolation | undefined {
  if (q.prevClose === undefined) return undefined;
  const band = priceBand(market, q.symbol, q.prevClose);
  if (!band) return undefined;
  const pc = `previous close ${px(q.prevClose)}, ${band.board.name} ±${pct(band.ratio)}`;
  if (q.side === 'buy' && q.price.gte(band.up)) {
    return violation('PRICE_LIMIT', `${q.symbol} is at its limit-up ${px(band.up)} (price ${q.price.toFixed()}, ${pc}); a buy does not fill`);
  }
  if (q.side === 'sell' && q.price.lte(band.down)) {
    return violation('PRICE_LIMIT', `${q.symbol} is at its limit-down ${px(band.down)} (price ${q.price.toFixed()}, ${pc}); a sell does not fill`);
  }
  return undefined;
}

/** A limit order priced outside the day's band is refused by the exchange. */
export function checkPriceBand(
  market: Market,
  q: { readonly symbol: string; readonly limitPrice: Dec; readonly prevClose: Dec | undefined },
): RuleViolation | undefined {
  if (q.prevClose === undefined) return undefined;
  const band = priceBand(market, q.symbol, q.prevClose);
  if (!band || (q.limitPrice.lte(band.up) && q.limitPrice.gte(band.down))) return undefined;
  return violation(
    'PRICE_LIMIT',
    `limit price ${q.limitPrice.toFixed()} of ${q.symbol} is outside today's band ${px(band.down)}-${px(band.up)} ` +
      `(previous close ${px(q.prevClose)}, ${band.board.name} ±${pct(band.ratio)})`,
  );
}

/** A limit price must sit on the tick grid (BROKER_REJECTED: no finer code exists). */
export function checkTick(market: Market, q: { readonly symbol: string; readonly limitPrice: Dec }): RuleViolation | undefined {
  const tick = tickSize(market, q.limitPrice);
  if (q.limitPrice.gt(0) && q.limitPrice.mod(tick).isZero()) return undefined;
  return violation('BROKER_REJECTED', `limit price ${q.limitPrice.toFixed()} of ${q.symbol} is not a positive multiple of the tick ${tick.toFixed()}`);
}

/** Cash for the order (and its fees, when the venue charges any). */
export function checkCash(
  market: Market,
  q: { readonly symbol: string; readonly side: OrderSide; readonly quantity: number; readonly required: Dec; readonly available: Dec },
): RuleViolation | undefined {
  if (q.required.lte(q.available)) return undefined;
  const ccy = MARKET_RULES[market].currency;
  const what = q.side === 'buy' ? `buying ${q.quantity} shares of ${q.symbol}` : `the fees of selling ${q.quantity} shares of ${q.symbol}`;
  return violation('INSUFFICIENT_CASH', `${what} needs ${q.required.toFixed(2)} ${ccy} but ${q.available.toFixed(2)} ${ccy} is available`);
}

/** Continuous trading at `at` (from the calendar). */
export function checkMarketOpen(market: Market, at: DateTime, isOpen: boolean): RuleViolation | undefined {
  if (isOpen) return undefined;
  const local = at.setZone(MARKETS[market].zone).toFormat("yyyy-LL-dd HH:mm ZZZZ");
  return violation('MARKET_CLOSED', `the ${MARKETS[market].name} exchange is not in continuous trading at ${local}`);
}

// ---------------------------------------------------------------------------------------
// AI-Trader's "bar labelled with the session's date/time"

/** The instant a bar's label names: a date label is that day's midnight, a date-time its wall time (exchange zone). */
export function labelInstant(bar: PriceBar): DateTime {
  const zone = MARKETS[bar.market].zone;
  const m = /^(\d{4}-\d{2}-\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(bar.label);
  const day = bar.start.setZone(zone).startOf('day');
  if (!m || m[2] === undefined) return day;
  return day.set({ hour: Number(m[2]), minute: Number(m[3]), second: Number(m[4] ?? 0), millisecond: 0 });
}

/** Bars are immutable and shared: their label instant (epoch ms) and exchange date are computed once. */
const labelCache = new WeakMap<PriceBar, { readonly ms: number; readonly day: string }>();

function labelOf(bar: PriceBar): { readonly ms: number; readonly day: string } {
  let hit = labelCache.get(bar);
  if (!hit) {
    const at = labelInstant(bar);
    hit = { ms: at.toMillis(), day: at.toISODate()! };
    labelCache.set(bar, hit);
  }
  return hit;
}

/**
 * AI-Trader's convention: the bar whose label is the latest label not after `t` on the same
 * exchange day (a daily bar's label is its date; US hourly labels are bar starts, A-share
 * hourly labels bar ends, see LABEL_MEANINGS). Only its open may be used. Added guard: the bar
 * must have started by `t` (its open is known), so a daily session before 09:30 finds nothing
 * instead of reading the day's open early.
 *
 * Only bars that have started by `t` can qualify (label <= t means start <= t for every
 * meaning but the date label, which the guard covers), so the candidates are the bar in
 * progress and the last completed bars, newest first; labels grow with starts, so the first
 * candidate whose label is not after `t` is the answer (if it is of `t`'s day).
 */
export function labelledBarAt(store: PriceSource, symbol: string, t: DateTime): PriceBar | undefined {
  const market = store.market(symbol);
  if (market === undefined) return undefined;
  const tMs = t.toMillis();
  const current = store.priceAsOf(symbol, t)?.bar;
  const done = store.barsAsOf(symbol, t, 8);
  const candidates = current && current !== done[done.length - 1] ? [...done, current] : done;
  for (let i = candidates.length - 1; i >= 0; i--) {
    const bar = candidates[i]!;
    const label = labelOf(bar);
    if (label.ms > tMs || bar.start.toMillis() > tMs) continue;
    return label.day === localDate(tMs, MARKETS[market].zone) ? bar : undefined;
  }
  return undefined;
}
