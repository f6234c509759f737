/**
 * What a price file holds, told from its documents without building bars: the market of
 * its symbols (Meta Data time zone, else the .SH/.SZ suffix), the bar interval (the
 * "Time Series (...)" key) and the dates its labels span. A backtest reads its market and
 * frequency from these when no flag or config key gives them, and refuses ones that
 * contradict the file (src/config/bars-check.ts). Pure: the reader is
 * src/actors/market-data/bars-file-facts.ts.
 *
 * Lenient on purpose: a document whose facts cannot be told is skipped here; loading the
 * file (domain/bars.ts) then says precisely what is wrong with it.
 */
import { InputError } from './errors.js';
import { AlphaVantageDocumentSchema, inferMarket, SERIES_INTERVALS, type BarInterval } from './bars.js';
import type { Frequency, Market } from './markets.js';

/** The frequency a bar interval serves. */
export const INTERVAL_FREQUENCY: Readonly<Record<BarInterval, Frequency>> = { '1d': 'daily', '60min': 'hourly' };

export interface BarsFacts {
  /** Market -> a few of its symbols (for messages). */
  readonly markets: Partial<Record<Market, string[]>>;
  /** Frequency -> a few symbols whose series has that interval. */
  readonly frequencies: Partial<Record<Frequency, string[]>>;
  /** First and last exchange-local date of a non-empty bar label, YYYY-MM-DD. */
  readonly firstDate?: string;
  readonly lastDate?: string;
  /** Symbols whose market or interval could be told. */
  readonly symbols: number;
}

const EXAMPLES = 3;

export const NO_FACTS: BarsFacts = { markets: {}, frequencies: {}, symbols: 0 };

function withExample<K extends string>(table: Partial<Record<K, string[]>>, key: K, symbol: string): Partial<Record<K, string[]>> {
  const list = table[key] ?? [];
  return { ...table, [key]: list.length < EXAMPLES ? [...list, symbol] : list };
}

/** Fold one Alpha Vantage document into the facts (unchanged when it cannot be read). */
export function addDocumentFacts(facts: BarsFacts, doc: unknown): BarsFacts {
  const top = AlphaVantageDocumentSchema.safeParse(doc);
  if (!top.success) return facts;
  const meta = top.data['Meta Data'];
  const symbol = meta['2. Symbol'];
  const zoneKey = Object.keys(meta).find((k) => /(^|\s)Time Zone$/.test(k));
  const zone = zoneKey === undefined ? undefined : meta[zoneKey];
  const seriesKeys = Object.keys(top.data).filter((k) => k.startsWith('Time Series'));
  const interval = seriesKeys.length === 1 ? SERIES_INTERVALS[seriesKeys[0]!] : undefined;
  let market: Market | undefined;
  try {
    market = inferMarket(symbol, typeof zone === 'string' ? zone : undefined);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
  }
  if (market === undefined && interval === undefined) return facts;
  let { firstDate, lastDate } = facts;
  const series = interval === undefined ? undefined : top.data[seriesKeys[0]!];
  if (typeof series === 'object' && series !== null) {
    for (const [label, bar] of Object.entries(series)) {
      // `{}` is a bar AI-Trader left empty: the loader skips it, so it covers no date.
      if (typeof bar !== 'object' || bar === null || Object.keys(bar).length === 0) continue;
      const date = label.slice(0, 10);
      if (firstDate === undefined || date < firstDate) firstDate = date;
      if (lastDate === undefined || date > lastDate) lastDate = date;
    }
  }
  return {
    markets: market === undefined ? facts.markets : withExample(facts.markets, market, symbol),
    frequencies: interval === undefined ? facts.frequencies : withExample(facts.frequencies, INTERVAL_FREQUENCY[interval], symbol),
    ...(firstDate !== undefined ? { firstDate } : {}),
    ...(lastDate !== undefined ? { lastDate } : {}),
    symbols: facts.symbols + 1,
  };
}
