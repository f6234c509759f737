/**
 * The daily report of one market day, per signature: equity at the close, the day's PnL
 * against the start of day, and the day's orders, fills, fees and rejections by reason,
 * as the differences of the ledger's running totals from the previous report's. Pure;
 * the monitor writes it under the state dir and sends its text through the alert channels.
 */
import { dec } from '../money.js';

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

export function dailyReport(market: string, date: string, currency: string, days: readonly SignatureDay[], previous?: DailyReport['totals']): DailyReport {
  const lines = days.map((d): DailyReportLine => {
    const before = previous?.[d.signature];
    const sod = dec(d.startOfDayEquity);
    const pnl = dec(d.equity).minus(sod);
    return {
      signature: d.signature,
      equity: dec(d.equity).toFixed(2),
      pnl: pnl.toFixed(2),
      pnlPercent: sod.gt(0) ? pnl.dividedBy(sod).times(100).toFixed(2) : '0.00',
      cash: dec(d.cash).toFixed(2),
      orders: d.totals.orders - (before?.orders ?? 0),
      fills: d.totals.fills - (before?.fills ?? 0),
      fees: dec(d.totals.fees).minus(before?.fees ?? '0').toFixed(2),
      rejections: diffCounts(d.totals.rejections, before?.rejections),
    };
  });
  return { market, date, currency, lines, totals: Object.fromEntries(days.map((d) => [d.signature, d.totals])) };
}

/** The report as text for a chat robot or an email (markdown-friendly). */
export function dailyReportText(r: DailyReport): string {
  const rows = r.lines.map((l) => {
    const rej = Object.entries(l.rejections).map(([k, v]) => `${k} ${v}`).join(', ');
    const sign = l.pnl.startsWith('-') ? '' : '+';
    return `- ${l.signature}: equity ${l.equity} ${r.currency} (${sign}${l.pnl}, ${sign}${l.pnlPercent}%), ${l.orders} orders, ${l.fills} fills, fees ${l.fees}${rej ? `, rejected: ${rej}` : ''}`;
  });
  return [`Daily report ${r.market} ${r.date}`, ...rows].join('\n');
}
