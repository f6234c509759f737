/**
 * Exchange calendars: pure functions over CLOSURE_TABLES (which days) and
 * MARKETS (which hours, in which zone). Dates are exchange-local 'YYYY-MM-DD';
 * instants are luxon DateTimes and come back in the exchange zone. Nothing here
 * reads the wall clock. A day outside a table's years throws
 * CalendarCoverageError instead of being guessed.
 *
 * The one piece of state: the tables in force. They are the built-in CLOSURE_TABLES
 * until start-up installs the built-in ones merged with a user's closures file
 * (installClosureTables; the merge is ./merge.ts); nothing changes them after.
 */
import { DateTime } from 'luxon';
import { InputError } from '../errors.js';
import { MARKETS, type Market, type WallTime } from '../markets.js';
import { CLOSURE_TABLES } from './closures.js';
import type { ClosureTable, ClosureTables } from './table-schema.js';

export interface SessionBreak {
  readonly start: DateTime;
  readonly end: DateTime;
}

export interface TradingDay {
  readonly market: Market;
  /** 'YYYY-MM-DD', exchange-local. */
  readonly date: string;
  /** In the exchange zone. */
  readonly open: DateTime;
  /** The early close on an early-close day. */
  readonly close: DateTime;
  readonly earlyClose: boolean;
  /** Gaps between continuous-trading segments (cn: 11:30-13:00; us: none). */
  readonly breaks: readonly SessionBreak[];
}

export interface CalendarCoverage {
  readonly fromYear: number;
  readonly toYear: number;
  readonly version: string;
  readonly source: string;
}

export interface CalendarDayJson {
  date: string;
  open: string;
  close: string;
  early_close: boolean;
  breaks?: { start: string; end: string }[];
}

/** The calendar table has no data for the year asked about. */
export class CalendarCoverageError extends InputError {
  override readonly name: string = 'CalendarCoverageError';
  constructor(
    readonly market: Market,
    readonly year: number,
  ) {
    const t = table(market);
    super(
      `no ${market} exchange calendar for ${year}: covered years are ${t.from_year}-${t.to_year} (calendar version ${t.version}); ` +
        'a closures file (calendar.closures_file, docs/calendar.md) can add a year',
    );
  }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

let active: Readonly<ClosureTables> = CLOSURE_TABLES;

/** Put `tables` in force for every calendar function (start-up, from the config). */
export function installClosureTables(tables: Readonly<ClosureTables>): void {
  active = tables;
}

/** The tables in force: the built-in ones, or what start-up installed. */
export function closureTables(): Readonly<ClosureTables> {
  return active;
}

function table(market: Market): ClosureTable {
  const t = active[market];
  // Markets come typed, but a cast string from outside must not become a TypeError.
  if (t === undefined) throw new InputError(`unknown market '${String(market)}': expected one of ${Object.keys(active).join(', ')}`);
  return t;
}

/** Midnight of `date` in the exchange zone; InputError when it is not a real 'YYYY-MM-DD'. */
function parseDate(market: Market, date: string): DateTime {
  const zone = MARKETS[market].zone;
  const day = DATE_RE.test(date) ? DateTime.fromISO(date, { zone }) : undefined;
  if (day === undefined || !day.isValid) throw new InputError(`invalid date '${date}': expected a calendar date YYYY-MM-DD`);
  return day;
}

function assertCovered(market: Market, year: number): void {
  const t = table(market);
  if (year < t.from_year || year > t.to_year) throw new CalendarCoverageError(market, year);
}

function at(day: DateTime, time: WallTime): DateTime {
  const [hour, minute] = time.split(':').map(Number);
  return day.set({ hour: hour ?? 0, minute: minute ?? 0, second: 0, millisecond: 0 });
}

function isoDate(day: DateTime): string {
  return day.toFormat('yyyy-MM-dd');
}

/** The continuous-trading segments of a day, cut at `close` (an early close). */
function segmentsOf(day: TradingDay): SessionBreak[] {
  const bounds = [day.open, ...day.breaks.flatMap((b) => [b.start, b.end]), day.close];
  const segments: SessionBreak[] = [];
  for (let i = 0; i + 1 < bounds.length; i += 2) segments.push({ start: bounds[i]!, end: bounds[i + 1]! });
  return segments;
}

/** Opening hours for a weekday that is a session, early close applied. */
function buildDay(market: Market, day: DateTime, earlyClose: boolean): TradingDay {
  const facts = MARKETS[market];
  const closeAt = earlyClose && facts.earlyClose !== undefined ? at(day, facts.earlyClose) : undefined;
  // Segments starting at or after an early close vanish; one spanning it is cut.
  const segments = facts.segments
    .map((s) => ({ start: at(day, s.start), end: at(day, s.end) }))
    .filter((s) => closeAt === undefined || s.start < closeAt)
    .map((s) => (closeAt !== undefined && s.end > closeAt ? { start: s.start, end: closeAt } : s));
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const breaks = segments.slice(1).map((s, i) => ({ start: segments[i]!.end, end: s.start }));
  return { market, date: isoDate(day), open: first.start, close: last.end, earlyClose, breaks };
}

function dayAt(market: Market, day: DateTime): TradingDay | undefined {
  assertCovered(market, day.year);
  const t = table(market);
  const date = isoDate(day);
  if (day.weekday > 5 || t.closures[date] !== undefined) return undefined;
  return buildDay(market, day, t.early_closes[date] !== undefined);
}

/** The session on `date`, or undefined when the exchange is closed that day. */
export function tradingDay(market: Market, date: string): TradingDay | undefined {
  return dayAt(market, parseDate(market, date));
}

export function isTradingDay(market: Market, date: string): boolean {
  return tradingDay(market, date) !== undefined;
}

/** Why the exchange is closed on a weekday of the table (holiday name), if it is. */
export function closureName(market: Market, date: string): string | undefined {
  const day = parseDate(market, date);
  assertCovered(market, day.year);
  return table(market).closures[isoDate(day)];
}

/** Sessions from `from` to `to`, both inclusive. */
export function tradingDays(market: Market, from: string, to: string): TradingDay[] {
  const start = parseDate(market, from);
  const end = parseDate(market, to);
  if (start > end) throw new InputError(`invalid range: from ${from} is after to ${to}`);
  // Check both ends first, so a range running out of coverage fails before any work.
  assertCovered(market, start.year);
  assertCovered(market, end.year);
  const days: TradingDay[] = [];
  for (let d = start; d <= end; d = d.plus({ days: 1 })) {
    const day = dayAt(market, d);
    if (day !== undefined) days.push(day);
  }
  return days;
}

/** Steps day by day; walking off the table throws CalendarCoverageError. */
function step(market: Market, date: string, days: 1 | -1): TradingDay {
  let d = parseDate(market, date);
  for (;;) {
    d = d.plus({ days });
    const day = dayAt(market, d);
    if (day !== undefined) return day;
  }
}

/** The first session strictly after `date`. */
export function nextTradingDay(market: Market, date: string): TradingDay {
  return step(market, date, 1);
}

/** The last session strictly before `date`. */
export function previousTradingDay(market: Market, date: string): TradingDay {
  return step(market, date, -1);
}

/** Inside a continuous-trading segment: open inclusive, close exclusive; lunch breaks are closed. */
export function isOpenAt(market: Market, instant: DateTime): boolean {
  const local = instant.setZone(MARKETS[market].zone);
  const day = dayAt(market, local.startOf('day'));
  if (day === undefined) return false;
  return segmentsOf(day).some((s) => local >= s.start && local < s.end);
}

/** `instant` itself when open; otherwise the next open or lunch resumption, in the exchange zone. */
export function nextOpen(market: Market, instant: DateTime): DateTime {
  if (isOpenAt(market, instant)) return instant;
  const local = instant.setZone(MARKETS[market].zone);
  const today = dayAt(market, local.startOf('day'));
  const later = today === undefined ? undefined : segmentsOf(today).find((s) => s.start > local);
  return later?.start ?? nextTradingDay(market, isoDate(local)).open;
}

export function calendarCoverage(market: Market): CalendarCoverage {
  const { from_year, to_year, version, source } = table(market);
  return { fromYear: from_year, toYear: to_year, version, source };
}

/** ISO-8601 with the exchange's offset and no milliseconds: 2025-11-28T09:30:00-05:00. */
function iso(t: DateTime): string {
  const s = t.toISO({ suppressMilliseconds: true });
  if (s === null) throw new Error(`invalid DateTime: ${t.invalidExplanation ?? 'unknown'}`);
  return s;
}

export function toCalendarJson(day: TradingDay): CalendarDayJson {
  const json: CalendarDayJson = { date: day.date, open: iso(day.open), close: iso(day.close), early_close: day.earlyClose };
  if (day.breaks.length > 0) json.breaks = day.breaks.map((b) => ({ start: iso(b.start), end: iso(b.end) }));
  return json;
}
