/**
 * `renderReportHtml`: report.html, a standalone page that opens offline: no scripts,
 * no external fonts, styles or images, no URLs at all. A title, the summary table and
 * ONE chart (inline SVG): the value of every signature, and the benchmark, divided by
 * its value at the start, so all lines start at 1.0.
 *
 * The x axis is the session index (sessions are evenly spaced, nights and weekends take
 * no room), labelled with dates at the first session of a day. x = 0 is the start
 * (initial value, before the first session's trades); x = i + 1 is the value after
 * session i. The benchmark at x = i + 1 is its latest close known at session i (no
 * look-ahead), divided by its close at the first session where one is known; it starts
 * there. Every series is one <path> (with a <title>); each point has a hover <title>.
 * All text is escaped.
 */
import { DateTime } from 'luxon';
import { Dec, dec } from '../domain/money.js';
import { durationText, instantLabel, money, percent, ratioText, rejectionsText, sessionsText, sharpeText, signedMoney, signedPercent } from './format.js';
import { alignBenchmark, drawdownInfo, MIN_RATIO_PERIODS, sessionInstants } from './metrics.js';
import type { BenchmarkSeries, Report, SignatureReport, SignatureRun } from './types.js';

/** Escape text for HTML/SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Distinct colours (Tableau 10 without its grey, which would look like the benchmark); more series get golden-angle hues. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
const BENCHMARK_COLOUR = '#333333';

export function seriesColour(i: number): string {
  return PALETTE[i] ?? `hsl(${Math.round((i * 137.508) % 360)}, 65%, 42%)`;
}

interface ChartPoint {
  readonly x: number;
  readonly v: number;
  readonly tip: string;
}

interface ChartSeries {
  readonly name: string;
  readonly colour: string;
  readonly dashed: boolean;
  readonly summary: string;
  readonly points: ChartPoint[];
}

const W = 960;
const M = { left: 64, right: 40, top: 20, bottom: 44 };
const PLOT_H = 360;
const DD_H = 200;
const LEGEND_ROW = 22;
const MAX_LEGEND_CHARS = 36;
/** Above this many sessions the points are not drawn (they stay hoverable). */
const VISIBLE_POINTS_MAX = 80;

const f1 = (n: number) => (Math.round(n * 10) / 10).toString();

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  return nice * mag;
}

/** Decimals needed to write multiples of `step` exactly (0.025 -> 3, 0.1 -> 1, 5 -> 0). */
function decimalsOf(step: number): number {
  let d = 0;
  while (d < 8 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return d;
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function buildSeries(report: Report, runs: readonly SignatureRun[], instants: readonly string[], benchmark?: BenchmarkSeries): ChartSeries[] {
  const freq = report.run.frequency;
  const xOf = new Map<number, number>(instants.map((at, i) => [DateTime.fromISO(at, { setZone: true }).toMillis(), i + 1]));
  const startLabel = instants.length ? `start (${instantLabel(instants[0]!, freq)}, before trading)` : 'start';
  const out: ChartSeries[] = [];
  runs.forEach((run, i) => {
    const initial = dec(run.initialValue);
    const s = report.signatures[run.signature];
    const points: ChartPoint[] = [{ x: 0, v: 1, tip: `${run.signature} · ${startLabel} · value ${money(run.initialValue)} · ×1.0000` }];
    for (const p of run.curve) {
      const x = xOf.get(DateTime.fromISO(p.at, { setZone: true }).toMillis())!;
      const rel = dec(p.equity).div(initial);
      points.push({
        x,
        v: rel.toNumber(),
        tip: `${run.signature} · ${instantLabel(p.at, 'hourly')} · value ${money(p.equity)} · cash ${money(p.cash)} · ×${rel.toFixed(4, Dec.ROUND_HALF_UP)}`,
      });
    }
    out.push({
      name: run.signature,
      colour: seriesColour(i),
      dashed: false,
      summary: s ? `${signedPercent(s.return)}, max DD ${percent(s.max_drawdown)}` : '',
      points,
    });
  });
  if (benchmark && instants.length > 0) {
    const aligned = alignBenchmark(benchmark, instants);
    const first = aligned.findIndex((p) => p.close !== null);
    if (first >= 0) {
      const base = aligned[first]!.close!;
      const points: ChartPoint[] = [];
      if (first === 0) {
        points.push({ x: 0, v: 1, tip: `${benchmark.symbol} · ${startLabel} · close ${aligned[0]!.close!.toFixed()} · ×1.0000` });
      }
      aligned.forEach((p, i) => {
        if (i < first || p.close === null) return;
        const rel = p.close.div(base);
        points.push({
          x: i + 1,
          v: rel.toNumber(),
          tip: `${benchmark.symbol} · ${instantLabel(p.at, 'hourly')} · close ${p.close.toFixed()} (known at ${p.knownAt}) · ×${rel.toFixed(4, Dec.ROUND_HALF_UP)}`,
        });
      });
      const b = report.benchmark;
      out.push({
        name: `${benchmark.symbol} (benchmark)`,
        colour: BENCHMARK_COLOUR,
        dashed: true,
        summary: b ? `${signedPercent(b.return)}, max DD ${percent(b.max_drawdown)}` : '',
        points,
      });
    }
  }
  return out;
}

/** x positions to label: the first session of each exchange-local day, thinned to at most ~8. */
function xTicks(instants: readonly string[]): { x: number; label: string }[] {
  const firsts: { x: number; label: string }[] = [];
  let lastDay = '';
  instants.forEach((at, i) => {
    const day = instantLabel(at, 'daily');
    if (day !== lastDay) firsts.push({ x: i + 1, label: day });
    lastDay = day;
  });
  const step = Math.max(1, Math.ceil(firsts.length / 8));
  return firsts.filter((_, i) => i % step === 0);
}

function renderChart(report: Report, runs: readonly SignatureRun[], benchmark?: BenchmarkSeries): string {
  const instants = sessionInstants(runs);
  const series = buildSeries(report, runs, instants, benchmark);
  const xMax = Math.max(1, instants.length);
  const plotW = W - M.left - M.right;
  const sx = (x: number) => M.left + (x / xMax) * plotW;

  const values = series.flatMap((s) => s.points.map((p) => p.v));
  let lo = Math.min(1, ...values);
  let hi = Math.max(1, ...values);
  if (hi - lo < 1e-9) {
    lo -= 0.01;
    hi += 0.01;
  }
  const step = niceStep(hi - lo, 6);
  lo = Math.floor(lo / step - 1e-9) * step;
  hi = Math.ceil(hi / step + 1e-9) * step;
  const sy = (v: number) => M.top + ((hi - v) / (hi - lo)) * PLOT_H;
  const decimals = decimalsOf(step);

  // Legend columns as wide as the longest entry (about 7 px a character at 12 px).
  const longest = Math.max(0, ...series.map((s) => [...truncate(s.name, MAX_LEGEND_CHARS)].length + 1 + s.summary.split(',')[0]!.length));
  const legendCol = Math.min(plotW, 30 + 7 * longest + 24);
  const perRow = Math.max(1, Math.floor(plotW / legendCol));
  const legendRows = Math.ceil(series.length / perRow);
  const legendTop = M.top + PLOT_H + M.bottom;
  const H = legendTop + legendRows * LEGEND_ROW + 8;

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="equity curves, normalised to 1.0 at the start">`,
  );
  parts.push('<title>Value relative to the start (1.0 = initial value)</title>');

  // y grid and labels
  const yTicks: number[] = [];
  for (let v = lo, guard = 0; v <= hi + step / 2 && guard < 50; v += step, guard++) yTicks.push(v);
  parts.push('<g class="grid">');
  for (const v of yTicks) {
    const y = f1(sy(v));
    const isOne = Math.abs(v - 1) < step / 1000;
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}"${isOne ? ' class="one"' : ''}/>`);
    parts.push(`<text class="ylab" x="${M.left - 8}" y="${y}" dy="0.32em" text-anchor="end">${v.toFixed(decimals)}</text>`);
  }
  const ticks = xTicks(instants);
  for (const t of ticks) {
    const x = f1(sx(t.x));
    parts.push(`<line class="xgrid" x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + PLOT_H}"/>`);
    parts.push(`<text class="xlab" x="${x}" y="${M.top + PLOT_H + 18}" text-anchor="middle">${escapeHtml(t.label)}</text>`);
  }
  parts.push('</g>');
  // axes
  parts.push(
    `<g class="axis"><line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + PLOT_H}"/>` +
      `<line x1="${M.left}" y1="${M.top + PLOT_H}" x2="${W - M.right}" y2="${M.top + PLOT_H}"/></g>`,
  );
  parts.push(
    `<text class="axtitle" x="${M.left + plotW / 2}" y="${M.top + PLOT_H + 36}" text-anchor="middle">` +
      `session (${instants.length} from ${escapeHtml(report.run.from)} to ${escapeHtml(report.run.to)}, exchange time)</text>`,
  );
  if (instants.length === 0) {
    parts.push(`<text class="empty" x="${M.left + plotW / 2}" y="${M.top + PLOT_H / 2}" text-anchor="middle">no sessions</text>`);
  }

  // series: one path each, then the hover points
  const showPoints = instants.length <= VISIBLE_POINTS_MAX;
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f1(sx(p.x))},${f1(sy(p.v))}`).join(' ');
    parts.push(
      `<path class="series" d="${d}" stroke="${s.colour}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}>` +
        `<title>${escapeHtml(s.name)}${s.summary ? ` · ${escapeHtml(s.summary)}` : ''}</title></path>`,
    );
  }
  for (const s of series) {
    parts.push(`<g class="pts${showPoints ? '' : ' hidden'}" fill="${s.colour}">`);
    for (const p of s.points) {
      parts.push(`<circle cx="${f1(sx(p.x))}" cy="${f1(sy(p.v))}" r="3"><title>${escapeHtml(p.tip)}</title></circle>`);
    }
    parts.push('</g>');
  }

  // legend
  parts.push('<g class="legend">');
  series.forEach((s, i) => {
    const x = M.left + (i % perRow) * legendCol;
    const y = legendTop + Math.floor(i / perRow) * LEGEND_ROW;
    parts.push(
      `<g><title>${escapeHtml(s.name)}</title>` +
        `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${s.colour}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>` +
        `<text x="${x + 30}" y="${y}" dy="0.32em">${escapeHtml(truncate(s.name, MAX_LEGEND_CHARS))}` +
        `${s.summary ? ` <tspan class="muted">${escapeHtml(s.summary.split(',')[0]!)}</tspan>` : ''}</text></g>`,
    );
  });
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n');
}

/** Escaped, with a break opportunity after each "_", so a cell of codes (MAX_ORDERS_PER_SESSION 6) wraps inside its column. */
export function wrappable(text: string): string {
  return escapeHtml(text).replace(/_/g, '_<wbr>');
}

function summaryTable(report: Report): string {
  // Reports written before session outcomes were counted have no such columns.
  const withSessions = Object.values(report.signatures).some((s) => s.sessions);
  const head = ['signature', 'initial', 'final', 'return', 'max DD', 'sharpe', 'orders', 'fills', 'fees', ...(withSessions ? ['sessions', 'holds'] : []), 'rejections'];
  const numeric = (i: number) => (i > 0 && i < 9) || (withSessions && i === 9);
  const num = (s: string) => `<td class="num">${escapeHtml(s)}</td>`;
  const rows = Object.entries(report.signatures).map(([sig, s]) => {
    const [recorded, holds] = sessionsText(s.sessions);
    return (
      `<tr><th scope="row">${escapeHtml(sig)}</th>${num(money(s.initial_value))}${num(money(s.final_value))}` +
      `${num(signedPercent(s.return))}${num(percent(s.max_drawdown))}${num(sharpeText(s.sharpe))}${num(String(s.orders))}` +
      `${num(String(s.fills))}${num(money(s.fees))}${withSessions ? `${num(recorded)}<td class="wrap">${wrappable(holds)}</td>` : ''}<td class="wrap">${wrappable(rejectionsText(s.rejected))}</td></tr>`
    );
  });
  const b = report.benchmark;
  if (b) {
    rows.push(
      `<tr class="bench"><th scope="row">benchmark ${escapeHtml(b.symbol)}</th>${num(money(b.initial))}${num(money(b.final))}` +
        `${num(signedPercent(b.return))}${num(percent(b.max_drawdown))}<td></td><td></td><td></td><td></td><td></td>${withSessions ? '<td></td><td></td>' : ''}</tr>`,
    );
  }
  return (
    `<div class="scroll"><table class="summary">\n<thead><tr>${head.map((h, i) => `<th scope="col"${numeric(i) ? ' class="num"' : ''}>${h}</th>`).join('')}</tr></thead>\n` +
    `<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`
  );
}

/** Above this many round trips the list shows the first ones only (report.json has them all). */
export const TRADE_LIST_MAX = 200;

/** Drawdown of every signature (0 at the top, down to the worst), x as in the equity chart. */
function renderDrawdownChart(runs: readonly SignatureRun[]): string {
  const instants = sessionInstants(runs);
  const xOf = new Map<number, number>(instants.map((at, i) => [DateTime.fromISO(at, { setZone: true }).toMillis(), i + 1]));
  const xMax = Math.max(1, instants.length);
  const plotW = W - M.left - M.right;
  const H = M.top + DD_H + M.bottom;
  const sx = (x: number) => M.left + (x / xMax) * plotW;
  const series = runs.map((run, i) => {
    const d = drawdownInfo(run);
    const points = [{ x: 0, dd: 0, tip: `${run.signature} · start · 0.00%` }].concat(
      d.series.map((p) => {
        const dd = p.drawdown.toNumber();
        return { x: xOf.get(DateTime.fromISO(p.at, { setZone: true }).toMillis())!, dd, tip: `${run.signature} · ${instantLabel(p.at, 'hourly')} · drawdown ${percent(dd)}` };
      }),
    );
    return { name: run.signature, colour: seriesColour(i), points, max: d.max.toNumber() };
  });
  const worst = Math.max(0, ...series.map((s) => s.max));
  const step = niceStep(Math.max(worst, 0.01), 5);
  const bottom = Math.ceil(worst / step - 1e-9) * step || step;
  const sy = (dd: number) => M.top + (dd / bottom) * DD_H;
  const decimals = Math.max(0, decimalsOf(step * 100));
  const parts: string[] = [];
  parts.push(`<svg class="chart drawdown" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="drawdown of each account">`);
  parts.push('<title>Drawdown from the running peak</title>');
  parts.push('<g class="grid">');
  for (let v = 0, guard = 0; v <= bottom + step / 2 && guard < 50; v += step, guard++) {
    const y = f1(sy(v));
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}"${v === 0 ? ' class="one"' : ''}/>`);
    parts.push(`<text class="ylab" x="${M.left - 8}" y="${y}" dy="0.32em" text-anchor="end">${v === 0 ? '0%' : `-${(v * 100).toFixed(decimals)}%`}</text>`);
  }
  for (const t of xTicks(instants)) {
    const x = f1(sx(t.x));
    parts.push(`<line class="xgrid" x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + DD_H}"/>`);
    parts.push(`<text class="xlab" x="${x}" y="${M.top + DD_H + 18}" text-anchor="middle">${escapeHtml(t.label)}</text>`);
  }
  parts.push('</g>');
  parts.push(
    `<g class="axis"><line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + DD_H}"/>` +
      `<line x1="${M.left}" y1="${M.top}" x2="${W - M.right}" y2="${M.top}"/></g>`,
  );
  if (instants.length === 0) parts.push(`<text class="empty" x="${M.left + plotW / 2}" y="${M.top + DD_H / 2}" text-anchor="middle">no sessions</text>`);
  const showPoints = instants.length <= VISIBLE_POINTS_MAX;
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f1(sx(p.x))},${f1(sy(p.dd))}`).join(' ');
    parts.push(`<path class="series dd" d="${d}" stroke="${s.colour}"><title>${escapeHtml(s.name)} · max drawdown ${escapeHtml(percent(s.max))}</title></path>`);
  }
  for (const s of series) {
    parts.push(`<g class="pts${showPoints ? '' : ' hidden'}" fill="${s.colour}">`);
    for (const p of s.points.slice(1)) parts.push(`<circle cx="${f1(sx(p.x))}" cy="${f1(sy(p.dd))}" r="3"><title>${escapeHtml(p.tip)}</title></circle>`);
    parts.push('</g>');
  }
  parts.push(`<text class="axtitle" x="${M.left + plotW / 2}" y="${M.top + DD_H + 36}" text-anchor="middle">session (${instants.length}, exchange time)</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

const cell = (text: string, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${escapeHtml(text)}</td>`;
const numCell = (text: string) => cell(text, 'num');
const pnlCell = (value: string | null) => cell(signedMoney(value), `num${value === null ? '' : value.startsWith('-') ? ' neg' : /[1-9]/.test(value) ? ' pos' : ''}`);
const when = (iso: string | null, frequency: 'daily' | 'hourly') => (iso === null ? 'start' : instantLabel(iso, frequency));

function table(head: readonly string[], numeric: ReadonlySet<number>, rows: readonly string[], cls = ''): string {
  return (
    `<div class="scroll"><table${cls ? ` class="${cls}"` : ''}>\n<thead><tr>${head.map((h, i) => `<th scope="col"${numeric.has(i) ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead>\n` +
    `<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`
  );
}

/** Key figures of one signature as label/value pairs. */
function figures(s: SignatureReport, frequency: 'daily' | 'hourly'): string {
  const pairs: [string, string][] = [];
  const dd = s.drawdown;
  pairs.push(['max drawdown', dd?.trough ? `${percent(s.max_drawdown)} (peak ${when(dd.peak!.at, frequency)}, trough ${when(dd.trough.at, frequency)}, ${dd.recovered_at ? `recovered ${when(dd.recovered_at, frequency)}` : 'not recovered'})` : percent(s.max_drawdown)]);
  pairs.push(['sharpe', s.sharpe === null ? `n/a${s.sharpe_reason ? `: ${s.sharpe_reason}` : ''}` : sharpeText(s.sharpe)]);
  if (s.sortino !== undefined) pairs.push(['sortino', s.sortino === null ? `n/a${s.sortino_reason ? `: ${s.sortino_reason}` : ''}` : ratioText(s.sortino)]);
  if (s.exposure !== undefined) pairs.push(['exposure', s.exposure === null ? 'n/a' : `${percent(s.exposure)} of sessions holding a position`]);
  if (s.turnover !== undefined) pairs.push(['turnover', `${s.turnover === null ? 'n/a' : `${ratioText(s.turnover)}×`} (traded ${money(s.traded_value ?? '0')})`]);
  pairs.push(['fees', money(s.fees)]);
  const t = s.trades;
  if (t) {
    pairs.push(['round trips', `${t.closed} closed (${t.wins} won, ${t.losses} lost), ${t.open_lots} open lot${t.open_lots === 1 ? '' : 's'}`]);
    pairs.push(['win rate', t.win_rate === null ? 'n/a' : percent(t.win_rate)]);
    pairs.push(['profit factor', t.profit_factor === null ? (t.closed ? 'n/a: no losing trade' : 'n/a') : ratioText(t.profit_factor)]);
    pairs.push(['average win / loss', `${signedMoney(t.average_win)} / ${signedMoney(t.average_loss)}`]);
    pairs.push(['PnL realised / unrealised', `${signedMoney(t.realised_pnl)} / ${signedMoney(t.unrealised_pnl)}`]);
    if (t.unmatched_sells) pairs.push(['unmatched sells', rejectionsText(t.unmatched_sells)]);
  } else {
    pairs.push(['round trips', 'not available: the run passed no fills to the report']);
  }
  const l = s.llm;
  if (l) {
    pairs.push(['LLM tokens', `${l.total_tokens} (${l.prompt_tokens} prompt, ${l.completion_tokens} completion) over ${l.sessions} session${l.sessions === 1 ? '' : 's'}${l.tokens_per_session === null ? '' : `, ${Math.round(l.tokens_per_session)} per session`}`]);
    pairs.push(['LLM cost', l.cost === null ? `n/a: ${l.cost_reason ?? 'not recorded'}` : `${l.cost} (${l.cost_per_session} per session)`]);
  }
  return `<table class="figures">\n<tbody>\n${pairs.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${wrappable(v)}</td></tr>`).join('\n')}\n</tbody>\n</table>`;
}

function symbolTable(s: SignatureReport): string {
  const rows = Object.entries(s.symbols ?? {}).map(
    ([sym, x]) =>
      `<tr><th scope="row">${escapeHtml(sym)}</th>${pnlCell(x.realised_pnl)}${pnlCell(x.unrealised_pnl)}${pnlCell(x.pnl)}${numCell(money(x.fees))}${numCell(money(x.traded_value))}${numCell(String(x.round_trips))}${numCell(String(x.open_quantity))}${numCell(x.last_price ?? '')}</tr>`,
  );
  return table(['symbol', 'realised', 'unrealised', 'PnL', 'fees', 'traded', 'round trips', 'open qty', 'last price'], new Set([1, 2, 3, 4, 5, 6, 7, 8]), rows, 'symbols');
}

function monthlyTable(s: SignatureReport): string {
  const rows = (s.monthly_returns ?? []).map(
    (m) => `<tr><th scope="row">${escapeHtml(m.month)}${m.partial ? ' (partial)' : ''}</th>${numCell(signedPercent(m.return))}${numCell(money(m.start_value))}${numCell(money(m.end_value))}${numCell(String(m.sessions))}</tr>`,
  );
  return table(['month', 'return', 'start', 'end', 'sessions'], new Set([1, 2, 3, 4]), rows, 'monthly');
}

function tradeList(s: SignatureReport, frequency: 'daily' | 'hourly'): string {
  const list = s.trades?.list ?? [];
  const shown = list.slice(0, TRADE_LIST_MAX);
  const rows = shown.map(
    (t) =>
      `<tr${t.open ? ' class="open"' : ''}>${cell(t.symbol)}${numCell(String(t.quantity))}${cell(instantLabel(t.entry_at, frequency))}${numCell(t.entry_price)}` +
      `${cell(t.open ? 'open' : instantLabel(t.exit_at!, frequency))}${numCell(t.open ? (t.mark_price === null ? 'n/a' : `${t.mark_price} (mark)`) : t.exit_price!)}` +
      `${numCell(money(t.fees))}${pnlCell(t.pnl)}${numCell(durationText(t.holding_seconds))}</tr>`,
  );
  const count = list.length > shown.length ? `the first ${shown.length} of ${list.length} round trips (report.json lists all)` : `${list.length} round trip${list.length === 1 ? '' : 's'}`;
  return (
    `<details class="trades"><summary>Trade list: ${escapeHtml(count)}</summary>\n` +
    `${table(['symbol', 'qty', 'entry', 'entry price', 'exit', 'exit price', 'fees', 'PnL', 'held'], new Set([1, 3, 5, 6, 7, 8]), rows, 'trades')}\n</details>`
  );
}

/** One signature's details, from report.json alone (so `report` can draw them again). */
function signatureSection(report: Report, signature: string): string {
  const s = report.signatures[signature]!;
  const f = report.run.frequency;
  const parts = [`<section class="signature">`, `<h2>${escapeHtml(signature)}</h2>`, figures(s, f)];
  if (s.symbols && Object.keys(s.symbols).length > 0) parts.push('<h3>Per symbol</h3>', symbolTable(s));
  // One month's return is the total return: the table only when the span covers more than one.
  if ((s.monthly_returns ?? []).length > 1) parts.push('<h3>Monthly returns</h3>', monthlyTable(s));
  if (s.trades && s.trades.list.length > 0) parts.push(tradeList(s, f));
  parts.push('</section>');
  return parts.join('\n');
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { color: #555; margin: 0 0 16px; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 20px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: left; white-space: nowrap; }
/* Long lists (rejections, holds by reason) wrap inside the cell, so the page stays ~1000 px wide. */
td.wrap { white-space: normal; overflow-wrap: break-word; word-break: normal; max-width: 22em; }
table.summary { width: 100%; }
table.summary th, table.summary td { padding: 4px 6px; }
table.summary tbody th { white-space: normal; overflow-wrap: anywhere; max-width: 16em; }
table.figures td { white-space: normal; max-width: 44em; }
div.scroll { max-width: 1000px; overflow-x: auto; }
body { max-width: 1000px; }
h2 { font-size: 17px; margin: 28px 0 6px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
details summary { cursor: pointer; font-size: 13px; margin-bottom: 6px; }
tr.open td { font-style: italic; }
.pos { color: #1a7f37; }
.neg { color: #b42318; }
thead th { border-bottom: 2px solid #bbb; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bench th, tr.bench td { color: #444; font-style: italic; }
figure { margin: 0; }
figcaption, p.notes { color: #555; font-size: 12px; max-width: 960px; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg.chart .grid line { stroke: #ececec; }
svg.chart .grid line.one { stroke: #999; stroke-dasharray: 2 2; }
svg.chart .axis line { stroke: #666; }
svg.chart text { fill: #444; }
svg.chart .axtitle { fill: #666; }
svg.chart .empty { font-size: 16px; fill: #999; }
svg.chart path.series { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg.chart path.series:hover { stroke-width: 3.5; }
svg.chart .pts circle:hover { r: 5; }
svg.chart .pts.hidden circle { opacity: 0; }
svg.chart .pts.hidden circle:hover { opacity: 1; }
svg.chart .legend text { font-size: 12px; fill: #222; }
svg.chart .legend .muted { fill: #666; }
`;

/**
 * The whole report.html. `runs` give the curves (signatures in their order); `benchmark`
 * the raw benchmark closes (aligned here as in the metrics).
 */
export function renderReportHtml(report: Report, runs: readonly SignatureRun[], benchmark?: BenchmarkSeries): string {
  const r = report.run;
  const title = `agent-trader ${r.mode ?? 'backtest'}: ${r.market} ${r.frequency} ${r.from} .. ${r.to}`;
  const bench = report.benchmark ? `, benchmark ${report.benchmark.symbol}` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">rules ${escapeHtml(r.rules)} · ${r.sessions} session${r.sessions === 1 ? '' : 's'} · ${Object.keys(report.signatures).length} signature${Object.keys(report.signatures).length === 1 ? '' : 's'}${escapeHtml(bench)} · generated ${escapeHtml(r.generated_at)}</p>
${summaryTable(report)}
<figure>
${renderChart(report, runs, benchmark)}
<figcaption>Value of each account divided by its initial value, and the benchmark's latest close known at each session divided by its first one: every line starts at 1.0. One step on the x axis is one session. Hover a line or a point for its values.</figcaption>
</figure>
<figure>
${renderDrawdownChart(runs)}
<figcaption>Drawdown of each account after each session: its fall from the highest value so far (the initial value included), as a share of that peak. 0% = at a new high.</figcaption>
</figure>
${Object.keys(report.signatures).map((sig) => signatureSection(report, sig)).join('\n')}
<p class="notes">Return = final / initial value − 1. Max DD = largest fall from a running peak, as a fraction of the peak. Sharpe = mean / sample standard deviation of the per-session returns × √${r.periods_per_year} (periods per year), risk-free rate 0; Sortino the same over the downside deviation (target 0); both n/a with fewer than ${MIN_RATIO_PERIODS} returns (too few to mean anything), a flat curve, or (Sortino) no losing session. Round trips: FIFO lots per symbol, PnL net of each fill's fees shared by shares; profit factor = gross profit / gross loss, n/a without a losing trade. Exposure = share of sessions that ended holding a position. Turnover = traded value (price × quantity of every fill) / mean session equity. Months are calendar months in the exchange's time zone. LLM tokens and cost come from the run's transcripts (LLM agents only; a replayed log records none). Money is shown rounded to cents; report.json holds the exact values.</p>
</body>
</html>
`;
}
