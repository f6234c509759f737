/**
 * What an agent (or a broker simulation) may know at an instant: a view of the
 * price store bound to that instant, so nothing reachable through it can come
 * from the future. Rules agents and the LLM agent's tools read market data only
 * through such a view.
 */
import type { DateTime } from 'luxon';
import type { Bar, PriceBar } from './bars.js';
import type { PricePoint, PriceSource } from './price-store.js';

export interface PointInTimeView {
  /** The instant the view is bound to. */
  readonly at: DateTime;
  symbols(): string[];
  /** Latest price known at `at` (open of a started bar, or the last close). */
  price(symbol: string): PricePoint | undefined;
  /** Completed bars (end <= at), oldest first, at most `limit` of the most recent. */
  bars(symbol: string, limit?: number): Bar[];
  /** Close of the previous session (for price limits). */
  previousClose(symbol: string): PricePoint | undefined;
  /**
   * AI-Trader's convention: the bar whose label is the latest label not after `at`
   * on the same exchange day (a daily bar's label is its date). Only its open may
   * be used: for an hourly A-share label (a bar END) the open is from the bar's
   * start, which is before `at`, so using it is look-ahead free.
   */
  labelledBar(symbol: string): PriceBar | undefined;
}

/**
 * `universe` (data_source.symbols) is what the run trades: the view lists only those symbols,
 * so an agent's default universe ("every symbol it can see") is the configured one, not every
 * symbol of the bars file. Prices and bars of other symbols stay readable (valuing a position
 * held from before); risk refuses orders for them (SYMBOL_NOT_TRADED).
 */
export function viewAt(store: PriceSource, at: DateTime, labelledBar: (symbol: string) => PriceBar | undefined, universe?: readonly string[]): PointInTimeView {
  const listed = universe ? [...new Set(universe)].sort() : undefined;
  return {
    at,
    symbols: () => (listed ? [...listed] : store.symbols()),
    price: (symbol) => store.priceAsOf(symbol, at),
    bars: (symbol, limit) => store.barsAsOf(symbol, at, limit),
    previousClose: (symbol) => store.previousClose(symbol, at),
    labelledBar,
  };
}
