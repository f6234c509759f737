/**
 * The daily report of one market day, per signature: equity marked at `markedAt` (when the
 * report is made: the close plus the report delay, or the end of a replayed day), the day's
 * PnL against the start of day, cash (to the cent, half-up, as every output prints it), and
 * the day's orders, fills, fees and rejections by reason, as the differences of the ledger's
 * running totals from the previous report's. Pure; the monitor writes it under the state dir
 * (once per market day) and sends its text through the alert channels.
 */
import { DateTime } from 'luxon';
import { MARKETS, type Market } from '../markets.js';
import { cashText, dec } from '../money.js';

export interface Totals {
  readonly orders: number;
  readonly fills: number;
  readonly fees: string;
  readonly rejections: Readonly<Record<string, number>>;
}

export interface SignatureDay {
  readonly signature: string;
  readonly equity: string;
  readonly startOfDayEquity: string;
  readonly cash: string;
  readonly totals: Totals;
}

export interface DailyReportLine {
  readonly signature: string;
  readonly equity: string;
  readonly pnl: string;
  /** PnL / start-of-day equity, percent with 2 decimals. */
  readonly pnlPercent: string;
  readonly cash: string;
  readonly orders: number;
  readonly fills: number;
  readonly fees: string;
  readonly rejections: Record<string, number>;
}

export interface DailyReport {
  readonly market: string;
  readonly date: string;
  /** The instant every line's equity is marked at (ISO, exchange offset); absent in reports written before it existed. */
  readonly markedAt?: string;
  readonly currency: string;
  readonly lines: readonly DailyReportLine[];
  /** Running totals at this report, per signature: the next report's baseline. */
  readonly totals: Readonly<Record<string, Totals>>;
}

const diffCounts = (now: Readonly<Record<string, number>>, before: Readonly<Record<string, number>> = {}) =>
  Object.fromEntries(
    Object.entries(now)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );

export function dailyReport(market: string, date: string, currency: string, days: readonly SignatureDay[], previous?: DailyReport['totals'], markedAt?: string): DailyReport {
  const lines = days.map((d): DailyReportLine => {
    const before = previous?.[d.signature];
    const sod = dec(d.startOfDayEquity);
    const pnl = dec(d.equity).minus(sod);
    return {
      signature: d.signature,
      equity: dec(d.equity).toFixed(2),
      pnl: pnl.toFixed(2),
      pnlPercent: sod.gt(0) ? pnl.dividedBy(sod).times(100).toFixed(2) : '0.00',
      cash: cashText(dec(d.cash)),
      orders: d.totals.orders - (before?.orders ?? 0),
      fills: d.totals.fills - (before?.fills ?? 0),
      fees: dec(d.totals.fees).minus(before?.fees ?? '0').toFixed(2),
      rejections: diffCounts(d.totals.rejections, before?.rejections),
    };
  });
  return { market, date, ...(markedAt ? { markedAt } : {}), currency, lines, totals: Object.fromEntries(days.map((d) => [d.signature, d.totals])) };
}

/** The report as text for a chat robot or an email (markdown-friendly). */
export function dailyReportText(r: DailyReport): string {
  const rows = r.lines.map((l) => {
    const rej = Object.entries(l.rejections).map(([k, v]) => `${k} ${v}`).join(', ');
    const sign = l.pnl.startsWith('-') ? '' : '+';
    return `- ${l.signature}: equity ${l.equity} ${r.currency} (${sign}${l.pnl}, ${sign}${l.pnlPercent}%), ${l.orders} orders, ${l.fills} fills, fees ${l.fees}${rej ? `, rejected: ${rej}` : ''}`;
  });
  const zone = MARKETS[r.market as Market]?.zone;
  const mark = r.markedAt && zone ? ` (equity marked at ${DateTime.fromISO(r.markedAt).setZone(zone).toFormat('yyyy-LL-dd HH:mm ZZZZ')})` : '';
  return [`Daily report ${r.market} ${r.date}${mark}`, ...rows].join('\n');
}
