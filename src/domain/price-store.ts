/**
 * A point-in-time price store: answers "what was known at instant t?" and nothing more.
 *
 * The rule (docs/data.md): a bar's open is known from its `start`, the rest of it
 * (high, low, close, volume) from its `end`. `barsAsOf(s, t)` returns only bars with
 * `end <= t`; `priceAsOf(s, t)` returns the close of the last completed bar, or the open
 * of a bar that has started (start <= t) but not ended, whichever became known later.
 * Pure, no I/O. Bars are sorted per symbol and searched by binary search, O(log n) per
 * query (plus the length of what is returned).
 *
 * `barLabelled` / `barStartingAt` are not point-in-time: they return the whole bar, for
 * AI-Trader-compatible fills at the `1. buy price` (open) of the bar labelled with the
 * session's date/time. Their callers use only `.open`, and only at or after `.start`.
 */
import type { DateTime } from 'luxon';
import type { Bar, BarInterval, PriceBar } from './bars.js';
import { InputError } from './errors.js';
import { MARKETS, type Market } from './markets.js';
import type { Dec } from './money.js';

export interface PricePoint {
  readonly price: Dec;
  /** The instant the price became known: the bar's start for an open, its end for a close. */
  readonly at: DateTime;
  readonly source: 'open' | 'close';
  readonly bar: PriceBar;
}

export interface PriceRange {
  /** Earliest bar start. */
  readonly first: DateTime;
  /** Latest bar end (an open-only bar counts with its nominal end). */
  readonly last: DateTime;
}

interface Series {
  readonly symbol: string;
  readonly market: Market;
  readonly interval: BarInterval;
  /** Sorted by start; non-overlapping, so also sorted by end. An open-only bar can only be last. */
  readonly bars: readonly PriceBar[];
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  /** Number of complete bars (all but an open-only last one). */
  readonly complete: number;
  readonly byLabel: ReadonlyMap<string, PriceBar>;
}

/** First index i with arr[i] > x (arr ascending); arr.length if none. */
function upperBound(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with arr[i] >= x (arr ascending); arr.length if none. */
function lowerBound(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** "2025-10-30 15:00" and "2025-10-30 15:00:00" name the same bar. */
function normalizeLabel(label: string): string {
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/.test(label) ? `${label}:00` : label;
}

/**
 * What readers of prices need: the store itself, or a live source that puts streamed quotes
 * in front of it (paper trading, src/actors/market-data/live-prices.ts).
 */
export type PriceSource = Pick<
  PriceStore,
  'symbols' | 'has' | 'interval' | 'market' | 'range' | 'barsAsOf' | 'lastBarAsOf' | 'priceAsOf' | 'previousClose' | 'barLabelled' | 'barStartingAt'
>;

export class PriceStore {
  readonly #series: ReadonlyMap<string, Series>;
  readonly #range: PriceRange | undefined;

  private constructor(series: Map<string, Series>) {
    this.#series = series;
    let first: DateTime | undefined;
    let last: DateTime | undefined;
    for (const s of series.values()) {
      const a = s.bars[0]!;
      const b = s.bars[s.bars.length - 1]!;
      if (!first || a.start.toMillis() < first.toMillis()) first = a.start;
      if (!last || b.end.toMillis() > last.toMillis()) last = b.end;
    }
    this.#range = first && last ? { first, last } : undefined;
  }

  /**
   * Build a store. Bars may come in any order and from several files. Refused with an
   * InputError (one problem per line): a symbol with bars of two intervals or markets
   * (build one store per interval), a bar with end <= start, two bars with one label,
   * overlapping bars, and an open-only bar that is not the last of its symbol.
   */
  static from(bars: Iterable<PriceBar>): PriceStore {
    const groups = new Map<string, PriceBar[]>();
    for (const b of bars) {
      let g = groups.get(b.symbol);
      if (!g) groups.set(b.symbol, (g = []));
      g.push(b);
    }
    const problems: string[] = [];
    const series = new Map<string, Series>();
    for (const [symbol, list] of groups) {
      list.sort((a, b) => a.start.toMillis() - b.start.toMillis() || a.end.toMillis() - b.end.toMillis());
      const first = list[0]!;
      const before = problems.length;
      const byLabel = new Map<string, PriceBar>();
      const starts = new Float64Array(list.length);
      const ends = new Float64Array(list.length);
      for (let i = 0; i < list.length; i++) {
        const b = list[i]!;
        const where = `${symbol} "${b.label}"`;
        if (b.interval !== first.interval) problems.push(`${symbol}: has both ${first.interval} and ${b.interval} bars; build one store per interval`);
        if (b.market !== first.market) problems.push(`${symbol}: has bars of both markets ${first.market} and ${b.market}`);
        starts[i] = b.start.toMillis();
        ends[i] = b.end.toMillis();
        if (!(ends[i]! > starts[i]!)) problems.push(`${where}: ends ${b.end.toISO()} at or before it starts ${b.start.toISO()}`);
        const label = normalizeLabel(b.label);
        if (byLabel.has(label)) problems.push(`${where}: two bars carry this label`);
        byLabel.set(label, b);
        if (i > 0 && starts[i]! < ends[i - 1]!) {
          problems.push(`${where}: starts ${b.start.toISO()} before the previous bar "${list[i - 1]!.label}" ends ${list[i - 1]!.end.toISO()}`);
        }
        if (!b.complete && i !== list.length - 1) {
          problems.push(`${where}: an open-only bar must be the last of its symbol (a later bar starts ${list[i + 1]!.start.toISO()})`);
        }
        if (problems.length - before > 5) break; // one broken series says enough
      }
      const last = list[list.length - 1]!;
      series.set(symbol, {
        symbol,
        market: first.market,
        interval: first.interval,
        bars: list,
        starts,
        ends,
        complete: last.complete ? list.length : list.length - 1,
        byLabel,
      });
    }
    if (problems.length > 0) {
      throw new InputError(`cannot build the price store: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, problems);
    }
    return new PriceStore(series);
  }

  /** Symbols, sorted. */
  symbols(): string[] {
    return [...this.#series.keys()].sort();
  }

  has(symbol: string): boolean {
    return this.#series.has(symbol);
  }

  interval(symbol: string): BarInterval | undefined {
    return this.#series.get(symbol)?.interval;
  }

  market(symbol: string): Market | undefined {
    return this.#series.get(symbol)?.market;
  }

  /** First bar start and last bar end over all symbols; undefined for an empty store. */
  range(): PriceRange | undefined {
    return this.#range;
  }

  /** Number of complete bars with end <= t. */
  #completedAt(s: Series, tMs: number): number {
    return Math.min(upperBound(s.ends, tMs), s.complete);
  }

  /**
   * Complete bars with `end <= t`, oldest first; with `limit`, only the newest `limit`
   * of them (still oldest first). Never a bar that ends after t. [] for an unknown symbol.
   */
  barsAsOf(symbol: string, t: DateTime, limit?: number): Bar[] {
    const s = this.#series.get(symbol);
    if (!s) return [];
    const n = this.#completedAt(s, t.toMillis());
    const from = limit === undefined ? 0 : Math.max(0, n - Math.max(0, Math.floor(limit)));
    return s.bars.slice(from, n) as Bar[];
  }

  /** The last complete bar with `end <= t`. */
  lastBarAsOf(symbol: string, t: DateTime): Bar | undefined {
    const s = this.#series.get(symbol);
    if (!s) return undefined;
    const n = this.#completedAt(s, t.toMillis());
    return n > 0 ? (s.bars[n - 1] as Bar) : undefined;
  }

  /**
   * The latest price known at t and when it became known: the close of the last completed
   * bar (known at its end), or the open of a bar that has started (start <= t; known at
   * its start) and not completed, whichever is later. At an instant where one bar ends
   * and the next starts (contiguous hourly bars), the new bar's open wins: it is the later
   * trade, and it is what AI-Trader fills at. An open-only bar's open stays the latest
   * known price after its nominal end, since its close is never given.
   */
  priceAsOf(symbol: string, t: DateTime): PricePoint | undefined {
    const s = this.#series.get(symbol);
    if (!s) return undefined;
    const tMs = t.toMillis();
    const i = upperBound(s.ends, tMs); // bars [0, i) have ended by t
    const n = Math.min(i, s.complete); // complete bars ended by t
    // A bar that has started but whose close is not known at t: the next one after the
    // ended ones, or an open-only last bar (its close is never known).
    const j = i < s.bars.length ? i : s.complete < s.bars.length ? s.bars.length - 1 : -1;
    const started = j >= 0 && s.starts[j]! <= tMs && !(s.bars[j]!.complete && s.ends[j]! <= tMs) ? s.bars[j]! : undefined;
    const closed = n > 0 ? (s.bars[n - 1] as Bar) : undefined;
    if (started && (!closed || started.start.toMillis() >= closed.end.toMillis())) {
      return { price: started.open, at: started.start, source: 'open', bar: started };
    }
    if (closed) return { price: closed.close, at: closed.end, source: 'close', bar: closed };
    return undefined;
  }

  /**
   * Close of the last session before t's trading day (t's date in the market's zone):
   * for daily bars the previous day's bar, for hourly bars the previous day's last bar.
   * Undefined when there is none, or when that last bar is open-only (close not given).
   * For price limits (涨跌停) and daily change.
   */
  previousClose(symbol: string, t: DateTime): PricePoint | undefined {
    const s = this.#series.get(symbol);
    if (!s) return undefined;
    const dayStart = t.setZone(MARKETS[s.market].zone).startOf('day').toMillis();
    const i = upperBound(s.ends, dayStart); // bars [0, i) ended before t's day began
    if (i === 0) return undefined;
    const bar = s.bars[i - 1]!;
    if (!bar.complete) return undefined;
    return { price: bar.close, at: bar.end, source: 'close', bar };
  }

  /** The bar with this raw label ("2025-10-09", "2025-10-30 15:00:00"; "HH:mm" accepted). Not point-in-time. */
  barLabelled(symbol: string, label: string): PriceBar | undefined {
    return this.#series.get(symbol)?.byLabel.get(normalizeLabel(label));
  }

  /** The bar that starts exactly at t. Not point-in-time: use its open only. */
  barStartingAt(symbol: string, t: DateTime): PriceBar | undefined {
    const s = this.#series.get(symbol);
    if (!s) return undefined;
    const tMs = t.toMillis();
    const i = lowerBound(s.starts, tMs);
    return i < s.bars.length && s.starts[i] === tMs ? s.bars[i] : undefined;
  }
}
