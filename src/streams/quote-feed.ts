/**
 * What every live quote source looks like to the rest of the process (the risk
 * actor's stale-quote check, the stop-loss watcher, the simulated broker in paper
 * mode, /health): the Alpaca v2 WebSocket client, the A-share polling adapters
 * and their failover chain all implement it.
 */
import type { Observable } from 'rxjs';
import type { Quote } from '../domain/quotes.js';

export interface QuoteFeedHealth {
  /** Which source (alpaca, sina, tencent, eastmoney, tushare, replay, futu, failover:<current>). */
  readonly source: string;
  /** Connected (WebSocket) or the last poll answered (HTTP). */
  readonly connected: boolean;
  /** Epoch ms of the last valid quote, any symbol. */
  readonly lastQuoteMs?: number;
  /** Valid quotes delivered. */
  readonly quotes: number;
  /** Frames/answers/records that failed validation (counted, skipped, never fatal). */
  readonly malformed: number;
  /** Reconnects (WebSocket) or failed polls (HTTP) so far. */
  readonly failures: number;
  /** The last problem, for people (never a secret). */
  readonly lastError?: string;
  /** HTTP sources: polls failed in a row. */
  readonly consecutiveFailures?: number;
  /** HTTP sources: when the next poll is due (epoch ms). */
  readonly nextPollMs?: number;
  /** HTTP sources: polls have been failing since (epoch ms; see cn-quotes/polling.ts for when a source counts as unavailable). */
  readonly unavailableSinceMs?: number;
}

export interface QuoteFeed {
  /** Valid quotes, in arrival order. Completes on close(); never errors for a bad message. */
  readonly quotes: Observable<Quote>;
  /** Start connecting / polling; resolves once the first connection (or poll) succeeded. */
  start(): Promise<void>;
  /** The latest quote of a symbol, if any. */
  last(symbol: string): Quote | undefined;
  /** No quote of `symbol` within `maxAgeMs` before `nowMs` (by the quote's own time). Unknown symbols are stale. */
  isStale(symbol: string, nowMs: number, maxAgeMs: number): boolean;
  health(): QuoteFeedHealth;
  /** Alerts the feed raises itself (the price sanity gate: PRICE_DROPPED, PRICE_QUARANTINED), hot. */
  readonly alerts?: Observable<{ readonly type: 'monitor.alert'; readonly level: 'warning' | 'critical'; readonly code: string; readonly message: string; readonly tsEvent: number }>;
  /** Stop, release sockets and timers, complete `quotes`. Idempotent. */
  close(): Promise<void>;
}
