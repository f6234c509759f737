/**
 * Failover over an ordered list of A-share quote sources (the config's `data_source.type`
 * first, then `data_source.fallback` in order), as a SourcePlan for the polling core.
 *
 * - The current source serves every request. When it fails `failuresBeforeSwitch`
 *   consecutive polls, the next one in the list takes over (after the last comes the first
 *   again). start() and snapshot() cannot wait for K polls: one failure there switches at
 *   once, and the request is retried on the new source (each source tried once).
 * - Each switch is reported: `onSwitch({ from, to, reason, atMs })`, and
 *   `health().source` reads `failover:<current>`.
 * - Coming back: once a fallback has served for `primaryRetryMs`, the next request goes to
 *   the primary as a probe. If it answers, the primary is current again (a switch,
 *   reported); if not, the fallback answers that same request and stays for another
 *   period. A failed probe counts in health().failures but never as the fallback's failure.
 *
 * Pure state over injected instants (the core passes its `now()`); no timers here.
 */
import { InputError } from '../../domain/errors.js';
import { PollingQuoteFeed, type PollingFeedOptions, type SourcePlan } from './polling.js';
import type { CnQuoteSource, CnSourceName } from './source.js';

export interface SourceSwitch {
  readonly from: CnSourceName;
  readonly to: CnSourceName;
  readonly reason: string;
  /** Injected clock, epoch ms. */
  readonly atMs: number;
}

export interface FailoverOptions {
  /** Consecutive failed polls of the current source before switching (K); default 3. */
  readonly failuresBeforeSwitch?: number;
  /** How long a fallback serves before the primary is tried again; default 300 000 ms. */
  readonly primaryRetryMs?: number;
  /** Told about every switch (exceptions it throws are ignored). */
  readonly onSwitch?: (s: SourceSwitch) => void;
}

export class FailoverPlan implements SourcePlan {
  readonly #sources: readonly CnQuoteSource[];
  readonly #k: number;
  readonly #retryMs: number;
  readonly #onSwitch: FailoverOptions['onSwitch'];
  #current = 0;
  #failures = 0;
  #sinceMs = 0;

  constructor(sources: readonly CnQuoteSource[], options: FailoverOptions = {}) {
    if (sources.length === 0) throw new InputError('failover needs at least one quote source');
    const names = sources.map((s) => s.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) throw new InputError(`quote source "${dup}" is listed twice`);
    const k = options.failuresBeforeSwitch ?? 3;
    if (!Number.isInteger(k) || k < 1) throw new InputError(`failuresBeforeSwitch must be an integer >= 1, got ${k}`);
    const retry = options.primaryRetryMs ?? 300_000;
    if (!(retry >= 0)) throw new InputError(`primaryRetryMs must be >= 0, got ${retry}`);
    this.#sources = sources;
    this.#k = k;
    this.#retryMs = retry;
    this.#onSwitch = options.onSwitch;
  }

  get size(): number {
    return this.#sources.length;
  }

  /** The source serving now. */
  get current(): CnSourceName {
    return this.#at(this.#current).name;
  }

  label(): string {
    return `failover:${this.current}`;
  }

  pick(nowMs: number): CnQuoteSource {
    if (this.#current !== 0 && nowMs - this.#sinceMs >= this.#retryMs) return this.#at(0);
    return this.#at(this.#current);
  }

  report(source: CnQuoteSource, outcome: { readonly ok: boolean; readonly error?: string }, nowMs: number, urgent: boolean): boolean {
    const primary = this.#at(0);
    if (source === primary && this.#current !== 0) {
      // A probe of the primary while a fallback serves: on failure the fallback answers this request.
      if (outcome.ok) this.#switchTo(0, nowMs, `${primary.name} answers again`);
      else this.#sinceMs = nowMs;
      return !outcome.ok;
    }
    if (source !== this.#at(this.#current)) return false; // an answer that raced a switch
    if (outcome.ok) {
      this.#failures = 0;
      return false;
    }
    this.#failures++;
    if (!urgent && this.#failures < this.#k) return false;
    const why = urgent ? `${source.name} failed` : `${source.name} failed ${this.#failures} consecutive polls`;
    this.#switchTo((this.#current + 1) % this.#sources.length, nowMs, `${why}: ${outcome.error ?? 'unknown error'}`);
    // start() and snapshot() retry at once on the new source; polls wait for their next tick.
    return urgent;
  }

  #at(i: number): CnQuoteSource {
    return this.#sources[i] as CnQuoteSource;
  }

  #switchTo(to: number, nowMs: number, reason: string): void {
    if (to === this.#current) {
      this.#failures = 0;
      return;
    }
    const from = this.#at(this.#current).name;
    this.#current = to;
    this.#failures = 0;
    this.#sinceMs = nowMs;
    try {
      this.#onSwitch?.({ from, to: this.#at(to).name, reason, atMs: nowMs });
    } catch {
      // A listener's bug must not stop the quotes.
    }
  }
}

/** A polling QuoteFeed that fails over along `sources` (primary first). */
export function createFailoverFeed(sources: readonly CnQuoteSource[], options: PollingFeedOptions & FailoverOptions): PollingQuoteFeed {
  return new PollingQuoteFeed(new FailoverPlan(sources, options), options);
}
