/**
 * Our A-share calendar (versioned tables in src/domain/calendar, plus the years a user's
 * closures file added) checked against Tushare's `trade_cal` when a Tushare token is
 * configured: every day the two disagree on is a line for a `CALENDAR_MISMATCH` alert, so
 * a closure announced after this build (the exchanges publish next year's holidays each
 * December) or a wrong day in a closures file is noticed instead of trading into it.
 */
import { DateTime } from 'luxon';
import { isTradingDay } from '../../domain/calendar/index.js';
import { tushareTradeCal, type TradeCalDay } from '../../streams/cn-quotes/index.js';

/** Days on which Tushare and our calendar disagree, as sentences (empty: they agree). */
export function calendarDifferences(days: readonly TradeCalDay[]): string[] {
  const out: string[] = [];
  for (const d of days) {
    const date = DateTime.fromFormat(d.calDate, 'yyyyLLdd').toISODate();
    if (!date) continue;
    let ours: boolean;
    try {
      ours = isTradingDay('cn', date);
    } catch {
      continue; // a year our tables do not cover: the calendar says so itself when asked to trade it
    }
    if (ours !== d.isOpen) out.push(`${date}: Tushare (${d.exchange}) says ${d.isOpen ? 'open' : 'closed'}, our calendar says ${ours ? 'open' : 'closed'}`);
  }
  return out;
}

/** The years to check: the current one, and every year a closures file added (the least trusted). */
export function calendarCheckYears(currentYear: number, addedYears: readonly number[]): number[] {
  return [...new Set([currentYear, ...addedYears])].sort((a, b) => a - b);
}

export interface CalendarCheck {
  /** Days the two calendars disagree on, as sentences. */
  readonly differences: string[];
  /** Years Tushare returned no days for (not published there yet): nothing was compared. */
  readonly unchecked: number[];
}

/** Fetch the SSE calendar of each of `years` from Tushare and compare it with ours. */
export async function checkCalendarWithTushare(options: {
  readonly token: string;
  readonly url?: string;
  readonly years: readonly number[];
  readonly timeoutMs?: number;
}): Promise<CalendarCheck> {
  const differences: string[] = [];
  const unchecked: number[] = [];
  for (const year of options.years) {
    const days = await tushareTradeCal({
      token: options.token,
      ...(options.url ? { url: options.url } : {}),
      startDate: `${year}0101`,
      endDate: `${year}1231`,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    if (days.length === 0) unchecked.push(year);
    differences.push(...calendarDifferences(days));
  }
  return { differences, unchecked };
}
