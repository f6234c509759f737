import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/domain/errors.js';
import { buildReport } from '../../src/report/build.js';
import { renderReportHtml } from '../../src/report/html.js';
import { readReport, writeReport } from '../../src/report/io.js';
import { formatReportTable } from '../../src/report/table.js';
import { ReportSchema, type BacktestRunInfo, type BenchmarkSeries, type SignatureRun } from '../../src/report/types.js';

// Hand-made runs: four daily A-share sessions.

const SESSIONS = [
  '2025-10-09T09:35:00+08:00',
  '2025-10-10T09:35:00+08:00',
  '2025-10-13T09:35:00+08:00',
  '2025-10-14T09:35:00+08:00',
];

const INFO: BacktestRunInfo = {
  market: 'cn',
  frequency: 'daily',
  from: '2025-10-09',
  to: '2025-10-14',
  rules: 'strict',
  generatedAt: '2025-10-15T08:00:00+08:00',
  sessions: SESSIONS.length,
};

const pts = (equities: readonly string[], cash: readonly string[]) =>
  equities.map((equity, i) => ({ at: SESSIONS[i]!, equity, cash: cash[i]! }));

const RUN_A: SignatureRun = {
  signature: 'alpha',
  initialValue: '100000',
  finalCash: '20000.5',
  // 100000 -> 120000 -> 90000 -> 110000 -> 130000: return 0.3, max drawdown 0.25
  curve: pts(['120000', '90000', '110000', '130000'], ['50000', '40000', '30000', '20000.5']),
  orders: 7,
  fills: 5,
  rejected: { T_PLUS_ONE: 1, LOT_SIZE: 1 },
  fees: '42.125',
};

const RUN_B: SignatureRun = {
  signature: '<x>',
  initialValue: '100000.00',
  finalCash: '100000.00',
  curve: pts(['100000', '100000', '100000', '100000'], ['100000', '100000', '100000', '100000']),
  orders: 0,
  fills: 0,
  rejected: {},
  fees: '0',
};

const BENCH: BenchmarkSeries = {
  symbol: '000016.SH',
  points: [
    { at: '2025-10-08T15:00:00+08:00', close: '3000' },
    { at: '2025-10-09T15:00:00+08:00', close: '3030' },
    { at: '2025-10-10T15:00:00+08:00', close: '2970' },
    { at: '2025-10-13T15:00:00+08:00', close: '3060' },
    // known after the last session (09:35 on the 14th): must not be used
    { at: '2025-10-14T15:00:00+08:00', close: '9999' },
  ],
};

describe('buildReport', () => {
  it('gives exactly the issue\'s JSON shape, plus run', () => {
    const report = buildReport([RUN_A, RUN_B], INFO, BENCH);
    expect(Object.keys(report)).toEqual(['run', 'signatures', 'benchmark']);
    expect(Object.keys(report.signatures)).toEqual(['alpha', '<x>']);
    for (const s of Object.values(report.signatures)) {
      // The contract: the first fields keep their names and order; later ones are only added.
      expect(Object.keys(s).slice(0, 11)).toEqual([
        'initial_value',
        'final_value',
        'final_cash',
        'marked_at',
        'return',
        'max_drawdown',
        'sharpe',
        'orders',
        'fills',
        'rejected',
        'fees',
      ]);
      // without fills or transcripts passed in: the curve's fields only
      expect(Object.keys(s).slice(11)).toEqual(['return_periods', 'sharpe_reason', 'sortino', 'sortino_reason', 'exposure', 'drawdown', 'monthly_returns']);
    }
    expect(Object.keys(report.benchmark!)).toEqual(['symbol', 'initial', 'final', 'return', 'max_drawdown']);
    expect(Object.keys(report.run)).toEqual(['market', 'frequency', 'from', 'to', 'rules', 'generated_at', 'sessions', 'periods_per_year']);
    // and it survives JSON as is
    expect(ReportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(report);
  });

  it('fills in the values: money as exact decimal strings, ratios as numbers', () => {
    const report = buildReport([RUN_A, RUN_B], INFO, BENCH);
    expect(report.signatures['alpha']).toEqual({
      initial_value: '100000.00',
      final_value: '130000.00',
      final_cash: '20000.50',
      marked_at: '2025-10-14T09:35:00+08:00',
      return: 0.3,
      max_drawdown: 0.25,
      // four returns: too few for a Sharpe that means anything
      sharpe: null,
      orders: 7,
      fills: 5,
      rejected: { LOT_SIZE: 1, T_PLUS_ONE: 1 },
      fees: '42.125',
      return_periods: 4,
      sharpe_reason: '4 return periods, fewer than 20',
      sortino: null,
      sortino_reason: '4 return periods, fewer than 20',
      exposure: 1,
      drawdown: {
        peak: { at: SESSIONS[0], value: '120000.00' },
        trough: { at: SESSIONS[1], value: '90000.00' },
        recovered_at: SESSIONS[3],
        series: [0, 0.25, 0.083333, 0].map((drawdown, i) => ({ at: SESSIONS[i], drawdown })),
      },
      monthly_returns: [{ month: '2025-10', start_value: '100000.00', end_value: '130000.00', return: 0.3, sessions: 4, partial: true }],
    });
    expect(Object.keys(report.signatures['alpha']!.rejected)).toEqual(['LOT_SIZE', 'T_PLUS_ONE']);
    expect(report.signatures['<x>']).toMatchObject({ return: 0, max_drawdown: 0, sharpe: null, rejected: {} });
    expect(report.run).toEqual({
      market: 'cn',
      frequency: 'daily',
      from: '2025-10-09',
      to: '2025-10-14',
      rules: 'strict',
      generated_at: '2025-10-15T08:00:00+08:00',
      sessions: 4,
      periods_per_year: 242,
    });
  });

  it('prints final_cash to the cent, half-up, as every other output does; the table says when the final values are marked', () => {
    const subCent = { ...RUN_A, finalCash: '1872.8762', curve: pts(['120000', '90000', '110000', '130000'], ['50000', '40000', '30000', '1872.8762']) };
    const report = buildReport([subCent], INFO);
    expect(report.signatures['alpha']!.final_cash).toBe('1872.88');
    expect(formatReportTable(report)).toContain('\nfinal: marked at the last session, 2025-10-14T09:35:00+08:00\n');
    const apart = buildReport([RUN_A, { ...RUN_B, curve: RUN_B.curve.slice(0, 2) }], INFO);
    expect(formatReportTable(apart)).toContain("final: marked at each agent's last session (alpha 2025-10-14T09:35:00+08:00, <x> 2025-10-10T09:35:00+08:00)");
  });

  it('computes Sharpe and Sortino with the given or default periods per year, from 20 returns on', () => {
    // 20 daily sessions: 120000, 90000, 110000, 130000, then the same four again, ...
    const at = (i: number) => DateTime.fromISO('2025-10-09T09:35:00+08:00', { setZone: true }).plus({ days: i }).toISO({ suppressMilliseconds: true })!;
    const eq = ['120000', '90000', '110000', '130000'];
    const long: SignatureRun = { ...RUN_A, curve: Array.from({ length: 20 }, (_, i) => ({ at: at(i), equity: eq[i % 4]!, cash: '0' })) };
    const info = { ...INFO, to: '2025-10-28', sessions: 20 };
    const daily = buildReport([long], info).signatures['alpha']!;
    const raw = buildReport([long], info, undefined, { periodsPerYear: 1 }).signatures['alpha']!;
    expect(daily.return_periods).toBe(20);
    expect(daily.sharpe_reason).toBeUndefined();
    expect(daily.sharpe!).toBeCloseTo(raw.sharpe! * Math.sqrt(242), 4);
    const r = long.curve.map((p, i) => Number(p.equity) / Number(i ? long.curve[i - 1]!.equity : 100000) - 1);
    const mean = r.reduce((a, b) => a + b) / r.length;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    expect(raw.sharpe!).toBeCloseTo(mean / sd, 6);
    const down = Math.sqrt(r.reduce((a, b) => a + Math.min(b, 0) ** 2, 0) / r.length);
    expect(raw.sortino!).toBeCloseTo(mean / down, 6);
    // 19 returns: n/a with the reason
    const short = buildReport([{ ...long, curve: long.curve.slice(0, 19) }], info).signatures['alpha']!;
    expect([short.sharpe, short.sharpe_reason]).toEqual([null, '19 return periods, fewer than 20']);
  });

  it('aligns the benchmark to the sessions without look-ahead', () => {
    const report = buildReport([RUN_A], INFO, BENCH);
    // at 09:35 on the 9th the latest close is the 8th's (3000); at 09:35 on the 14th, the 13th's (3060)
    expect(report.benchmark).toEqual({ symbol: '000016.SH', initial: '3000', final: '3060', return: 0.02, max_drawdown: 0.019802 });
  });

  it('writes benchmark null when none is given', () => {
    expect(buildReport([RUN_A], INFO).benchmark).toBeNull();
  });

  it('refuses malformed input from the driver', () => {
    const late = { ...RUN_A, curve: [...RUN_A.curve].reverse() };
    expect(() => buildReport([late], INFO)).toThrow(/time order/);
    expect(() => buildReport([RUN_A, RUN_A], INFO)).toThrow(/appears twice/);
    expect(() => buildReport([{ ...RUN_A, initialValue: '0' }], INFO)).toThrow(/initial value > 0/);
    expect(() => buildReport([{ ...RUN_A, fees: '1e3' }], INFO)).toThrow(/decimal string/);
    expect(() => buildReport([RUN_A], { ...INFO, generatedAt: '2025-10-15 08:00' })).toThrow(/offset/);
  });
});

describe('session outcomes', () => {
  const held: SignatureRun = { ...RUN_A, sessions: { recorded: 4, byReason: { LLM_TIMEOUT: 1, LLM_HTTP_ERROR: 2 } } };

  it('report.json counts sessions and HOLDs by reason, codes sorted; absent when the runs do not know them', () => {
    const report = buildReport([held, RUN_B], INFO);
    expect(report.signatures['alpha']!.sessions).toEqual({ recorded: 4, by_reason: { LLM_HTTP_ERROR: 2, LLM_TIMEOUT: 1 } });
    expect(Object.keys(report.signatures['alpha']!.sessions!.by_reason)).toEqual(['LLM_HTTP_ERROR', 'LLM_TIMEOUT']);
    expect(report.signatures['<x>']!.sessions).toBeUndefined();
    expect(ReportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(report);
    expect(() => buildReport([{ ...RUN_A, sessions: { recorded: -1, byReason: {} } }], INFO)).toThrow(/invalid run 0/);
  });

  it('the table and the page show them in two more columns, only when known', () => {
    const lines = formatReportTable(buildReport([held, { ...RUN_B, sessions: { recorded: 4, byReason: {} } }], INFO)).split('\n');
    expect(lines[1]).toMatch(/\sfees\s+sessions\s+holds\s+rejections$/);
    expect(lines[2]).toMatch(/42\.13\s+4\s+LLM_HTTP_ERROR 2, LLM_TIMEOUT 1\s+LOT_SIZE 1, T_PLUS_ONE 1$/);
    expect(lines[3]).toMatch(/0\.00\s+4\s+-\s+-$/);
    expect(formatReportTable(buildReport([RUN_A], INFO))).not.toContain('holds');
    const report = buildReport([held], INFO);
    const html = renderReportHtml(report, [held]);
    expect(html).toContain('<th scope="col">holds</th>');
    expect(html).toContain('<td class="wrap">LLM_<wbr>HTTP_<wbr>ERROR 2, LLM_<wbr>TIMEOUT 1</td>');
    expect(renderReportHtml(buildReport([RUN_A], INFO), [RUN_A])).not.toContain('>holds</th>');
  });
});

describe('formatReportTable', () => {
  it('prints an aligned table with a benchmark row', () => {
    const text = formatReportTable(buildReport([RUN_A, RUN_B], INFO, BENCH));
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('backtest cn daily 2025-10-09 .. 2025-10-14, rules strict, 4 sessions (generated 2025-10-15T08:00:00+08:00)');
    expect(lines[1]).toMatch(/^signature\s+initial\s+final\s+return\s+max DD\s+sharpe\s+orders\s+fills\s+fees\s+rejections$/);
    expect(lines[2]).toMatch(/^alpha\s+100000\.00\s+130000\.00\s+\+30\.00%\s+25\.00%\s+n\/a\s+7\s+5\s+42\.13\s+LOT_SIZE 1, T_PLUS_ONE 1$/);
    expect(lines[3]).toMatch(/^<x>\s+100000\.00\s+100000\.00\s+0\.00%\s+0\.00%\s+n\/a\s+0\s+0\s+0\.00\s+-$/);
    expect(lines[4]).toMatch(/^benchmark 000016\.SH\s+3000\.00\s+3060\.00\s+\+2\.00%\s+1\.98%$/);
    // numbers are right-aligned: the "final" column ends at the same place on every row
    const end = (line: string, cell: string) => line.indexOf(cell) + cell.length;
    expect(end(lines[2]!, '130000.00')).toBe(end(lines[1]!, 'final'));
    expect(end(lines[4]!, '3060.00')).toBe(end(lines[1]!, 'final'));
  });
});

/** The first chart of a page (the equity curves); the drawdown chart follows it. */
const equityChart = (page: string) => page.slice(page.indexOf('<svg'), page.indexOf('</svg>') + 6);

describe('renderReportHtml', () => {
  const report = buildReport([RUN_A, RUN_B], INFO, BENCH);
  const html = renderReportHtml(report, [RUN_A, RUN_B], BENCH);
  const chart = equityChart(html);

  it('is a standalone page: no scripts, links, URLs or external resources', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/\s(src|href)\s*=/i);
  });

  it('has a title, the summary table, the equity chart with one path per series, then the drawdown chart', () => {
    expect(html).toContain('<title>agent-trader backtest: cn daily 2025-10-09 .. 2025-10-14</title>');
    expect(html.match(/<table class="summary"/g)).toHaveLength(1);
    expect(html.match(/<svg/g)).toHaveLength(2);
    expect(html.match(/<svg class="chart drawdown"/g)).toHaveLength(1);
    const paths = [...chart.matchAll(/<path [^>]*>/g)];
    expect(paths).toHaveLength(3); // two signatures and the benchmark
    // every path has a hover title
    expect(chart.match(/<path [^>]*><title>/g)).toHaveLength(3);
    // distinct colours
    const colours = paths.map((p) => /stroke="([^"]+)"/.exec(p[0])![1]);
    expect(new Set(colours).size).toBe(3);
    // the benchmark is dashed and in the legend
    expect(paths[2]![0]).toContain('stroke-dasharray');
    expect(html).toContain('000016.SH (benchmark)');
    // axes carry dates
    expect(html).toContain('>2025-10-09</text>');
    expect(html).toContain('>2025-10-14</text>');
  });

  it('normalises every series to 1.0 at the start', () => {
    const starts = [...chart.matchAll(/<path [^>]*d="M([\d.]+),([\d.]+)/g)].map((m) => `${m[1]},${m[2]}`);
    expect(new Set(starts).size).toBe(1);
    // the flat signature stays on the 1.0 line throughout
    const flat = /<path [^>]*d="([^"]+)"[^>]*stroke="#ff7f0e"/.exec(chart)![1]!;
    const ys = [...flat.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => m[1]);
    expect(new Set(ys).size).toBe(1);
    // and the 1.0 grid line is drawn at that height
    expect(chart).toMatch(new RegExp(`<line [^>]*y1="${ys[0]!.replace('.', '\\.')}"[^>]*class="one"`));
  });

  it('escapes all text', () => {
    expect(html).not.toContain('<x>');
    expect(html).toContain('&lt;x&gt;');
    const nasty = { ...RUN_B, signature: '"><script>alert(1)</script>&' };
    const other = renderReportHtml(buildReport([nasty], INFO, { ...BENCH, symbol: '<b>I</b>' }), [nasty], { ...BENCH, symbol: '<b>I</b>' });
    expect(other).not.toMatch(/<script|<b>/);
    expect(other).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;');
  });

  it('draws a chart even without sessions or benchmark', () => {
    const empty = { ...RUN_B, curve: [] };
    const page = renderReportHtml(buildReport([empty], { ...INFO, sessions: 0 }), [empty]);
    expect(page.match(/<svg/g)).toHaveLength(2);
    expect(equityChart(page)).toContain('no sessions');
    expect(equityChart(page).match(/<path /g)).toHaveLength(1);
    expect(page.match(/<path class="series dd"/g)).toHaveLength(1);
  });
});

describe('writeReport / readReport', () => {
  const report = buildReport([RUN_A, RUN_B], INFO, BENCH);
  const tmp = () => mkdtemp(join(tmpdir(), 'agent-trader-report-'));

  it('round-trips report.json and writes report.html', async () => {
    const dir = join(await tmp(), 'out', 'nested');
    const html = renderReportHtml(report, [RUN_A, RUN_B], BENCH);
    const paths = await writeReport(dir, report, html);
    expect(paths).toEqual({ json: join(dir, 'report.json'), html: join(dir, 'report.html') });
    expect(await readReport(dir)).toEqual(report);
    expect(await readFile(paths.html, 'utf8')).toBe(html);
    const text = await readFile(paths.json, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('"initial_value": "100000.00"');
    expect((await readdir(dir)).sort()).toEqual(['report.html', 'report.json']);
  });

  it('says clearly what is wrong with a missing or malformed report', async () => {
    const dir = await tmp();
    await expect(readReport(join(dir, 'nope'))).rejects.toThrow(InputError);
    await expect(readReport(join(dir, 'nope'))).rejects.toThrow(/no run at .*nope: no such directory/);
    await expect(readReport(dir)).rejects.toThrow(/no report\.json in .*; run a backtest with --out/);
    await writeFile(join(dir, 'report.json'), '{"run": ');
    await expect(readReport(dir)).rejects.toThrow(/report\.json: not valid JSON/);
    const bad = JSON.parse(JSON.stringify(report)) as Record<string, any>;
    bad['signatures']['alpha']['return'] = '30%';
    delete bad['benchmark'];
    await writeFile(join(dir, 'report.json'), JSON.stringify(bad));
    const err = await readReport(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/not a valid report \(2 problems\)/);
    expect((err as InputError).problems.join('\n')).toMatch(/signatures\.alpha\.return: .*number/);
    expect((err as InputError).problems.join('\n')).toMatch(/benchmark: /);
  });
});

describe('trade list on the page', () => {
  it('is collapsible and capped at TRADE_LIST_MAX rows, with the count', () => {
    const trades = Array.from({ length: 205 }, (_, i) => [
      { at: SESSIONS[0]!, symbol: `S${String(i).padStart(3, '0')}`, side: 'buy' as const, quantity: 100, price: '10', fee: '0' },
      { at: SESSIONS[1]!, symbol: `S${String(i).padStart(3, '0')}`, side: 'sell' as const, quantity: 100, price: '11', fee: '0' },
    ]).flat();
    const run: SignatureRun = { ...RUN_A, trades, lastPrices: {} };
    const report = buildReport([run], INFO);
    expect(report.signatures['alpha']!.trades!.list).toHaveLength(205);
    const page = renderReportHtml(report, [run]);
    expect(page).toContain('<details class="trades"><summary>Trade list: the first 200 of 205 round trips (report.json lists all)</summary>');
    const list = page.slice(page.indexOf('<details class="trades">'), page.indexOf('</details>'));
    expect(list.match(/<tr>/g)).toHaveLength(200 + 1); // + the header row
  });
});
