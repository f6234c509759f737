/**
 * The trading instants of a schedule: pure, named rules -> instants.
 *
 * A schedule fires at wall-clock times in its `timezone` (the exchange's own by
 * default). An instant belongs to the trading day whose exchange-local date it
 * falls on; it is kept only on trading days and only when it is not later than
 * that day's close plus `closeGraceMinutes` (so a US early-close day keeps
 * 10:05, 11:05, 12:05 and drops the rest, while the A-share 15:05 post-close
 * session survives with the default 5 minutes of grace).
 */
import { DateTime } from 'luxon';
import { tradingDay, type TradingDay } from './calendar/index.js';
import { InputError } from './errors.js';
import { MARKETS, type Frequency, type Market } from './markets.js';

export interface ScheduleSpec {
  readonly market: Market;
  readonly frequency: Frequency;
  /** daily: one "HH:mm" */
  readonly triggerTime: string;
  /** hourly: several "HH:mm", any order */
  readonly triggerTimes: readonly string[];
  /** IANA zone the trigger times are read in. */
  readonly timezone: string;
  readonly closeGraceMinutes: number;
}

/** Defaults per market, as data. */
export const SCHEDULE_DEFAULTS: Readonly<
  Record<Market, { triggerTime: string; triggerTimes: readonly string[]; closeGraceMinutes: number }>
> = {
  cn: { triggerTime: '09:35', triggerTimes: ['10:35', '11:35', '14:05', '15:05'], closeGraceMinutes: 5 },
  us: {
    triggerTime: '09:35',
    triggerTimes: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'],
    closeGraceMinutes: 0,
  },
};

export function defaultScheduleSpec(market: Market, frequency: Frequency): ScheduleSpec {
  const d = SCHEDULE_DEFAULTS[market];
  return { market, frequency, ...d, timezone: MARKETS[market].zone };
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function parseWallTime(text: string): { hour: number; minute: number } {
  const m = HHMM.exec(text);
  if (!m) throw new InputError(`schedule: expected a time HH:mm, got ${JSON.stringify(text)}`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

/** The wall times the spec fires at, sorted, parsed once. */
function wallTimes(spec: ScheduleSpec): { hour: number; minute: number }[] {
  const texts = spec.frequency === 'daily' ? [spec.triggerTime] : [...spec.triggerTimes];
  return [...new Set(texts)].sort().map(parseWallTime);
}

/** The instants of one exchange trading day (already known to be open), in the exchange zone. */
function instantsOfDay(spec: ScheduleSpec, day: TradingDay, times: readonly { hour: number; minute: number }[]): DateTime[] {
  const zone = MARKETS[spec.market].zone;
  const latest = day.close.plus({ minutes: spec.closeGraceMinutes });
  const exchangeDate = DateTime.fromISO(day.date, { zone });
  const out: DateTime[] = [];
  // The trigger zone may differ from the exchange zone, so the trigger's calendar
  // date can be the exchange date or one either side of it.
  for (const offset of [-1, 0, 1]) {
    const triggerDate = exchangeDate.setZone(spec.timezone, { keepLocalTime: true }).plus({ days: offset });
    for (const t of times) {
      const at = triggerDate.set({ hour: t.hour, minute: t.minute, second: 0, millisecond: 0 }).setZone(zone);
      if (at.toISODate() === day.date && at <= latest) out.push(at);
    }
  }
  return out.sort((a, b) => a.toMillis() - b.toMillis());
}

function parseDate(text: string, what: string): DateTime {
  const d = DateTime.fromISO(text, { zone: 'UTC' });
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || !d.isValid) {
    throw new InputError(`${what}: expected a date YYYY-MM-DD, got ${JSON.stringify(text)}`);
  }
  return d;
}

/** Every trading instant whose exchange-local date is in [from, to] (inclusive), in order. */
export function tradingInstants(spec: ScheduleSpec, from: string, to: string): DateTime[] {
  const start = parseDate(from, 'from');
  const end = parseDate(to, 'to');
  if (start > end) throw new InputError(`from ${from} is after to ${to}`);
  const times = wallTimes(spec);
  const out: DateTime[] = [];
  for (let d = start; d <= end; d = d.plus({ days: 1 })) {
    const day = tradingDay(spec.market, d.toISODate()!);
    if (day) out.push(...instantsOfDay(spec, day, times));
  }
  return out;
}

/**
 * The trading instants strictly after `after`, lazily, day by day, without end:
 * a live process runs for weeks. Past the calendar's coverage the iterator throws
 * the calendar's coverage error, which the clock stream surfaces loudly.
 */
export function* instantsAfter(spec: ScheduleSpec, after: DateTime): Generator<DateTime, never, void> {
  const zone = MARKETS[spec.market].zone;
  const times = wallTimes(spec);
  for (let d = after.setZone(zone).startOf('day'); ; d = d.plus({ days: 1 })) {
    const day = tradingDay(spec.market, d.toISODate()!);
    if (!day) continue;
    for (const at of instantsOfDay(spec, day, times)) if (at > after) yield at;
  }
}

/** ISO-8601 with the exchange's offset and no milliseconds: "2025-03-10T10:05:00-04:00". */
export function isoInstant(at: DateTime): string {
  return at.toISO({ suppressMilliseconds: true })!;
}
