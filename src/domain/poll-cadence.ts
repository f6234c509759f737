/**
 * When an HTTP quote source (Sina, Tencent, Eastmoney, Tushare) is polled next, as a pure
 * rule of the market's calendar and the polls that failed in a row:
 *
 *   market open    every `intervalMs` (data_source.poll_interval_seconds); after n failed polls in a
 *                  row, `intervalMs x 2^n`, at most `maxBackoffMs`
 *   market closed  every `closedIntervalMs` (or the back-off, if longer), but never past the next
 *                  open or the end of the lunch break, so the first poll of a session is on time
 *
 * Closed hours have no prices to fetch (the answers repeat the last close): polling then only
 * notices that a source is back, and a night of 3 s polls against endpoints that ask to be
 * polled gently is nobody's interest. A date past the calendar's coverage counts as closed.
 */
import { DateTime } from 'luxon';
import { isOpenAt, nextOpen } from './calendar/index.js';
import { MARKETS, type Market } from './markets.js';

export interface PollCadence {
  readonly market: Market;
  /** While open and answering. */
  readonly intervalMs: number;
  /** While closed. */
  readonly closedIntervalMs: number;
  /** The longest wait after failures. */
  readonly maxBackoffMs: number;
}

/** Closed hours: a poll every 15 minutes. */
export const CLOSED_POLL_MS = 15 * 60_000;
/** Failures: the wait doubles up to 5 minutes. */
export const MAX_POLL_BACKOFF_MS = 5 * 60_000;

/** Milliseconds from `nowMs` to the next poll, after `failures` failed polls in a row. */
export function pollDelayMs(c: PollCadence, nowMs: number, failures: number): number {
  const backoff = failures <= 0 ? c.intervalMs : Math.min(c.maxBackoffMs, c.intervalMs * 2 ** Math.min(failures, 30));
  const now = DateTime.fromMillis(nowMs, { zone: MARKETS[c.market].zone });
  let untilOpen: number;
  try {
    if (isOpenAt(c.market, now)) return Math.max(c.intervalMs, backoff);
    untilOpen = nextOpen(c.market, now).toMillis() - nowMs;
  } catch {
    untilOpen = Infinity; // past the calendar's coverage (the clock stream says so loudly)
  }
  return Math.max(c.intervalMs, Math.min(Math.max(backoff, c.closedIntervalMs), untilOpen));
}
