/**
 * Prices in paper (and live) trading: the latest streamed quote of a symbol in front
 * of the historical bars (which still give history, previous closes and the volume
 * the simulated broker's liquidity cap reads). Same reader interface as the price
 * store (`PriceSource`), so the simulated broker, the agents' views and risk read
 * live prices without knowing it.
 *
 * Point in time still holds: a quote stamped after `t` is not returned for `t` (a
 * replay clock slightly behind the replay server must not see ahead); the bars'
 * own price wins when it is newer than the last quote.
 */
import { DateTime } from 'luxon';
import type { OpenOnlyBar } from '../../domain/bars.js';
import { MARKETS, type Market } from '../../domain/markets.js';
import { dec } from '../../domain/money.js';
import type { PricePoint, PriceSource, PriceStore } from '../../domain/price-store.js';
import type { Quote } from '../../domain/quotes.js';

export interface LivePricesOptions {
  readonly market: Market;
  /** Historical bars (data_source.bars_file), if any. */
  readonly history?: PriceStore;
  /** Symbols traded even when the bars do not have them (data_source.symbols). */
  readonly universe?: readonly string[];
  /** The latest quote of a symbol (the quote feed's `last`). */
  readonly last: (symbol: string) => Quote | undefined;
}

export function livePrices(options: LivePricesOptions): PriceSource {
  const { market, history } = options;
  const zone = MARKETS[market].zone;
  const universe = new Set(options.universe ?? []);
  const quotePoint = (symbol: string, q: Quote): PricePoint => {
    const at = DateTime.fromMillis(q.atMs, { zone });
    // A quote is the open of a one-instant bar: the broker reads the bar's day for "today's price".
    const bar: OpenOnlyBar = { symbol, market, interval: '60min', start: at, end: at, label: at.toISO()!, open: dec(q.price), complete: false };
    return { price: dec(q.price), at, source: 'open', bar };
  };
  return {
    symbols: () => [...new Set([...(history?.symbols() ?? []), ...universe])].sort(),
    has: (s) => universe.has(s) || (history?.has(s) ?? false),
    interval: (s) => history?.interval(s),
    market: (s) => history?.market(s) ?? (universe.has(s) ? market : undefined),
    range: () => history?.range(),
    barsAsOf: (s, t, limit) => history?.barsAsOf(s, t, limit) ?? [],
    lastBarAsOf: (s, t) => history?.lastBarAsOf(s, t),
    previousClose: (s, t) => history?.previousClose(s, t),
    barLabelled: (s, label) => history?.barLabelled(s, label),
    barStartingAt: (s, t) => history?.barStartingAt(s, t),
    priceAsOf: (s, t) => {
      const fromBars = history?.priceAsOf(s, t);
      const q = options.last(s);
      if (!q || q.atMs > t.toMillis()) return fromBars;
      if (fromBars && fromBars.at.toMillis() > q.atMs) return fromBars;
      return quotePoint(s, q);
    },
  };
}
