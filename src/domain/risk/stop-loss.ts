/**
 * Protective exits as pure rules: stop-loss, take-profit and trailing stop on one position at
 * one price, and how much of the position may be sold right now under the market's rules.
 * No I/O, no clock: the watcher (src/actors/risk/stop-loss-watcher.ts) feeds it quotes,
 * positions and the date.
 *
 * The rules, with `cost` the average cost (cost basis / quantity, buy fees included) and
 * `high` the highest price seen since the buy:
 * - STOP_LOSS     when price <= cost x (1 - stop_loss_ratio)      (at exactly the stop: sell)
 * - TRAILING_STOP when price <= high x (1 - trailing_stop_ratio)  (at exactly the level: sell)
 * - TAKE_PROFIT   when price >= cost x (1 + take_profit_ratio)    (at exactly the target: sell)
 * Each is off when its ratio is absent; take-profit and trailing stop are off by default (the
 * config has no default for them), and `enable_stop_loss: false` turns the stop-loss off.
 * When several hold at once, the first in this order is reported: STOP_LOSS, TRAILING_STOP,
 * TAKE_PROFIT (a loss exit names the loss). All of them sell the whole position.
 *
 * Exactness: comparisons against the cost are made without dividing, as
 * `price x quantity <= costBasis x (1 - ratio)` (and `>=` for take-profit), which is the same
 * inequality multiplied by the positive quantity, so a repeating average cost (100 / 3) never
 * rounds a decision (Dec keeps 40 significant digits; a price x quantity product of real
 * prices and share counts has far fewer, so it is exact). Ratios come from the config as JS numbers and are read with their
 * shortest decimal form (0.08 -> "0.08"), never as binary fractions.
 *
 * What may be sold now (`protectiveSell`): the sellable shares (A-shares: lots bought before
 * today, T+1), all of them in one order (always a valid lot: it carries the whole odd
 * remainder, see market-rules.ts). Nothing sellable -> blocked by T_PLUS_ONE; a price at or
 * below limit-down (with a known previous close) -> blocked by PRICE_LIMIT, because a sell
 * there does not fill. Shares held back by T+1 are reported so the caller sells them at the
 * next open.
 */
import { MARKET_RULES, checkPriceLimit, violation, type RuleViolation } from '../market-rules.js';
import type { Market } from '../markets.js';
import { Dec, dec } from '../money.js';
import type { Lot } from '../portfolio.js';

export type StopTrigger = 'STOP_LOSS' | 'TAKE_PROFIT' | 'TRAILING_STOP';

/** Ratios as exact decimals; an absent ratio turns its rule off. */
export interface StopRatios {
  readonly stopLoss?: Dec;
  readonly takeProfit?: Dec;
  readonly trailingStop?: Dec;
}

/** The `risk_control` keys this rule reads (src/config/schema.ts). */
export interface StopConfig {
  readonly enable_stop_loss: boolean;
  readonly stop_loss_ratio: number;
  readonly take_profit_ratio?: number | undefined;
  readonly trailing_stop_ratio?: number | undefined;
}

/** Config -> exact ratios (a JS number is read as its shortest decimal text). */
export function stopRatiosFromConfig(c: StopConfig): StopRatios {
  return {
    ...(c.enable_stop_loss ? { stopLoss: dec(c.stop_loss_ratio) } : {}),
    ...(c.take_profit_ratio !== undefined ? { takeProfit: dec(c.take_profit_ratio) } : {}),
    ...(c.trailing_stop_ratio !== undefined ? { trailingStop: dec(c.trailing_stop_ratio) } : {}),
  };
}

/** True when at least one rule is on. */
export function anyStopRule(r: StopRatios): boolean {
  return r.stopLoss !== undefined || r.takeProfit !== undefined || r.trailingStop !== undefined;
}

/**
 * The thresholds of one position, precomputed once per position (they change only when the
 * position or its high-water mark does). Cost thresholds are notionals (compare with
 * price x quantity); the trailing one is a price.
 */
export interface StopLevels {
  readonly quantity: number;
  readonly costBasis: Dec;
  /** costBasis x (1 - stopLoss). */
  readonly stopNotional?: Dec;
  /** costBasis x (1 + takeProfit). */
  readonly takeProfitNotional?: Dec;
  /** high x (1 - trailingStop). */
  readonly trailingPrice?: Dec;
  readonly highWater?: Dec;
}

export function stopLevels(costBasis: Dec, quantity: number, ratios: StopRatios, highWater?: Dec): StopLevels {
  const levels: StopLevels = {
    quantity,
    costBasis,
    ...(ratios.stopLoss !== undefined ? { stopNotional: costBasis.times(dec(1).minus(ratios.stopLoss)) } : {}),
    ...(ratios.takeProfit !== undefined ? { takeProfitNotional: costBasis.times(ratios.takeProfit.plus(1)) } : {}),
  };
  return highWater === undefined ? levels : withHighWater(levels, ratios, highWater);
}

/** The trailing level for a new high-water mark (the cost thresholds stay). */
export function withHighWater(levels: StopLevels, ratios: StopRatios, highWater: Dec): StopLevels {
  return ratios.trailingStop === undefined
    ? { ...levels, highWater }
    : { ...levels, highWater, trailingPrice: highWater.times(dec(1).minus(ratios.trailingStop)) };
}

/** Which rule the price breaks, if any (order: STOP_LOSS, TRAILING_STOP, TAKE_PROFIT). Hot path: no allocation when none. */
export function triggeredBy(levels: StopLevels, price: Dec): StopTrigger | undefined {
  if (levels.quantity <= 0) return undefined;
  let notional: Dec | undefined;
  if (levels.stopNotional !== undefined) {
    notional = price.times(levels.quantity);
    if (notional.lte(levels.stopNotional)) return 'STOP_LOSS';
  }
  if (levels.trailingPrice !== undefined && price.lte(levels.trailingPrice)) return 'TRAILING_STOP';
  if (levels.takeProfitNotional !== undefined) {
    notional ??= price.times(levels.quantity);
    if (notional.gte(levels.takeProfitNotional)) return 'TAKE_PROFIT';
  }
  return undefined;
}

/** Shares of a position that may be sold on `today` (exchange-local YYYY-MM-DD): with T+1 only lots bought before today. */
export function sellableShares(lots: readonly Lot[], today: string, tPlusOne: boolean): number {
  let n = 0;
  for (const lot of lots) if (!tPlusOne || lot.date < today) n += lot.quantity;
  return n;
}

export interface ProtectiveSell {
  /** Shares to sell now (0 when blocked). */
  readonly quantity: number;
  /** Shares that cannot be sold today (bought today, T+1); to be sold at the next open. */
  readonly heldBack: number;
  /** Why nothing can go out now: T_PLUS_ONE (nothing sellable) or PRICE_LIMIT (at limit-down). */
  readonly blocked?: RuleViolation;
}

/** How much of a position a protective market sell may take now, under the market's rules. */
export function protectiveSell(
  market: Market,
  q: {
    readonly symbol: string;
    readonly quantity: number;
    readonly sellable: number;
    readonly price: Dec;
    /** Previous session's close, for the daily band; undefined = no band check. */
    readonly prevClose?: Dec | undefined;
    readonly today?: string;
  },
): ProtectiveSell {
  const sellable = Math.max(0, Math.min(q.sellable, q.quantity));
  const heldBack = q.quantity - sellable;
  if (sellable === 0) {
    const today = q.today ? ` (${q.today})` : '';
    const blocked = MARKET_RULES[market].tPlusOne
      ? violation('T_PLUS_ONE', `all ${q.quantity} shares of ${q.symbol} were bought today${today}; they can be sold from the next trading day`)
      : violation('INSUFFICIENT_POSITION', `no shares of ${q.symbol} can be sold now`);
    return { quantity: 0, heldBack, blocked };
  }
  const limit = checkPriceLimit(market, { symbol: q.symbol, side: 'sell', price: q.price, prevClose: q.prevClose });
  if (limit) return { quantity: 0, heldBack, blocked: limit };
  return { quantity: sellable, heldBack };
}

/** A position as the rule sees it. */
export interface StopPosition {
  readonly symbol: string;
  /** Shares held. */
  readonly quantity: number;
  /** Shares that may be sold today (see `sellableShares`). */
  readonly sellable: number;
  /** Total cost of the shares held, buy fees included (average cost = costBasis / quantity). */
  readonly costBasis: Dec;
  /** Highest price seen since the buy (trailing stop); absent: no trailing level yet. */
  readonly highWater?: Dec;
}

export interface StopDecision extends ProtectiveSell {
  readonly trigger: StopTrigger;
  /** For people: `600519.SH 1380 <= stop 1380 (average cost 1500, -8%)`. */
  readonly detail: string;
}

const show = (d: Dec): string => {
  const r = d.toDecimalPlaces(4, Dec.ROUND_HALF_UP);
  return r.equals(d) ? d.toFixed() : `~${r.toFixed()}`;
};
const pct = (r: Dec): string => `${r.times(100).toFixed()}%`;

/** The human sentence for a trigger. */
export function describeTrigger(trigger: StopTrigger, symbol: string, price: Dec, levels: StopLevels, ratios: StopRatios): string {
  const avg = levels.costBasis.dividedBy(levels.quantity);
  switch (trigger) {
    case 'STOP_LOSS':
      return `${symbol} ${price.toFixed()} <= stop ${show(levels.stopNotional!.dividedBy(levels.quantity))} (average cost ${show(avg)}, -${pct(ratios.stopLoss!)})`;
    case 'TRAILING_STOP':
      return `${symbol} ${price.toFixed()} <= trailing stop ${show(levels.trailingPrice!)} (high since the buy ${levels.highWater!.toFixed()}, -${pct(ratios.trailingStop!)})`;
    case 'TAKE_PROFIT':
      return `${symbol} ${price.toFixed()} >= target ${show(levels.takeProfitNotional!.dividedBy(levels.quantity))} (average cost ${show(avg)}, +${pct(ratios.takeProfit!)})`;
  }
}

/**
 * The decision for one position at one price: which rule fires and how much may be sold now,
 * or undefined when no rule fires (or the position is empty).
 */
export function evaluateStop(
  position: StopPosition,
  price: Dec,
  ratios: StopRatios,
  rules: { readonly market: Market; readonly prevClose?: Dec | undefined; readonly today?: string },
): StopDecision | undefined {
  if (position.quantity <= 0) return undefined;
  const levels = stopLevels(position.costBasis, position.quantity, ratios, position.highWater);
  const trigger = triggeredBy(levels, price);
  if (!trigger) return undefined;
  const sell = protectiveSell(rules.market, {
    symbol: position.symbol,
    quantity: position.quantity,
    sellable: position.sellable,
    price,
    prevClose: rules.prevClose,
    ...(rules.today !== undefined ? { today: rules.today } : {}),
  });
  return { trigger, ...sell, detail: describeTrigger(trigger, position.symbol, price, levels, ratios) };
}
