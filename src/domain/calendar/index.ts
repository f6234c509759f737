/** Exchange calendars: which days and hours cn and us trade (see closures.ts for the years). */
export {
  CalendarCoverageError,
  calendarCoverage,
  closureName,
  closureTables,
  installClosureTables,
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
export { COVERAGE_WARNING_DAYS, coverageDaysLeft, coverageEnd, coverageEnding, coverageEndingMessage } from './coverage.js';
export type { CoverageEnding } from './coverage.js';
export { mergeClosureFile } from './merge.js';
export type { MergedCalendar } from './merge.js';
export { ClosureFileSchema, ClosureTableSchema, ClosureTablesSchema } from './table-schema.js';
export type { ClosureFile, ClosureTable, ClosureTables, DatedNames } from './table-schema.js';
