/**
 * A benchmark series from an Alpha Vantage-layout price file (us/QQQ_60min.json,
 * cn/sse50_index_daily.json): each complete bar gives one point, its close, known at the
 * bar's END (not its label), so aligning it to sessions never looks ahead.
 */
import type { PriceBar } from '../domain/bars.js';
import { InputError } from '../domain/errors.js';
import type { Market } from '../domain/markets.js';
import { isoInstant } from '../domain/schedule.js';
import { loadPriceFile } from '../actors/market-data/alpha-vantage-file.js';
import type { BenchmarkSeries } from './types.js';

/** Complete bars of one symbol -> closes known at each bar's end (open-only bars carry no close and are left out). */
export function benchmarkFromBars(symbol: string, bars: readonly PriceBar[]): BenchmarkSeries {
  const points = bars
    .filter((b) => b.symbol === symbol && b.complete)
    .map((b) => ({ ms: b.end.toMillis(), at: isoInstant(b.end), close: (b as Extract<PriceBar, { complete: true }>).close.toFixed() }))
    .sort((a, b) => a.ms - b.ms)
    .map(({ at, close }) => ({ at, close }));
  return { symbol, points };
}

export interface LoadBenchmarkOptions {
  /** Which symbol, when the file holds several (default: the file's only symbol). */
  readonly symbol?: string;
  /** Override the market inferred from the file's time zone. */
  readonly market?: Market;
}

/** Read a benchmark file; InputError if it is missing, malformed, or holds no (or several) symbols. */
export async function loadBenchmark(path: string, opts: LoadBenchmarkOptions = {}): Promise<BenchmarkSeries> {
  const loaded = await loadPriceFile(path, {
    ...(opts.symbol ? { symbols: [opts.symbol] } : {}),
    ...(opts.market ? { market: opts.market } : {}),
  });
  const symbols = [...new Set(loaded.bars.map((b) => b.symbol))];
  if (symbols.length !== 1) {
    throw new InputError(
      symbols.length === 0
        ? `benchmark file ${path}: no bars`
        : `benchmark file ${path} holds ${symbols.length} symbols (${symbols.slice(0, 5).join(', ')}${symbols.length > 5 ? ', ...' : ''}); name the one to use`,
    );
  }
  const series = benchmarkFromBars(symbols[0]!, loaded.bars);
  if (series.points.length === 0) throw new InputError(`benchmark file ${path}: ${symbols[0]} has no complete bar (no close)`);
  return series;
}
