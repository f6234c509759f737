/**
 * Bars replayed as quotes, for backtests: each bar's open at its start (`source: 'bar-open'`)
 * and, for a complete bar only, its close at its end (`source: 'bar-close'`), emitted on an
 * injected scheduler at exactly those instants, so the stop-loss sees intraday-ish prices in a
 * backtest without look-ahead: a quote carries only what was known at its instant (the same
 * rule as the point-in-time PriceStore, docs/data.md), and it is emitted when the scheduler's
 * clock reaches that instant, never before.
 *
 * - Window: instants in [from, to], both inclusive. Only bars the store knows by `to` are read
 *   (`barsAsOf(s, to)` and the bar in progress at `to` from `priceAsOf`), so a close after
 *   `to` is never even looked at.
 * - Order: by instant; at one instant closes come before opens (the bar that ends at t traded
 *   before the one that starts at t), then by symbol, so a run is deterministic.
 * - On subscribe, instants before `scheduler.now()` are skipped (no catch-up burst); all quotes
 *   of one instant are emitted in one scheduled action; the stream completes after the last one.
 * - An open-only bar (AI-Trader's latest bar) gives its open and never a close.
 * Time is read only from `scheduler.now()`.
 */
import { DateTime } from 'luxon';
import { Observable, asyncScheduler, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { PriceBar } from '../domain/bars.js';
import type { PriceStore } from '../domain/price-store.js';
import type { Quote } from '../domain/quotes.js';

export interface BarQuotesOptions {
  /** Symbols to replay; default every symbol of the store. */
  readonly symbols?: readonly string[];
}

const ms = (t: DateTime | number): number => (typeof t === 'number' ? t : t.toMillis());

/** The quotes of [from, to], in emission order (pure; `barQuotes` schedules them). */
export function barQuoteEvents(store: PriceStore, from: DateTime | number, to: DateTime | number, options: BarQuotesOptions = {}): Quote[] {
  const fromMs = ms(from);
  const toMs = ms(to);
  const out: { q: Quote; close: boolean }[] = [];
  const at = typeof to === 'number' ? DateTime.fromMillis(to) : to;
  for (const symbol of options.symbols ?? store.symbols()) {
    // Only what is known at `to`: complete bars ended by then, and the bar in progress (its open).
    const bars: PriceBar[] = store.barsAsOf(symbol, at);
    const current = store.priceAsOf(symbol, at);
    if (current && current.source === 'open' && current.bar !== bars[bars.length - 1]) bars.push(current.bar);
    for (const bar of bars) {
      const startMs = bar.start.toMillis();
      if (startMs >= fromMs && startMs <= toMs) out.push({ q: { symbol, price: bar.open.toFixed(), atMs: startMs, source: 'bar-open' }, close: false });
      if (bar.complete) {
        const endMs = bar.end.toMillis();
        if (endMs >= fromMs && endMs <= toMs) out.push({ q: { symbol, price: bar.close.toFixed(), atMs: endMs, source: 'bar-close' }, close: true });
      }
    }
  }
  out.sort((a, b) => a.q.atMs - b.q.atMs || Number(b.close) - Number(a.close) || (a.q.symbol < b.q.symbol ? -1 : a.q.symbol > b.q.symbol ? 1 : 0));
  return out.map((e) => e.q);
}

/** Bars of [from, to] as quotes on `scheduler`, each at its instant. */
export function barQuotes(
  store: PriceStore,
  from: DateTime | number,
  to: DateTime | number,
  options: BarQuotesOptions = {},
  scheduler: SchedulerLike = asyncScheduler,
): Observable<Quote> {
  return new Observable<Quote>((subscriber) => {
    const events = barQuoteEvents(store, from, to, options);
    let i = 0;
    while (i < events.length && events[i]!.atMs < scheduler.now()) i++;
    if (i >= events.length) {
      subscriber.complete();
      return undefined;
    }
    // One action per instant, rescheduling itself for the next one.
    return scheduler.schedule(function (this: SchedulerAction<undefined>) {
      const atMs = events[i]!.atMs;
      while (i < events.length && events[i]!.atMs === atMs) {
        subscriber.next(events[i++]!);
        if (subscriber.closed) return;
      }
      if (i >= events.length) subscriber.complete();
      else this.schedule(undefined, Math.max(0, events[i]!.atMs - scheduler.now()));
    }, Math.max(0, events[i]!.atMs - scheduler.now()));
  });
}
