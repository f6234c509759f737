/** Number formatting shared by the text table and the HTML page (display only, never stored). */
import { DateTime } from 'luxon';
import type { Frequency } from '../domain/markets.js';
import { Dec, dec } from '../domain/money.js';

/** Money for display: 2 decimals, half-up ("100000.00", "-3.50"). */
export function money(value: string): string {
  return dec(value).toFixed(2, Dec.ROUND_HALF_UP);
}

/** A ratio as a signed percentage with 2 decimals: 0.123456 -> "+12.35%". */
export function signedPercent(r: number): string {
  const s = new Dec(r).times(100).toFixed(2, Dec.ROUND_HALF_UP);
  if (s === '0.00' || s === '-0.00') return '0.00%';
  return s.startsWith('-') ? `${s}%` : `+${s}%`;
}

/** A positive fraction as a percentage with 2 decimals: 0.25 -> "25.00%". */
export function percent(r: number): string {
  return `${new Dec(r).times(100).toFixed(2, Dec.ROUND_HALF_UP)}%`;
}

/** Sharpe with 2 decimals, "n/a" when undefined. */
export function sharpeText(s: number | null): string {
  return s === null ? 'n/a' : new Dec(s).toFixed(2, Dec.ROUND_HALF_UP).replace(/^-(0\.00)$/, '$1');
}

/** "LOT_SIZE 3, T_PLUS_ONE 1", or "-" when none. */
export function rejectionsText(rejected: Readonly<Record<string, number>>): string {
  const parts = Object.entries(rejected)
    .filter(([, n]) => n > 0)
    .map(([code, n]) => `${code} ${n}`);
  return parts.length ? parts.join(', ') : '-';
}

/** The sessions cells: recorded count and HOLDs by reason ("LLM_HTTP_ERROR 3"); "" when the report has none. */
export function sessionsText(sessions: { recorded: number; by_reason: Readonly<Record<string, number>> } | undefined): [string, string] {
  return sessions ? [String(sessions.recorded), rejectionsText(sessions.by_reason)] : ['', ''];
}

/** An instant's exchange-local label as written in its ISO offset: daily "2025-10-09", hourly "2025-10-09 10:05". */
export function instantLabel(iso: string, frequency: Frequency): string {
  const t = DateTime.fromISO(iso, { setZone: true });
  return frequency === 'daily' ? t.toFormat('yyyy-LL-dd') : t.toFormat('yyyy-LL-dd HH:mm');
}

/** Text safe for one terminal cell: control characters shown as \uXXXX escapes. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A ratio with 2 decimals, "n/a" when null (profit factor, Sortino). */
export function ratioText(r: number | null | undefined): string {
  return r === null || r === undefined ? 'n/a' : new Dec(r).toFixed(2, Dec.ROUND_HALF_UP).replace(/^-(0\.00)$/, '$1');
}

/** Money with 2 decimals and a sign for gains ("+12.50", "-3.00", "0.00"); "n/a" when null. */
export function signedMoney(value: string | null | undefined): string {
  if (value === null || value === undefined) return 'n/a';
  const s = money(value);
  return s === '0.00' || s === '-0.00' ? '0.00' : s.startsWith('-') ? s : `+${s}`;
}

/** A holding time: "45m", "5h 30m", "3d 4h". */
export function durationText(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (d > 0) return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
  if (h > 0) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  return `${m}m`;
}
