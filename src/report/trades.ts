/**
 * Round trips from a run's fills: FIFO lots per symbol, pure and exact.
 *
 * - Every buy fill opens a lot (its quantity, price, instant and fee). A sell fill closes
 *   shares from the oldest open lots of its symbol first; each (lot, sell fill) pair it
 *   touches is one round trip, so a partial close splits the lot and a sell spanning two lots
 *   gives two round trips.
 * - PnL of a round trip = (exit price - entry price) x quantity - its share of the buy's fee
 *   - its share of the sell's fee. Prices x quantity are exact; a fee is split in proportion
 *   to the shares, each share rounded half-up to the fee's own decimals (at least cents), the
 *   last share of a fee taking what is left, so the shares of a fee add up to it exactly.
 *   (The venue books each fill's value rounded to the cent under the strict rules: a
 *   round trip's PnL can differ from the cash it moved by those sub-cent roundings.)
 * - Lots still open after the last fill are listed as open: unrealised PnL at the last
 *   price (`lastPrices`, the price known at the last session) minus their share of the buy
 *   fee; null when that price is unknown.
 * - A sell of more shares than the lots hold (the books corrected to the broker's, which
 *   the fills do not show) closes what there is; the rest is counted in `unmatched`.
 */
import { Dec, dec } from '../domain/money.js';
import { instantMillis, type TradeFill } from './types.js';

export interface RoundTrip {
  readonly symbol: string;
  readonly quantity: number;
  readonly entryAt: string;
  readonly entryPrice: Dec;
  /** null for a lot still open at the end. */
  readonly exitAt: string | null;
  readonly exitPrice: Dec | null;
  /** The price an open lot is marked at (null: unknown, or a closed round trip). */
  readonly markPrice: Dec | null;
  /** The fee shares of the buy and (closed) the sell. */
  readonly fees: Dec;
  /** Net of fees; for an open lot unrealised at the mark (null without a mark). */
  readonly pnl: Dec | null;
  /** Milliseconds from entry to exit (open: to `markedAt`). */
  readonly holdingMs: number;
  readonly open: boolean;
}

interface Lot {
  readonly at: string;
  readonly price: Dec;
  /** Shares still open. */
  quantity: number;
  /** The part of the buy fee not yet given to a round trip. */
  fee: Dec;
}

/** `total` x part / whole, rounded half-up to the fee's decimals (at least 2); the whole when part = whole. */
function feeShare(total: Dec, part: number, whole: number): Dec {
  if (part === whole) return total;
  const places = Math.max(2, total.decimalPlaces());
  return total.times(part).div(whole).toDecimalPlaces(places, Dec.ROUND_HALF_UP);
}

export interface RoundTripsResult {
  /** Closed round trips in the order they closed, then open lots by symbol and entry. */
  readonly trips: RoundTrip[];
  /** Shares sold beyond the open lots, by symbol (only symbols where it happened). */
  readonly unmatched: Record<string, number>;
}

/**
 * The round trips of `fills` (in the order the ledger applied them). `markedAt` is the
 * instant open lots are marked at (the last session), `lastPrices` their prices then.
 */
export function roundTrips(
  fills: readonly TradeFill[],
  markedAt: string | null,
  lastPrices: Readonly<Record<string, string>> = {},
): RoundTripsResult {
  const lots = new Map<string, Lot[]>();
  const trips: RoundTrip[] = [];
  const unmatched: Record<string, number> = {};
  for (const f of fills) {
    const price = dec(f.price);
    const fee = dec(f.fee);
    const open = lots.get(f.symbol) ?? [];
    lots.set(f.symbol, open);
    if (f.side === 'buy') {
      open.push({ at: f.at, price, quantity: f.quantity, fee });
      continue;
    }
    let left = f.quantity;
    let sellFee = fee;
    while (left > 0 && open.length > 0) {
      const lot = open[0]!;
      const q = Math.min(left, lot.quantity);
      const entryFee = feeShare(lot.fee, q, lot.quantity);
      const exitFee = feeShare(sellFee, q, left);
      lot.fee = lot.fee.minus(entryFee);
      lot.quantity -= q;
      sellFee = sellFee.minus(exitFee);
      left -= q;
      const fees = entryFee.plus(exitFee);
      trips.push({
        symbol: f.symbol,
        quantity: q,
        entryAt: lot.at,
        entryPrice: lot.price,
        exitAt: f.at,
        exitPrice: price,
        markPrice: null,
        fees,
        pnl: price.minus(lot.price).times(q).minus(fees),
        holdingMs: instantMillis(f.at) - instantMillis(lot.at),
        open: false,
      });
      if (lot.quantity === 0) open.shift();
    }
    if (left > 0) unmatched[f.symbol] = (unmatched[f.symbol] ?? 0) + left;
  }
  const symbols = [...lots.keys()].sort();
  for (const symbol of symbols) {
    const mark = lastPrices[symbol] === undefined ? null : dec(lastPrices[symbol]);
    for (const lot of lots.get(symbol)!) {
      trips.push({
        symbol,
        quantity: lot.quantity,
        entryAt: lot.at,
        entryPrice: lot.price,
        exitAt: null,
        exitPrice: null,
        markPrice: mark,
        fees: lot.fee,
        pnl: mark === null ? null : mark.minus(lot.price).times(lot.quantity).minus(lot.fee),
        holdingMs: markedAt === null ? 0 : Math.max(0, instantMillis(markedAt) - instantMillis(lot.at)),
        open: true,
      });
    }
  }
  return { trips, unmatched: Object.fromEntries(Object.entries(unmatched).sort(([a], [b]) => (a < b ? -1 : 1))) };
}

export interface TradeStats {
  /** Closed round trips. */
  readonly closed: number;
  /** Closed with PnL > 0 / < 0 (a PnL of exactly 0 is neither). */
  readonly wins: number;
  readonly losses: number;
  /** wins / closed; null without a closed round trip. */
  readonly winRate: Dec | null;
  /** Sum of the winning PnLs (>= 0). */
  readonly grossProfit: Dec;
  /** Sum of the losing PnLs (<= 0). */
  readonly grossLoss: Dec;
  /** grossProfit / -grossLoss; null when no round trip lost. */
  readonly profitFactor: Dec | null;
  /** grossProfit / wins, grossLoss / losses; null without such trades. */
  readonly averageWin: Dec | null;
  readonly averageLoss: Dec | null;
  /** Sum of the closed PnLs. */
  readonly realisedPnl: Dec;
  /** Sum of the open lots' PnLs; null when one of them has no mark. */
  readonly unrealisedPnl: Dec | null;
  readonly openLots: number;
}

export function tradeStats(trips: readonly RoundTrip[]): TradeStats {
  const closed = trips.filter((t) => !t.open);
  const wins = closed.filter((t) => t.pnl!.gt(0));
  const losses = closed.filter((t) => t.pnl!.lt(0));
  const sum = (ts: readonly RoundTrip[]) => ts.reduce((s, t) => s.plus(t.pnl!), new Dec(0));
  const grossProfit = sum(wins);
  const grossLoss = sum(losses);
  const open = trips.filter((t) => t.open);
  return {
    closed: closed.length,
    wins: wins.length,
    losses: losses.length,
    winRate: closed.length ? new Dec(wins.length).div(closed.length) : null,
    grossProfit,
    grossLoss,
    profitFactor: losses.length ? grossProfit.div(grossLoss.neg()) : null,
    averageWin: wins.length ? grossProfit.div(wins.length) : null,
    averageLoss: losses.length ? grossLoss.div(losses.length) : null,
    realisedPnl: sum(closed),
    unrealisedPnl: open.some((t) => t.pnl === null) ? null : sum(open),
    openLots: open.length,
  };
}

export interface SymbolStats {
  readonly symbol: string;
  readonly realisedPnl: Dec;
  /** null when an open lot of it has no mark. */
  readonly unrealisedPnl: Dec | null;
  readonly fees: Dec;
  /** Sum of price x quantity over its fills, buys and sells. */
  readonly tradedValue: Dec;
  readonly closed: number;
  readonly openQuantity: number;
  readonly lastPrice: Dec | null;
}

/** Per symbol (sorted): PnL realised and unrealised, fees and traded value from the fills. */
export function symbolStats(fills: readonly TradeFill[], trips: readonly RoundTrip[], lastPrices: Readonly<Record<string, string>> = {}): SymbolStats[] {
  const symbols = [...new Set(fills.map((f) => f.symbol))].sort();
  return symbols.map((symbol) => {
    const own = fills.filter((f) => f.symbol === symbol);
    const mine = trips.filter((t) => t.symbol === symbol);
    const open = mine.filter((t) => t.open);
    return {
      symbol,
      realisedPnl: mine.filter((t) => !t.open).reduce((s, t) => s.plus(t.pnl!), new Dec(0)),
      unrealisedPnl: open.some((t) => t.pnl === null) ? null : open.reduce((s, t) => s.plus(t.pnl!), new Dec(0)),
      fees: own.reduce((s, f) => s.plus(dec(f.fee)), new Dec(0)),
      tradedValue: own.reduce((s, f) => s.plus(dec(f.price).times(f.quantity)), new Dec(0)),
      closed: mine.length - open.length,
      openQuantity: open.reduce((n, t) => n + t.quantity, 0),
      lastPrice: lastPrices[symbol] === undefined ? null : dec(lastPrices[symbol]),
    };
  });
}

/** Sum of price x quantity over all fills. */
export function tradedValue(fills: readonly TradeFill[]): Dec {
  return fills.reduce((s, f) => s.plus(dec(f.price).times(f.quantity)), new Dec(0));
}
