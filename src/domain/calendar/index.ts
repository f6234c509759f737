/** Exchange calendars: which days and hours cn and us trade, 2015-2026 (see closures.ts). */
export {
  CalendarCoverageError,
  calendarCoverage,
  closureName,
  isOpenAt,
  isTradingDay,
  nextOpen,
  nextTradingDay,
  previousTradingDay,
  toCalendarJson,
  tradingDay,
  tradingDays,
} from './calendar.js';
export type { CalendarCoverage, CalendarDayJson, SessionBreak, TradingDay } from './calendar.js';
export { CLOSURE_TABLES } from './closures.js';
export type { ClosureTable, DatedNames } from './closures.js';
