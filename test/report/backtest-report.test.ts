/**
 * The report's new fields on a real backtest of the bundled A-share sample (config/cn-daily.json:
 * the equal-weight and momentum rules, strict rules and fees, 30 sessions over two months):
 * the run's store read back as the backtest leaves it, fills from its journal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { levelTranscripts, type Transcript } from '../../src/actors/agents/llm/transcript.js';
import { labelledBarAt } from '../../src/actors/brokers/simulated-broker.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { openStore, type Store } from '../../src/actors/store/store.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { dec } from '../../src/domain/money.js';
import { viewAt } from '../../src/domain/point-in-time.js';
import { buildReport } from '../../src/report/build.js';
import { llmUsage, withRunDetails } from '../../src/report/collect.js';
import { renderReportHtml } from '../../src/report/html.js';
import { ReportSchema, type Report, type SignatureRun } from '../../src/report/types.js';
import { restoreLedger, signatureRuns } from '../../src/runtime/assemble.js';
import { runBacktest } from '../../src/runtime/backtest.js';

const CONFIG = fileURLToPath(new URL('../../config/cn-daily.json', import.meta.url));
const dirs: string[] = [];
let config: Config;
let runs: SignatureRun[];
let report: Report;
let html: string;

beforeAll(async () => {
  config = await loadConfig(CONFIG);
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-report-bt-'));
  dirs.push(out);
  const result = await runBacktest({ config, outDir: out, generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z') });
  // The run is over and its store closed: read it back as the backtest driver sees it at its end.
  const prices = await loadPriceStore(config.data_source.bars_file!, { market: 'cn' });
  const view = (at: DateTime) => viewAt(prices, at, (symbol) => labelledBarAt(prices, symbol, at));
  const store = await openStore(join(out, 'state'));
  try {
    const ledger = await restoreLedger(config, store, out, view, prices.symbols(), new Map());
    runs = await withRunDetails(signatureRuns(config, ledger), store, {
      market: 'cn',
      priceAt: (symbol, at) => view(DateTime.fromISO(at, { setZone: true })).price(symbol)?.price.toFixed(),
    });
  } finally {
    await store.close();
  }
  const r = result.report.run;
  report = buildReport(runs, { market: r.market, frequency: r.frequency, from: r.from, to: r.to, rules: r.rules, generatedAt: r.generated_at, sessions: r.sessions });
  html = renderReportHtml(report, runs);
  // The backtest's own report has the same details, read from its store before it closed.
  expect(result.report.signatures).toEqual(report.signatures);
}, 120_000);

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the report of a real backtest', () => {
  it('lists every fill the ledger booked, and its fees', () => {
    for (const run of runs) {
      const s = report.signatures[run.signature]!;
      expect(run.trades!.length).toBe(s.fills);
      expect(run.trades!.length).toBeGreaterThan(0);
      const fees = run.trades!.reduce((sum, f) => sum.plus(dec(f.fee)), dec(0));
      expect(fees.eq(dec(s.fees))).toBe(true);
    }
  });

  it('round trips add up: realised + unrealised = final - initial value, to the sub-cent rounding of each fill', () => {
    for (const run of runs) {
      const s = report.signatures[run.signature]!;
      const t = s.trades!;
      expect(t.closed + t.open_lots).toBe(t.list.length);
      expect(t.wins + t.losses).toBeLessThanOrEqual(t.closed);
      expect(t.unrealised_pnl).not.toBeNull();
      const pnl = dec(t.realised_pnl).plus(dec(t.unrealised_pnl!));
      const change = dec(s.final_value).minus(dec(s.initial_value));
      // each fill's value is booked rounded to the cent: at most half a cent apart per fill
      expect(pnl.minus(change).abs().lte(dec('0.005').times(s.fills))).toBe(true);
      // the per-symbol table says the same
      const bySymbol = Object.values(s.symbols!).reduce((sum, x) => sum.plus(dec(x.pnl!)), dec(0));
      expect(bySymbol.eq(pnl)).toBe(true);
      expect(Object.keys(s.symbols!)).toEqual([...Object.keys(s.symbols!)].sort());
      // open lots carry the mark and the shares still held
      const open = t.list.filter((x) => x.open);
      expect(open.every((x) => x.exit_at === null && x.mark_price !== null)).toBe(true);
      expect(open.reduce((n, x) => n + x.quantity, 0)).toBe(Object.values(s.symbols!).reduce((n, x) => n + x.open_quantity, 0));
      // a profit factor only with a losing trade
      expect(t.profit_factor === null).toBe(t.losses === 0);
      expect(s.turnover).toBeGreaterThan(0);
      expect(s.exposure).toBeGreaterThan(0);
    }
  });

  it('has Sharpe and Sortino (30 returns), the drawdown with its dates and two months, the first and last partial', () => {
    for (const run of runs) {
      const s = report.signatures[run.signature]!;
      expect(s.return_periods).toBe(30);
      expect(s.sharpe).not.toBeNull();
      expect(s.sharpe_reason).toBeUndefined();
      expect(s.drawdown!.series).toHaveLength(30);
      expect(Math.max(...s.drawdown!.series.map((p) => p.drawdown))).toBe(s.max_drawdown);
      if (s.max_drawdown > 0) expect(s.drawdown!.trough!.at).toBe(s.drawdown!.series.find((p) => p.drawdown === s.max_drawdown)!.at);
      expect(s.monthly_returns!.map((m) => [m.month, m.partial])).toEqual([
        ['2025-10', true],
        ['2025-11', true],
      ]);
      expect(s.monthly_returns!.reduce((n, m) => n + m.sessions, 0)).toBe(30);
      // the months chain to the total return
      const chained = s.monthly_returns!.reduce((v, m) => v * (1 + m.return), 1) - 1;
      expect(chained).toBeCloseTo(s.return, 5);
      expect(s.llm).toBeUndefined();
    }
  });

  it('is byte-stable: built again from the same store it is the same JSON', () => {
    expect(ReportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(report);
    const again = buildReport(structuredClone(runs), { ...config.date_range!, market: 'cn', frequency: 'daily', rules: 'strict', generatedAt: report.run.generated_at, sessions: report.run.sessions, from: report.run.from, to: report.run.to });
    expect(JSON.stringify(again)).toBe(JSON.stringify(report));
  });

  it('report.html: the drawdown chart, per-symbol and monthly tables, the trade list, and a rejections column that wraps', () => {
    expect(html.match(/<svg class="chart drawdown"/g)).toHaveLength(1);
    expect(html.match(/<path class="series dd"/g)).toHaveLength(runs.length);
    expect(html.match(/<table class="symbols"/g)).toHaveLength(runs.length);
    expect(html.match(/<table class="monthly"/g)).toHaveLength(runs.length);
    expect(html).toContain('2025-10 (partial)');
    expect(html.match(/<details class="trades"><summary>Trade list: \d+ round trips?<\/summary>/g)).toHaveLength(runs.length);
    // wrapping: the cells are marked, the rule lets them break, the page is held to 1000 px
    expect(html).toMatch(/<td class="wrap">[^<]*<\/td><\/tr>/);
    expect(html).toMatch(/td\.wrap \{ white-space: normal; overflow-wrap: break-word; word-break: normal; max-width: 22em; \}/);
    expect(html).toMatch(/table\.summary \{ width: 100%; \}/);
    expect(html).toMatch(/div\.scroll \{ max-width: 1000px; overflow-x: auto; \}/);
    expect(html).toMatch(/<div class="scroll"><table class="summary">/);
    expect(html).not.toMatch(/https?:|<script/i);
  });
});

describe('LLM usage from the transcripts', () => {
  let store: Store;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-report-llm-'));
    dirs.push(dir);
    store = await openStore(dir);
    const t = (sig: string, at: string, total: number, cost?: string): Transcript => ({
      version: 1,
      sessionId: `${sig}@${at}`,
      signature: sig,
      at,
      model: { basemodel: 'm', baseUrl: 'http://127.0.0.1:1', temperature: 0 },
      promptVersion: 'x',
      promptFile: 'p',
      startedAtMs: 0,
      status: 'done',
      messages: [],
      steps: [],
      intents: [],
      queue: [],
      tokens: { prompt: total - 10, completion: 10, total },
      ...(cost !== undefined ? { cost } : {}),
    });
    const tr = levelTranscripts(store);
    // saved out of order; "llm-a" and "llm-ab" share a key prefix
    await tr.save(t('llm-a', '2025-10-10T09:35:00+08:00', 300, '0.003'));
    await tr.save(t('llm-a', '2025-10-09T09:35:00+08:00', 100, '0.001'));
    await tr.save(t('llm-ab', '2025-10-09T09:35:00+08:00', 999));
    // a session whose model call failed: no answer, no tokens, no cost
    await tr.save({ ...t('llm-a', '2025-10-13T09:35:00+08:00', 0), tokens: { prompt: 0, completion: 0, total: 0 }, status: 'hold', reason: 'LLM_HTTP_ERROR' });
    await store.commitNow();
  });
  afterAll(async () => {
    await store.close();
  });

  it('reads tokens and cost per session in time order, and the report sums them', async () => {
    const usage = await llmUsage(store, 'llm-a');
    expect(usage.map((u) => [u.at, u.total, u.cost])).toEqual([
      ['2025-10-09T09:35:00+08:00', 100, '0.001'],
      ['2025-10-10T09:35:00+08:00', 300, '0.003'],
      ['2025-10-13T09:35:00+08:00', 0, undefined],
    ]);
    const base: SignatureRun = { signature: 'llm-a', initialValue: '1000', finalCash: '1000', curve: [], orders: 0, fills: 0, rejected: {}, fees: '0' };
    const [run] = await withRunDetails([base], store, { market: 'cn', priceAt: () => undefined, llmSignatures: ['llm-a'] });
    const info = { market: 'cn', frequency: 'daily', from: '2025-10-09', to: '2025-10-10', rules: 'strict', generatedAt: '2026-01-01T00:00:00Z', sessions: 2 } as const;
    const llm = buildReport([run!], info).signatures['llm-a']!.llm!;
    expect(llm).toMatchObject({ sessions: 3, prompt_tokens: 380, completion_tokens: 20, total_tokens: 400, tokens_per_session: 133.333333, cost: '0.004', cost_per_session: '0.001333' });
    expect(llm.cost_reason).toBeUndefined();
    expect(llm.by_session.map((u) => u.cost)).toEqual(['0.001', '0.003', '0']);
    // without token prices: the tokens, and the cost said to be not recorded
    const [unpriced] = await withRunDetails([{ ...base, signature: 'llm-ab' }], store, { market: 'cn', priceAt: () => undefined, llmSignatures: ['llm-ab'] });
    const u = buildReport([unpriced!], info).signatures['llm-ab']!.llm!;
    expect([u.total_tokens, u.cost, u.cost_reason]).toEqual([999, null, expect.stringMatching(/^not recorded: no token prices configured/)]);
    expect(renderReportHtml(buildReport([unpriced!], info), [unpriced!])).toContain('<th scope="row">LLM cost</th><td>n/a: not recorded: no token prices configured');
  });
});
