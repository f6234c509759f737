/**
 * How long the calendar in force still covers a market, at an instant given by the
 * caller (the injected clock): a long-running process is told a month ahead that its
 * calendar runs out, instead of stopping on the first uncovered day.
 */
import type { DateTime } from 'luxon';
import { MARKETS, type Market } from '../markets.js';
import { closureTables } from './calendar.js';

/** A process warns this many days before its calendar ends. */
export const COVERAGE_WARNING_DAYS = 30;

export interface CoverageEnding {
  readonly market: Market;
  /** The last covered date, 'YYYY-MM-DD' exchange-local. */
  readonly lastDate: string;
  /** Covered days left, today included (1 on the last covered date, 0 or less once it has passed). */
  readonly daysLeft: number;
  readonly version: string;
}

/** The last date the market's table in force covers ('2026-12-31'). */
export function coverageEnd(market: Market): string {
  return `${closureTables()[market].to_year}-12-31`;
}

/**
 * Covered days left at `instant`, counted from its exchange-local date to the first
 * uncovered one: 30 on 2026-12-02 for a table ending 2026-12-31.
 */
export function coverageDaysLeft(market: Market, instant: DateTime): number {
  const today = instant.setZone(MARKETS[market].zone).startOf('day');
  const firstUncovered = today.set({ year: closureTables()[market].to_year + 1, month: 1, day: 1 });
  return Math.round(firstUncovered.diff(today, 'days').days);
}

/** The coverage that is ending at `instant`, or undefined while more than `warnDays` days are left. */
export function coverageEnding(market: Market, instant: DateTime, warnDays = COVERAGE_WARNING_DAYS): CoverageEnding | undefined {
  const daysLeft = coverageDaysLeft(market, instant);
  if (daysLeft > warnDays) return undefined;
  return { market, lastDate: coverageEnd(market), daysLeft, version: closureTables()[market].version };
}

/** The alert text: which market, the last covered date, and how to extend it. */
export function coverageEndingMessage(e: CoverageEnding): string {
  const when = e.daysLeft > 0 ? `${e.daysLeft} day${e.daysLeft === 1 ? '' : 's'} left` : 'already ended';
  return (
    `the ${e.market} exchange calendar (version ${e.version}) ends on ${e.lastDate} (${when}): no session can be scheduled after it. ` +
    `Extend it with a closures file for the next year (config calendar.closures_file, format in docs/calendar.md) or upgrade agent-trader`
  );
}
