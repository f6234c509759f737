/** `formatReportTable`: report.json as an aligned text table for a terminal. */
import { money, percent, printable, rejectionsText, sessionsText, sharpeText, signedPercent } from './format.js';
import { MIN_RATIO_PERIODS } from './metrics.js';
import type { Report } from './types.js';

/** The session columns come before `rejections`, which is often long; reports written before they existed have none. */
const HEADERS = ['signature', 'initial', 'final', 'return', 'max DD', 'sharpe', 'orders', 'fills', 'fees', 'sessions', 'holds', 'rejections'] as const;
const SESSION_COLUMNS: ReadonlySet<number> = new Set([HEADERS.indexOf('sessions'), HEADERS.indexOf('holds')]);
/** Columns aligned right (numbers); the others left. */
const RIGHT: ReadonlySet<string> = new Set(['initial', 'final', 'return', 'max DD', 'sharpe', 'orders', 'fills', 'fees', 'sessions']);

/** One line per cell row, columns padded; no trailing spaces. */
function align(rows: readonly (readonly string[])[]): string[] {
  const header = rows[0]!;
  const widths = header.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => {
        const pad = ' '.repeat(widths[c]! - [...cell].length);
        return RIGHT.has(header[c]!) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd(),
  );
}

/**
 * The summary as text: a heading line with the run, then a table with one row per
 * signature (initial, final value, return %, max drawdown %, Sharpe, orders, fills,
 * fees, rejections by reason, sessions recorded, HOLDs by reason) and a last row for the benchmark when there is one,
 * then the instant the final values are marked at (report.json `marked_at`).
 */
export function formatReportTable(report: Report): string {
  const r = report.run;
  const heading =
    `${r.mode ?? 'backtest'} ${r.market} ${r.frequency} ${r.from} .. ${r.to}, rules ${r.rules}, ${r.sessions} session${r.sessions === 1 ? '' : 's'}` +
    ` (generated ${r.generated_at})`;
  const rows: string[][] = [[...HEADERS]];
  for (const [sig, s] of Object.entries(report.signatures)) {
    rows.push([
      printable(sig),
      money(s.initial_value),
      money(s.final_value),
      signedPercent(s.return),
      percent(s.max_drawdown),
      sharpeText(s.sharpe),
      String(s.orders),
      String(s.fills),
      money(s.fees),
      ...sessionsText(s.sessions),
      rejectionsText(s.rejected),
    ]);
  }
  const b = report.benchmark;
  if (b) {
    rows.push([`benchmark ${printable(b.symbol)}`, money(b.initial), money(b.final), signedPercent(b.return), percent(b.max_drawdown), '', '', '', '', '', '', '']);
  }
  const withSessions = Object.values(report.signatures).some((s) => s.sessions);
  const lines = [heading, ...align(withSessions ? rows : rows.map((row) => row.filter((_, c) => !SESSION_COLUMNS.has(c))))];
  if (Object.keys(report.signatures).length === 0) lines.push('(no signatures)');
  const marks = [...new Set(Object.values(report.signatures).flatMap((s) => (s.marked_at ? [s.marked_at] : [])))];
  if (marks.length === 1) lines.push(`final: marked at the last session, ${marks[0]}`);
  else if (marks.length > 1) lines.push(`final: marked at each agent's last session (${Object.entries(report.signatures).map(([sig, s]) => `${printable(sig)} ${s.marked_at ?? '-'}`).join(', ')})`);
  lines.push(`sharpe: annualised over ${r.periods_per_year} periods/year, risk-free 0; n/a = fewer than ${MIN_RATIO_PERIODS} returns or a flat curve`);
  return `${lines.join('\n')}\n`;
}
