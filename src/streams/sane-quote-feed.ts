/**
 * Any quote feed behind the price sanity rules (src/domain/price-sanity.ts): the gate every live
 * source passes through (Alpaca, the replay server, the A-share polling chain, Futu OpenD's pushes; see
 * src/runtime/quote-source.ts), so nothing downstream ever sees a bad print.
 *
 * - `quotes` emits only accepted and confirmed prints; `last(symbol)` is the last of those, and
 *   `isStale` reads it, so a symbol whose prints are all held back goes stale (risk refuses
 *   orders on it) instead of trading on them. Readers of prices (the paper price source, the
 *   simulated venue, risk, the stop-loss watcher) only read these.
 * - Every verdict goes to `verdicts` (metrics count them) and every episode's alert to `alerts`
 *   (the runtime raises them), both hot.
 * - `health()` is the inner feed's: its counts are what the source delivered (valid frames).
 * Time: `now()` is injected (the run's clock: the wall clock live, the replayed market time).
 */
import { Subject, type Observable } from 'rxjs';
import { dec } from '../domain/money.js';
import type { PrintVerdict, PriceSanity } from '../domain/price-sanity.js';
import type { Quote } from '../domain/quotes.js';
import type { QuoteFeed, QuoteFeedHealth } from './quote-feed.js';

/** An episode's alert, in the monitor's shape. */
export interface PriceAlert {
  readonly type: 'monitor.alert';
  readonly level: 'warning' | 'critical';
  readonly code: string;
  readonly message: string;
  readonly tsEvent: number;
}

export interface SaneQuoteFeedOptions {
  readonly sanity: PriceSanity;
  /** Epoch ms of the run's clock. */
  readonly now: () => number;
}

export class SaneQuoteFeed implements QuoteFeed {
  readonly #inner: QuoteFeed;
  readonly #sanity: PriceSanity;
  readonly #now: () => number;
  readonly #last = new Map<string, Quote>();
  readonly #verdicts = new Subject<PrintVerdict>();
  readonly #alerts = new Subject<PriceAlert>();
  readonly quotes: Observable<Quote>;
  /** Every print's verdict (hot). */
  readonly verdicts: Observable<PrintVerdict> = this.#verdicts.asObservable();
  /** One alert per symbol and episode (hot). */
  readonly alerts: Observable<PriceAlert> = this.#alerts.asObservable();

  constructor(inner: QuoteFeed, options: SaneQuoteFeedOptions) {
    this.#inner = inner;
    this.#sanity = options.sanity;
    this.#now = options.now;
    // Judged once per print however many subscribe: the inner feed's `quotes` is hot already,
    // so the verdicts are taken in one subscription made here, and `quotes` replays nothing.
    const accepted = new Subject<Quote>();
    inner.quotes.subscribe({
      next: (q) => {
        if (this.#judge(q)) accepted.next(q);
      },
      error: (e: unknown) => {
        this.#complete();
        accepted.error(e);
      },
      complete: () => {
        this.#complete();
        accepted.complete();
      },
    });
    this.quotes = accepted.asObservable();
  }

  /** True when the print may become the last price. */
  #judge(q: Quote): boolean {
    const nowMs = this.#now();
    const verdict = this.#sanity.check({ symbol: q.symbol, price: dec(q.price), atMs: q.atMs }, nowMs);
    const passes = verdict.outcome === 'accepted' || verdict.outcome === 'confirmed';
    if (passes) this.#last.set(q.symbol, q);
    this.#verdicts.next(verdict);
    if (verdict.alert) this.#alerts.next({ type: 'monitor.alert', ...verdict.alert, tsEvent: nowMs });
    return passes;
  }

  #complete(): void {
    this.#verdicts.complete();
    this.#alerts.complete();
  }

  /** Symbols whose last price is held back now (a quarantine is open). */
  quarantined(): string[] {
    return this.#sanity.quarantined();
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  last(symbol: string): Quote | undefined {
    return this.#last.get(symbol);
  }

  isStale(symbol: string, nowMs: number, maxAgeMs: number): boolean {
    const q = this.#last.get(symbol);
    return q === undefined || nowMs - q.atMs > maxAgeMs;
  }

  health(): QuoteFeedHealth {
    return this.#inner.health();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
