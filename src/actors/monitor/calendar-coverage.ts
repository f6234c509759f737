/**
 * CALENDAR_COVERAGE_ENDING: a long-running process says, a month ahead, that its exchange
 * calendar runs out (src/domain/calendar/coverage.ts). Checked at start and again at each
 * tick, on the injected clock; raised once per process, at start when already inside the
 * window (so every start after that alerts again) or when a running process enters it.
 */
import type { DateTime } from 'luxon';
import { COVERAGE_WARNING_DAYS, coverageEnding, coverageEndingMessage } from '../../domain/calendar/index.js';
import type { Market } from '../../domain/markets.js';

export const CALENDAR_COVERAGE_ENDING = 'CALENDAR_COVERAGE_ENDING';

export interface CoverageWatchOptions {
  readonly market: Market;
  readonly now: () => DateTime;
  readonly raise: (level: 'warning', code: typeof CALENDAR_COVERAGE_ENDING, message: string) => void;
  readonly warnDays?: number;
}

/** `check()` raises the alert the first time the calendar is within `warnDays` of its end; later calls are quiet. */
export function calendarCoverageWatch(options: CoverageWatchOptions): { check(): boolean } {
  let raised = false;
  return {
    check() {
      if (raised) return false;
      const ending = coverageEnding(options.market, options.now(), options.warnDays ?? COVERAGE_WARNING_DAYS);
      if (ending === undefined) return false;
      raised = true;
      options.raise('warning', CALENDAR_COVERAGE_ENDING, coverageEndingMessage(ending));
      return true;
    },
  };
}
