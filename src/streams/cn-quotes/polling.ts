/**
 * The polling core shared by the A-share HTTP quote sources (Sina, Tencent, Eastmoney,
 * Tushare): a QuoteFeed that asks a source for every subscribed symbol every `intervalMs`.
 *
 * - Time: polls, per-request timeouts and cache ages all run on the injected RxJS scheduler
 *   and `now()`; nothing here reads the wall clock. The first poll runs at `start()`, then
 *   one every `intervalMs`; a tick that finds the previous poll still running is skipped
 *   (counted), so a slow source never piles requests up.
 * - One poll = one request per batch of at most `source.maxBatch` symbols, sent one after
 *   the other (these are unofficial public endpoints: be gentle).
 * - A record the source cannot read is counted (`health().malformed`), reported to
 *   `onMalformed` and skipped. A request that fails as a whole (HTTP error, timeout, empty
 *   body, the source's own error code, or an answer with no readable record at all) makes
 *   the poll a failure: `health().failures` (one per failed attempt: a poll a failover
 *   retried on another source counts its failed attempt) and `lastError`, the symbols of
 *   that batch get state `error`, and polling goes on at the next tick. The stream never
 *   errors.
 * - Halted stocks and 0 prices give no quote: their state (`status(symbol)`, and
 *   `health().halted`) says why. See each source's module for what counts as halted.
 * - Duplicates: a quote with the same exchange time and price as the last one delivered
 *   for its symbol is not delivered again; nor is one older than it (a lagging source after
 *   a failover must not move `last()` back in time).
 * - Cache (`use_cache` / `cache_ttl_seconds`): every answer about a symbol is kept with the
 *   instant it arrived; `snapshot(symbols)` answers symbols younger than the TTL from the
 *   cache without a request, and fetches the rest. `useCache: false` always fetches. Polls
 *   always fetch (they are what refreshes the cache).
 * - Sources: a SourcePlan picks the source of each request, hears how it went, and says
 *   whether to retry it at once elsewhere; the plain plan is one source, failover.ts has the
 *   ordered list with switching (where start() and snapshot(), which want an answer now,
 *   try each source once, in order).
 *
 * - Cadence (optional `cadence`): instead of every `intervalMs` on a fixed beat, the next poll
 *   is due `cadence(now, failures in a row)` after the previous one ended (src/domain/poll-cadence.ts:
 *   sparse while the market is closed, backing off while polls fail). `health().nextPollMs`
 *   says when. A source is *unavailable* (`health().unavailableSinceMs`) from the first failed
 *   poll when none has ever answered, else from the third failure in a row, until a poll answers.
 *
 * `start()` resolves after the first successful poll and rejects (CnQuoteError) when no
 * source answered it; polling goes on either way until `close()`.
 */
import { Subject, asyncScheduler, timer, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { InputError } from '../../domain/errors.js';
import { dec } from '../../domain/money.js';
import type { Quote } from '../../domain/quotes.js';
import type { QuoteFeed, QuoteFeedHealth } from '../quote-feed.js';
import { chunk, parseCnSymbols, type CnSymbol } from './symbols.js';
import { CnQuoteError, type CnQuoteSource, type CnSourceName, type FetchContext, type MalformedRecord, type SymbolResult, type SymbolStateKind } from './source.js';

/** Which source serves the next request, and what a failover does with the outcome. */
export interface SourcePlan {
  /** How many sources it holds (start() and snapshot() try each once). */
  readonly size: number;
  /** For health().source. */
  label(): string;
  /** The source for the next request. */
  pick(nowMs: number): CnQuoteSource;
  /**
   * How a request to `source` went. `urgent`: start() or snapshot(), which cannot wait for
   * the next poll. Returns true when the same request should be retried now on `pick()`'s
   * source (at most `size` attempts in all).
   */
  report(source: CnQuoteSource, outcome: { readonly ok: boolean; readonly error?: string }, nowMs: number, urgent: boolean): boolean;
}

/** The plan of a single source: always it, never a retry. */
export function singleSourcePlan(source: CnQuoteSource): SourcePlan {
  return { size: 1, label: () => source.name, pick: () => source, report: () => false };
}

export interface SymbolStatus {
  readonly state: SymbolStateKind;
  readonly reason?: string;
  readonly name?: string;
  /** Which source said so. */
  readonly source: CnSourceName;
  /** When we learned it (injected clock, epoch ms). */
  readonly atMs: number;
}

export interface CnQuoteFeedHealth extends QuoteFeedHealth {
  /** Polls run (the first one at start() included). */
  readonly polls: number;
  /** Ticks skipped because the previous poll was still running. */
  readonly skippedPolls: number;
  /** HTTP requests sent (polls and snapshots). */
  readonly requests: number;
  /** Quotes not delivered again: same time and price as the last one, or older. */
  readonly duplicates: number;
  /** Symbols snapshot() answered from the cache. */
  readonly cacheHits: number;
  /** Symbols whose last answer said halted / price 0 (no quote for them). */
  readonly halted: readonly string[];
  /** Polls that failed in a row (0 after one that answered). */
  readonly consecutiveFailures: number;
}

export interface CnSnapshot {
  /** The quote of each asked symbol that has one, in the order asked. */
  readonly quotes: readonly Quote[];
  /** Every asked symbol's state. */
  readonly status: Readonly<Record<string, SymbolStatus>>;
  /** Symbols answered from the cache. */
  readonly fromCache: readonly string[];
}

export interface CnQuoteFeed extends QuoteFeed {
  health(): CnQuoteFeedHealth;
  /** Quotes of `symbols` now: cached ones younger than the TTL, the rest fetched. Never rejects for a failed request (see `status`). */
  snapshot(symbols: readonly string[]): Promise<CnSnapshot>;
  /** `snapshot(symbols)`'s quotes. */
  fetchQuotes(symbols: readonly string[]): Promise<readonly Quote[]>;
  /** The last known state of a symbol. */
  status(symbol: string): SymbolStatus | undefined;
  /** Replace the polled symbols (from the next poll on). */
  setSymbols(symbols: readonly string[]): void;
  /** Resolves when the poll running now (if any) has finished. */
  settled(): Promise<void>;
}

export interface PollingFeedOptions {
  /** Our symbols: `600519.SH`, `000001.SZ`. */
  readonly symbols: readonly string[];
  readonly intervalMs: number;
  /** Per request. */
  readonly timeoutMs: number;
  /** Default true. */
  readonly useCache?: boolean;
  /** Default 60 000 ms (the config's cache_ttl_seconds default). */
  readonly cacheTtlMs?: number;
  /** Default asyncScheduler (wall clock); tests and backtests pass a virtual one. */
  readonly scheduler?: SchedulerLike;
  /** Epoch ms; default `scheduler.now()`. */
  readonly now?: () => number;
  readonly onMalformed?: (info: MalformedRecord & { readonly source: CnSourceName }) => void;
  /** Ms from the end of a poll to the next, given `now()` and the polls failed in a row; default: every `intervalMs` on a fixed beat. */
  readonly cadence?: (nowMs: number, failures: number) => number;
}

/** Failed polls in a row after which a source that once answered counts as unavailable. */
export const UNAVAILABLE_AFTER_FAILURES = 3;

/** An answer about one symbol: what, from which source, when it arrived (injected clock). */
interface Answered {
  readonly result: SymbolResult;
  readonly source: CnSourceName;
  readonly atMs: number;
}

export class PollingQuoteFeed implements CnQuoteFeed {
  readonly #plan: SourcePlan;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #useCache: boolean;
  readonly #cacheTtlMs: number;
  readonly #scheduler: SchedulerLike;
  readonly #now: () => number;
  readonly #onMalformed: PollingFeedOptions['onMalformed'];
  readonly #cadence: PollingFeedOptions['cadence'];
  readonly #subject = new Subject<Quote>();
  readonly #abort = new AbortController();
  readonly #last = new Map<string, Quote>();
  readonly #status = new Map<string, SymbolStatus>();
  readonly #cache = new Map<string, Answered>();
  readonly #stats = { quotes: 0, malformed: 0, failures: 0, polls: 0, skippedPolls: 0, requests: 0, duplicates: 0, cacheHits: 0 };
  #symbols: CnSymbol[];
  #connected = false;
  #lastError: string | undefined;
  #lastQuoteMs: number | undefined;
  #timer: Subscription | undefined;
  #inFlight: Promise<boolean> | undefined;
  #started: Promise<void> | undefined;
  #closed = false;
  #answered = false;
  #failuresInARow = 0;
  #failingSinceMs: number | undefined;
  #unavailable = false;
  #nextPollMs: number | undefined;

  /** Valid quotes, hot: subscribe before start() to see every one. Completes on close(). */
  readonly quotes: Observable<Quote> = this.#subject.asObservable();

  constructor(plan: SourcePlan | CnQuoteSource, options: PollingFeedOptions) {
    this.#plan = 'fetchBatch' in plan ? singleSourcePlan(plan) : plan;
    if (!(options.intervalMs > 0)) throw new InputError(`polling interval must be > 0 ms, got ${options.intervalMs}`);
    if (!(options.timeoutMs > 0)) throw new InputError(`request timeout must be > 0 ms, got ${options.timeoutMs}`);
    const ttl = options.cacheTtlMs ?? 60_000;
    if (!(ttl >= 0)) throw new InputError(`cache TTL must be >= 0 ms, got ${ttl}`);
    this.#symbols = parseCnSymbols(options.symbols);
    this.#intervalMs = options.intervalMs;
    this.#timeoutMs = options.timeoutMs;
    this.#useCache = options.useCache ?? true;
    this.#cacheTtlMs = ttl;
    this.#scheduler = options.scheduler ?? asyncScheduler;
    const scheduler = this.#scheduler;
    this.#now = options.now ?? (() => scheduler.now());
    this.#onMalformed = options.onMalformed;
    this.#cadence = options.cadence;
  }

  start(): Promise<void> {
    if (this.#started) return this.#started;
    if (this.#closed) return (this.#started = Promise.reject(new CnQuoteError('closed', 'the quote feed is closed')));
    // Without a cadence the schedule starts now, so poll instants do not depend on how long the first poll takes.
    if (!this.#cadence) this.#timer = timer(this.#intervalMs, this.#intervalMs, this.#scheduler).subscribe(() => this.#tick());
    const first = this.#track(this.#poll(true));
    if (this.#cadence) void first.then(() => this.#scheduleNext());
    this.#started = first.then((ok) => {
      if (this.#closed) throw new CnQuoteError('closed', 'the quote feed was closed before its first poll answered');
      if (!ok) throw new CnQuoteError('unavailable', `no quote source answered the first poll: ${this.#lastError ?? 'unknown error'}`);
    });
    return this.#started;
  }

  last(symbol: string): Quote | undefined {
    return this.#last.get(symbol);
  }

  isStale(symbol: string, nowMs: number, maxAgeMs: number): boolean {
    const q = this.#last.get(symbol);
    return q === undefined || nowMs - q.atMs > maxAgeMs;
  }

  status(symbol: string): SymbolStatus | undefined {
    return this.#status.get(symbol);
  }

  setSymbols(symbols: readonly string[]): void {
    this.#symbols = parseCnSymbols(symbols);
  }

  health(): CnQuoteFeedHealth {
    const halted = [...this.#status].filter(([, s]) => s.state === 'halted').map(([symbol]) => symbol);
    return {
      source: this.#plan.label(),
      connected: this.#connected,
      ...(this.#lastQuoteMs === undefined ? {} : { lastQuoteMs: this.#lastQuoteMs }),
      ...this.#stats,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      halted,
      consecutiveFailures: this.#failuresInARow,
      ...(this.#unavailable && this.#failingSinceMs !== undefined ? { unavailableSinceMs: this.#failingSinceMs } : {}),
      ...(this.#nextPollMs === undefined || this.#closed ? {} : { nextPollMs: this.#nextPollMs }),
    };
  }

  async snapshot(symbols: readonly string[]): Promise<CnSnapshot> {
    if (this.#closed) throw new CnQuoteError('closed', 'the quote feed is closed');
    const wanted = parseCnSymbols(symbols);
    const now = this.#now();
    const answers = new Map<string, Answered>();
    const fromCache: string[] = [];
    const toFetch: CnSymbol[] = [];
    for (const s of wanted) {
      const hit = this.#useCache ? this.#cache.get(s.symbol) : undefined;
      if (hit !== undefined && now - hit.atMs < this.#cacheTtlMs) {
        answers.set(s.symbol, hit);
        fromCache.push(s.symbol);
        this.#stats.cacheHits++;
      } else {
        toFetch.push(s);
      }
    }
    if (toFetch.length > 0) {
      const fetched = await this.#fetchWithPlan(toFetch, true);
      for (const [symbol, a] of fetched.answers) answers.set(symbol, a);
    }
    const quotes: Quote[] = [];
    const status: Record<string, SymbolStatus> = {};
    for (const s of wanted) {
      const a = answers.get(s.symbol);
      if (a === undefined) continue; // closed while fetching
      if (a.result.quote) quotes.push(a.result.quote);
      status[s.symbol] = this.#toStatus(a, this.#status.get(s.symbol)?.name);
    }
    return { quotes, status, fromCache };
  }

  async fetchQuotes(symbols: readonly string[]): Promise<readonly Quote[]> {
    return (await this.snapshot(symbols)).quotes;
  }

  settled(): Promise<void> {
    return (this.#inFlight ?? Promise.resolve(true)).then(() => undefined);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#timer?.unsubscribe();
      this.#abort.abort();
      this.#subject.complete();
    }
    return this.settled();
  }

  // -------------------------------------------------------------------------------------

  #tick(): void {
    if (this.#closed) return;
    if (this.#inFlight !== undefined) {
      this.#stats.skippedPolls++;
      return;
    }
    const poll = this.#track(this.#poll(false));
    if (this.#cadence) void poll.then(() => this.#scheduleNext());
  }

  /** With a cadence: the next poll, counted from the end of the one that just ended. */
  #scheduleNext(): void {
    if (this.#closed || !this.#cadence) return;
    const delay = Math.max(1, this.#cadence(this.#now(), this.#failuresInARow));
    this.#nextPollMs = this.#now() + delay;
    this.#timer = this.#scheduler.schedule(() => this.#tick(), delay);
  }

  #track(poll: Promise<boolean>): Promise<boolean> {
    const tracked: Promise<boolean> = poll.finally(() => {
      if (this.#inFlight === tracked) this.#inFlight = undefined;
    });
    this.#inFlight = tracked;
    return tracked;
  }

  async #poll(urgent: boolean): Promise<boolean> {
    this.#stats.polls++;
    if (this.#symbols.length === 0) return true;
    const { ok } = await this.#fetchWithPlan(this.#symbols, urgent);
    if (ok) {
      this.#answered = true;
      this.#failuresInARow = 0;
      this.#failingSinceMs = undefined;
      this.#unavailable = false;
    } else if (!this.#closed) {
      this.#failuresInARow++;
      this.#failingSinceMs ??= this.#now();
      if (!this.#answered || this.#failuresInARow >= UNAVAILABLE_AFTER_FAILURES) this.#unavailable = true;
    }
    return ok;
  }

  /** Fetch `symbols` from the plan's source, and again from another while the plan says so. Never rejects. */
  async #fetchWithPlan(symbols: readonly CnSymbol[], urgent: boolean): Promise<{ ok: boolean; answers: Map<string, Answered> }> {
    const answers = new Map<string, Answered>();
    for (let attempt = 0; attempt < this.#plan.size && !this.#closed; attempt++) {
      const source = this.#plan.pick(this.#now());
      const { results, error } = await this.#fetchFrom(source, symbols);
      if (this.#closed) break;
      const now = this.#now();
      this.#absorb(source.name, results, now);
      for (const r of results) {
        // A later attempt's error does not hide an earlier attempt's answer.
        if (r.state !== 'error' || !answers.has(r.symbol) || answers.get(r.symbol)?.result.state === 'error') answers.set(r.symbol, { result: r, source: source.name, atMs: now });
      }
      if (error === undefined) {
        this.#connected = true;
        this.#plan.report(source, { ok: true }, now, urgent);
        return { ok: true, answers };
      }
      this.#stats.failures++;
      this.#lastError = error;
      this.#connected = false;
      if (!this.#plan.report(source, { ok: false, error }, now, urgent)) break;
    }
    return { ok: false, answers };
  }

  /** One request per batch, in turn. A failed batch's symbols get state `error`. Never rejects. */
  async #fetchFrom(source: CnQuoteSource, symbols: readonly CnSymbol[]): Promise<{ results: SymbolResult[]; error?: string }> {
    const ctx: FetchContext = { timeoutMs: this.#timeoutMs, scheduler: this.#scheduler, now: this.#now, signal: this.#abort.signal };
    const results: SymbolResult[] = [];
    const errors = new Set<string>();
    for (const batch of chunk(symbols, source.maxBatch)) {
      if (this.#closed) break;
      this.#stats.requests++;
      try {
        const answer = await source.fetchBatch(batch, ctx);
        for (const m of answer.malformed) this.#malformed(source.name, m);
        if (answer.recognised === 0 && answer.malformed.length > 0) throw new CnQuoteError('garbage', `${source.name}: no readable record in the answer`);
        results.push(...answer.results);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        errors.add(message);
        for (const s of batch) results.push({ symbol: s.symbol, state: 'error', reason: message });
      }
    }
    return errors.size === 0 ? { results } : { results, error: [...errors].join('; ') };
  }

  #absorb(source: CnSourceName, results: readonly SymbolResult[], now: number): void {
    for (const r of results) {
      const answered: Answered = { result: r, source, atMs: now };
      this.#status.set(r.symbol, this.#toStatus(answered, this.#status.get(r.symbol)?.name));
      if (r.state !== 'error') this.#cache.set(r.symbol, answered);
      if (r.quote !== undefined) this.#accept(r.quote);
    }
  }

  #toStatus(a: Answered, knownName?: string): SymbolStatus {
    const name = a.result.name ?? knownName;
    return {
      state: a.result.state,
      ...(a.result.reason === undefined ? {} : { reason: a.result.reason }),
      ...(name === undefined ? {} : { name }),
      source: a.source,
      atMs: a.atMs,
    };
  }

  #accept(q: Quote): void {
    const prev = this.#last.get(q.symbol);
    if (prev !== undefined && (q.atMs < prev.atMs || (q.atMs === prev.atMs && dec(q.price).eq(dec(prev.price))))) {
      this.#stats.duplicates++;
      return;
    }
    this.#last.set(q.symbol, q);
    this.#stats.quotes++;
    if (this.#lastQuoteMs === undefined || q.atMs > this.#lastQuoteMs) this.#lastQuoteMs = q.atMs;
    if (!this.#closed) this.#subject.next(q);
  }

  #malformed(source: CnSourceName, m: MalformedRecord): void {
    this.#stats.malformed++;
    this.#onMalformed?.({ source, reason: m.reason, sample: m.sample });
  }
}
