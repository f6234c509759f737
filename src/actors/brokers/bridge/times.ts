/**
 * The terminal's times -> epoch ms. A grid gives the time of day only (委托时间 "09:31:02", or
 * "093102" / 93102 when the column was kept as digits), sometimes a date column beside it
 * (委托日期 "20251107"), sometimes both in one ("2025-11-07 09:31:02"); miniQMT gives epoch
 * seconds (order_time / traded_time). A time of day is read in Asia/Shanghai on the trading day
 * (the date column's, else today's by the adapter's clock: the bridge lists today's entrusts only).
 */
import { DateTime } from 'luxon';

export const CN_ZONE = 'Asia/Shanghai';

/** Today's date in Shanghai (YYYY-MM-DD) at `nowMs`. */
export function shanghaiDay(nowMs: number): string {
  return DateTime.fromMillis(nowMs, { zone: CN_ZONE }).toISODate()!;
}

/** A date column's value ("20251107", "2025-11-07", "2025/11/07", 20251107) -> YYYY-MM-DD. */
export function bridgeDate(raw: unknown): string | undefined {
  const text = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
  const m = text === undefined ? null : /^(\d{4})[-/]?(\d{2})[-/]?(\d{2})$/.exec(text);
  if (!m) return undefined;
  const day = `${m[1]}-${m[2]}-${m[3]}`;
  return DateTime.fromISO(day, { zone: CN_ZONE }).isValid ? day : undefined;
}

/** The forms a time comes in, tried in order: each gives [date or undefined, H, M, S, ms]. */
const TIME_FORMS: readonly RegExp[] = [
  // 2025-11-07 09:31:02, 2025/11/07 09:31:02, 20251107 09:31:02, 2025-11-07T09:31:02.123
  /^(\d{4}[-/]?\d{2}[-/]?\d{2})[ T](\d{1,2}):?(\d{2}):?(\d{2})(?:\.(\d{1,3}))?$/,
  // 20251107093102
  /^(\d{8})(\d{2})(\d{2})(\d{2})$/,
  // 09:31:02, 9:31:02.5
  /^()(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/,
  // 093102, 93102 (a grid column of digits)
  /^()(\d{1,2})(\d{2})(\d{2})$/,
];

/**
 * Epoch ms of a time the bridge wrote, `day` (YYYY-MM-DD, Shanghai) where the value has no date;
 * undefined when it is none of the known forms.
 */
export function bridgeTime(raw: unknown, day: string): number | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    if (raw >= 1e12 && raw < 1e13) return Math.round(raw); // epoch ms (14 digits is 20251107093102)
    if (raw >= 1e9 && raw < 1e10) return Math.round(raw * 1000); // epoch s: miniQMT
  }
  const text = typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
  if (text === undefined) return undefined;
  for (const form of TIME_FORMS) {
    const m = form.exec(text);
    if (!m) continue;
    const date = m[1] ? bridgeDate(m[1]) : day;
    if (date === undefined) return undefined;
    const [h, min, s] = [Number(m[2]), Number(m[3]), Number(m[4])];
    if (h > 23 || min > 59 || s > 59) return undefined;
    const ms = m[5] ? Number(m[5].padEnd(3, '0')) : 0;
    const t = DateTime.fromISO(date, { zone: CN_ZONE }).set({ hour: h, minute: min, second: s, millisecond: ms });
    return t.isValid ? t.toMillis() : undefined;
  }
  return undefined;
}
