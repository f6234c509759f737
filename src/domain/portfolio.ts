/**
 * Portfolio math for one account (one signature): cash, positions with their cost
 * basis and buy lots, realised PnL, fees, and the start-of-day value. Pure and
 * immutable: every function returns a new account and never touches its input.
 *
 * Money is exact (`Dec`, see money.ts):
 * - cash moves by `tradeValue(price, quantity, rule) ± fee` (money.ts): under the
 *   `cent` rule (default; the venue's strict rules) the fill's value is rounded to
 *   the cent, half-up, as the broker books it, so cash always holds whole cents;
 *   under `exact` (AI-Trader's rules) it is `quantity x price` unrounded. Fees arrive
 *   already rounded to the cent by whoever charged them. The cost basis takes the
 *   same value, so it is what the shares cost in cash.
 * - cost basis is the total paid for the shares held, buy fees included; the
 *   average cost is `costBasis / quantity`. A sell removes the average cost of the
 *   shares sold, `costBasis x sold / held` rounded half-up to COST_DECIMALS places
 *   (the whole remainder when the position closes), and realised PnL moves by
 *   `proceeds - that amount`, where proceeds = `quantity x price - fee`. Because
 *   the same removed amount is used on both sides, this identity is exact at all
 *   times: `cash + sum(costBasis) - realizedPnl = initial cash`.
 * - lots are consumed first in, first out; they only carry buy dates for T+1.
 *
 * A sell of more shares than are held throws a PortfolioError: fills come from the
 * broker, which is the source of truth, so an impossible fill is a bug to surface,
 * not to absorb. Cash may go negative (the ledger records what the broker did; the
 * broker and risk control are the ones that refuse an unaffordable order).
 */
import { type CashRule, Dec, dec, tradeValue } from './money.js';
import type { OrderSide } from './orders.js';

/** Decimal places kept for the cost removed from a position by a partial sell. */
export const COST_DECIMALS = 10;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface Lot {
  /** Exchange-local trading date of the buy, `YYYY-MM-DD`. */
  readonly date: string;
  readonly quantity: number;
}

export interface Position {
  /** Shares held, a positive integer (flat positions are removed). */
  readonly quantity: number;
  /** Total cost of the shares held, buy fees included. */
  readonly costBasis: Dec;
  /** Buy lots, oldest first; their quantities sum to `quantity`. */
  readonly lots: readonly Lot[];
}

export interface StartOfDay {
  /** Exchange-local date, `YYYY-MM-DD`; '' until the first day begins. */
  readonly date: string;
  readonly equity: Dec;
}

export interface Account {
  readonly initialCash: Dec;
  readonly cash: Dec;
  /** Symbol -> position; only symbols with shares. */
  readonly positions: Readonly<Record<string, Position>>;
  readonly realizedPnl: Dec;
  readonly feesPaid: Dec;
  readonly startOfDay: StartOfDay;
}

export interface PortfolioFill {
  readonly side: OrderSide;
  readonly symbol: string;
  /** Shares, a positive integer. */
  readonly quantity: number;
  readonly price: Dec | string;
  /** Already rounded to the cent by the broker; default 0. */
  readonly fee?: Dec | string;
  /** Exchange-local trading date of the fill, `YYYY-MM-DD` (the lot's date for T+1). */
  readonly date: string;
  /** How the fill's value becomes cash; default `cent`. */
  readonly cashRule?: CashRule;
}

/** A fill the account cannot take (e.g. selling shares it does not hold). */
export class PortfolioError extends Error {
  override readonly name: string = 'PortfolioError';
}

export function openAccount(initialCash: Dec | string | number, date = ''): Account {
  const cash = dec(initialCash);
  return {
    initialCash: cash,
    cash,
    positions: {},
    realizedPnl: dec(0),
    feesPaid: dec(0),
    startOfDay: { date, equity: cash },
  };
}

function checkFill(fill: PortfolioFill): { price: Dec; fee: Dec } {
  if (!Number.isSafeInteger(fill.quantity) || fill.quantity <= 0) {
    throw new PortfolioError(`fill of ${fill.symbol}: quantity must be a positive whole number of shares, got ${fill.quantity}`);
  }
  if (!fill.symbol) throw new PortfolioError('fill without a symbol');
  if (!ISO_DATE.test(fill.date)) throw new PortfolioError(`fill of ${fill.symbol}: date must be YYYY-MM-DD, got ${JSON.stringify(fill.date)}`);
  const price = dec(fill.price);
  const fee = dec(fill.fee ?? 0);
  if (price.isNegative()) throw new PortfolioError(`fill of ${fill.symbol}: negative price ${price.toFixed()}`);
  if (fee.isNegative()) throw new PortfolioError(`fill of ${fill.symbol}: negative fee ${fee.toFixed()}`);
  return { price, fee };
}

/** Add a buy to the lots, kept in date order (one lot per date; a late-reported older fill goes in its place). */
function addLot(lots: readonly Lot[], date: string, quantity: number): Lot[] {
  const out = [...lots];
  let i = out.length;
  while (i > 0 && out[i - 1]!.date > date) i--;
  const prev = out[i - 1];
  if (prev && prev.date === date) out[i - 1] = { date, quantity: prev.quantity + quantity };
  else out.splice(i, 0, { date, quantity });
  return out;
}

/** FIFO: take `quantity` shares from the oldest lots. */
function consumeLots(lots: readonly Lot[], quantity: number): Lot[] {
  const out: Lot[] = [];
  let left = quantity;
  for (const lot of lots) {
    if (left === 0) out.push(lot);
    else if (lot.quantity <= left) left -= lot.quantity;
    else {
      out.push({ date: lot.date, quantity: lot.quantity - left });
      left = 0;
    }
  }
  return out;
}

/** The account after one fill (see the module comment for the money rules). */
export function applyFill(account: Account, fill: PortfolioFill): Account {
  const { price, fee } = checkFill(fill);
  const notional = tradeValue(price, fill.quantity, fill.cashRule ?? 'cent');
  const held = account.positions[fill.symbol];
  const positions = { ...account.positions };
  if (fill.side === 'buy') {
    const lots = addLot(held?.lots ?? [], fill.date, fill.quantity);
    positions[fill.symbol] = {
      quantity: (held?.quantity ?? 0) + fill.quantity,
      costBasis: (held?.costBasis ?? dec(0)).plus(notional).plus(fee),
      lots,
    };
    return {
      ...account,
      cash: account.cash.minus(notional).minus(fee),
      positions,
      feesPaid: account.feesPaid.plus(fee),
    };
  }
  if (fill.side !== 'sell') throw new PortfolioError(`unknown side ${JSON.stringify(fill.side)}`);
  const heldQty = held?.quantity ?? 0;
  if (!held || fill.quantity > heldQty) {
    throw new PortfolioError(`sell of ${fill.quantity} ${fill.symbol} but only ${heldQty} held: the broker reported a fill the ledger cannot account for`);
  }
  const closing = fill.quantity === heldQty;
  const removed = closing
    ? held.costBasis
    : held.costBasis.times(fill.quantity).dividedBy(heldQty).toDecimalPlaces(COST_DECIMALS, Dec.ROUND_HALF_UP);
  const proceeds = notional.minus(fee);
  if (closing) delete positions[fill.symbol];
  else {
    positions[fill.symbol] = {
      quantity: heldQty - fill.quantity,
      costBasis: held.costBasis.minus(removed),
      lots: consumeLots(held.lots, fill.quantity),
    };
  }
  return {
    ...account,
    cash: account.cash.plus(proceeds),
    positions,
    realizedPnl: account.realizedPnl.plus(proceeds).minus(removed),
    feesPaid: account.feesPaid.plus(fee),
  };
}

/**
 * Shares of `symbol` that may be sold on `today` (`YYYY-MM-DD`, exchange-local):
 * with T+1 (A-shares) only lots bought before today, otherwise everything held.
 */
export function sellable(account: Account, symbol: string, today: string, tPlusOne: boolean): number {
  const held = account.positions[symbol];
  if (!held) return 0;
  if (!tPlusOne) return held.quantity;
  let n = 0;
  for (const lot of held.lots) if (lot.date < today) n += lot.quantity;
  return n;
}

export type PriceLookup = ReadonlyMap<string, Dec> | ((symbol: string) => Dec | undefined);

export interface Mark {
  /** cash + positionsValue. */
  readonly equity: Dec;
  /** Sum of quantity x price; a position without a known price counts at its cost basis. */
  readonly positionsValue: Dec;
  /** Sum over priced positions of quantity x price - cost basis (0 for unpriced ones). */
  readonly unrealizedPnl: Dec;
  /** Held symbols that had no price (valued at cost basis), sorted. */
  readonly unpriced: readonly string[];
}

/** Value the account at the given prices. Exact, no rounding. */
export function markToMarket(account: Account, prices: PriceLookup): Mark {
  const lookup = typeof prices === 'function' ? prices : (s: string) => prices.get(s);
  let value = dec(0);
  let unrealized = dec(0);
  const unpriced: string[] = [];
  for (const symbol of Object.keys(account.positions).sort()) {
    const p = account.positions[symbol]!;
    const price = lookup(symbol);
    if (price === undefined) {
      value = value.plus(p.costBasis);
      unpriced.push(symbol);
      continue;
    }
    const v = price.times(p.quantity);
    value = value.plus(v);
    unrealized = unrealized.plus(v.minus(p.costBasis));
  }
  return { equity: account.cash.plus(value), positionsValue: value, unrealizedPnl: unrealized, unpriced };
}

/** Start a new exchange day: when `date` is after the current start-of-day date, it becomes the start of day at `equity`. */
export function rollDay(account: Account, date: string, equity: Dec): Account {
  if (!ISO_DATE.test(date)) throw new PortfolioError(`rollDay: date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  if (date <= account.startOfDay.date) return account;
  return { ...account, startOfDay: { date, equity } };
}

/** True when `date` begins a new day for this account (rollDay would change it). */
export function isNewDay(account: Account, date: string): boolean {
  return date > account.startOfDay.date;
}

// ---------------------------------------------------------------------------------------
// JSON form (snapshots): decimal strings, exact

export interface AccountJson {
  readonly initialCash: string;
  readonly cash: string;
  readonly positions: Record<string, { quantity: number; costBasis: string; lots: Lot[] }>;
  readonly realizedPnl: string;
  readonly feesPaid: string;
  readonly startOfDay: { date: string; equity: string };
}

export function accountToJson(account: Account): AccountJson {
  const positions: AccountJson['positions'] = {};
  for (const [symbol, p] of Object.entries(account.positions)) {
    positions[symbol] = { quantity: p.quantity, costBasis: p.costBasis.toFixed(), lots: p.lots.map((l) => ({ ...l })) };
  }
  return {
    initialCash: account.initialCash.toFixed(),
    cash: account.cash.toFixed(),
    positions,
    realizedPnl: account.realizedPnl.toFixed(),
    feesPaid: account.feesPaid.toFixed(),
    startOfDay: { date: account.startOfDay.date, equity: account.startOfDay.equity.toFixed() },
  };
}

export function accountFromJson(json: AccountJson): Account {
  const positions: Record<string, Position> = {};
  for (const [symbol, p] of Object.entries(json.positions)) {
    positions[symbol] = { quantity: p.quantity, costBasis: dec(p.costBasis), lots: p.lots.map((l) => ({ date: l.date, quantity: l.quantity })) };
  }
  return {
    initialCash: dec(json.initialCash),
    cash: dec(json.cash),
    positions,
    realizedPnl: dec(json.realizedPnl),
    feesPaid: dec(json.feesPaid),
    startOfDay: { date: json.startOfDay.date, equity: dec(json.startOfDay.equity) },
  };
}
