/**
 * `buildReport`: the runs of a backtest -> report.json (pure; `generatedAt` is injected).
 *
 * Shape (the issue's, plus `run`):
 *   {"run": {...}, "signatures": {"<sig>": {"initial_value", "final_value", "final_cash",
 *    "marked_at", "return", "max_drawdown", "sharpe", "orders", "fills", "rejected": {"<REASON>": n},
 *    "fees", "sessions": {"recorded", "by_reason": {"<REASON>": n}}}}, "benchmark": {"symbol", "initial", "final", "return", "max_drawdown"} | null}
 * Money: decimal strings, exactly as computed (not rounded), except `final_cash`, which is
 * cash as every output prints it (`cashText`: to the cent, half-up; under the strict rules cash
 * is whole cents anyway). `final_value` and `final_cash` are both as of `marked_at`, the last
 * curve point (the agent's last recorded session); absent with no session. Ratios: numbers
 * rounded to 6 decimals. Signatures in the order given; rejection and session reasons sorted by code.
 */
import { z } from 'zod';
import { cashText, Dec, dec } from '../domain/money.js';
import { MARKETS } from '../domain/markets.js';
import {
  benchmarkMetrics,
  defaultPeriodsPerYear,
  drawdownInfo,
  exposure,
  monthlyReturns,
  periodReturns,
  ratio,
  ratioPeriodsReason,
  runMetrics,
  runValues,
  sessionInstants,
  sortinoRatio,
  turnover,
} from './metrics.js';
import { roundTrips, symbolStats, tradedValue, tradeStats } from './trades.js';
import {
  BacktestRunInfoSchema,
  BenchmarkSeriesSchema,
  ReportSchema,
  SignatureRunSchema,
  type BacktestRunInfo,
  type BenchmarkReport,
  type BenchmarkSeries,
  type LlmSessionUsage,
  type Report,
  type RoundTripReport,
  type SignatureReport,
  type SignatureRun,
} from './types.js';

/**
 * Money in report.json: the exact value, written with at least 2 decimals ("10000.00",
 * "3471.50", "12.345"): nothing is rounded, trailing cent zeros are kept for reading.
 */
export function moneyString(value: Dec): string {
  return value.decimalPlaces() < 2 ? value.toFixed(2) : value.toFixed();
}

export interface BuildReportOptions {
  /** Annualisation factor for Sharpe (default: defaultPeriodsPerYear(market, frequency)). */
  readonly periodsPerYear?: number;
}

/** Validate what the driver handed in; a mismatch is a bug in the caller, so a plain Error. */
function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`buildReport: invalid ${what}:\n${z.prettifyError(r.error)}`);
  return r.data;
}

/** Counts by reason code, sorted by code (stable JSON for diffs). */
const byCode = (counts: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const FLAT = 'fewer than 2 returns or a flat curve (zero variance)';

const nullableRatio = (d: Dec | null): number | null => (d === null ? null : ratio(d));
const nullableMoney = (d: Dec | null): string | null => (d === null ? null : moneyString(d));
/** An average of money, to the cent half-up (a mean is rarely a finite decimal). */
const cents = (d: Dec | null): string | null => (d === null ? null : d.toFixed(2, Dec.ROUND_HALF_UP));

function drawdownReport(run: SignatureRun): SignatureReport['drawdown'] {
  const d = drawdownInfo(run);
  return {
    peak: d.peak ? { at: d.peak.at, value: moneyString(d.peak.value) } : null,
    trough: d.trough ? { at: d.trough.at, value: moneyString(d.trough.value) } : null,
    recovered_at: d.recoveredAt ?? null,
    series: d.series.map((p) => ({ at: p.at, drawdown: ratio(p.drawdown) })),
  };
}

/** The trade list, its statistics, per-symbol PnL and turnover: only from the fills the run passed. */
function tradesReport(run: SignatureRun): Pick<SignatureReport, 'traded_value' | 'turnover' | 'trades' | 'symbols'> {
  const fills = run.trades ?? [];
  const prices = run.lastPrices ?? {};
  const { trips, unmatched } = roundTrips(fills, run.curve.at(-1)?.at ?? null, prices);
  const st = tradeStats(trips);
  const traded = tradedValue(fills);
  const list: RoundTripReport[] = trips.map((t) => ({
    symbol: t.symbol,
    quantity: t.quantity,
    entry_at: t.entryAt,
    entry_price: t.entryPrice.toFixed(),
    exit_at: t.exitAt,
    exit_price: t.exitPrice === null ? null : t.exitPrice.toFixed(),
    mark_price: t.markPrice === null ? null : t.markPrice.toFixed(),
    fees: moneyString(t.fees),
    pnl: nullableMoney(t.pnl),
    holding_seconds: Math.floor(t.holdingMs / 1000),
    open: t.open,
  }));
  const symbols = Object.fromEntries(
    symbolStats(fills, trips, prices).map((s) => [
      s.symbol,
      {
        realised_pnl: moneyString(s.realisedPnl),
        unrealised_pnl: nullableMoney(s.unrealisedPnl),
        pnl: s.unrealisedPnl === null ? null : moneyString(s.realisedPnl.plus(s.unrealisedPnl)),
        fees: moneyString(s.fees),
        traded_value: moneyString(s.tradedValue),
        round_trips: s.closed,
        open_quantity: s.openQuantity,
        last_price: s.lastPrice === null ? null : s.lastPrice.toFixed(),
      },
    ]),
  );
  return {
    traded_value: moneyString(traded),
    turnover: nullableRatio(turnover(traded, run.curve)),
    trades: {
      closed: st.closed,
      wins: st.wins,
      losses: st.losses,
      win_rate: nullableRatio(st.winRate),
      profit_factor: nullableRatio(st.profitFactor),
      gross_profit: moneyString(st.grossProfit),
      gross_loss: moneyString(st.grossLoss),
      average_win: cents(st.averageWin),
      average_loss: cents(st.averageLoss),
      realised_pnl: moneyString(st.realisedPnl),
      unrealised_pnl: nullableMoney(st.unrealisedPnl),
      open_lots: st.openLots,
      ...(Object.keys(unmatched).length ? { unmatched_sells: unmatched } : {}),
      list,
    },
    symbols,
  };
}

/**
 * Tokens and cost of an LLM agent's sessions. A transcript has a cost once an answer came with
 * token prices configured; a session without any answer (an HTTP error) used no tokens and costs 0.
 * A session with tokens but no cost while others have one cannot be priced: then no total.
 */
function llmReport(sessions: readonly LlmSessionUsage[]): NonNullable<SignatureReport['llm']> {
  const n = sessions.length;
  const sum = (k: 'prompt' | 'completion' | 'total') => sessions.reduce((s, u) => s + u[k], 0);
  const anyCost = sessions.some((u) => u.cost !== undefined);
  const unpriced = sessions.some((u) => u.cost === undefined && u.total > 0);
  const priced = anyCost && !unpriced;
  const cost = priced ? sessions.reduce((s, u) => s.plus(dec(u.cost ?? '0')), new Dec(0)) : null;
  const reason = n === 0 ? 'no LLM session recorded' : anyCost ? 'not recorded for every session that used tokens' : 'not recorded: no token prices configured (input_cost_per_million / output_cost_per_million)';
  return {
    sessions: n,
    prompt_tokens: sum('prompt'),
    completion_tokens: sum('completion'),
    total_tokens: sum('total'),
    tokens_per_session: n ? ratio(new Dec(sum('total')).div(n)) : null,
    cost: nullableMoney(cost),
    cost_per_session: cost === null ? null : cost.div(n).toFixed(6, Dec.ROUND_HALF_UP),
    ...(cost === null ? { cost_reason: reason } : {}),
    by_session: sessions.map((u) => ({ at: u.at, prompt: u.prompt, completion: u.completion, total: u.total, cost: u.cost ?? (priced ? '0' : null) })),
  };
}

export function buildReport(
  runs: readonly SignatureRun[],
  info: BacktestRunInfo,
  benchmark?: BenchmarkSeries,
  options: BuildReportOptions = {},
): Report {
  const runInfo = check(BacktestRunInfoSchema, info, 'run info');
  const checked = runs.map((r, i) => check(SignatureRunSchema, r, `run ${i} (${String(r?.signature)})`));
  const bench = benchmark === undefined ? undefined : check(BenchmarkSeriesSchema, benchmark, 'benchmark series');
  const periodsPerYear = options.periodsPerYear ?? defaultPeriodsPerYear(runInfo.market, runInfo.frequency);

  // Object.fromEntries, not assignment: a signature may be any text, "__proto__" included.
  const entries: [string, SignatureReport][] = [];
  const seen = new Set<string>();
  for (const run of checked) {
    if (seen.has(run.signature)) throw new Error(`buildReport: signature "${run.signature}" appears twice`);
    seen.add(run.signature);
    const m = runMetrics(run, periodsPerYear);
    const tooFew = ratioPeriodsReason(m.periods);
    const sortino = sortinoRatio(periodReturns(runValues(run)), periodsPerYear);
    const rejected = byCode(run.rejected);
    const last = run.curve.at(-1);
    entries.push([run.signature, {
      initial_value: moneyString(m.initial),
      final_value: moneyString(m.final),
      final_cash: cashText(dec(run.finalCash)),
      ...(last ? { marked_at: last.at } : {}),
      return: ratio(m.totalReturn),
      max_drawdown: ratio(m.maxDrawdown),
      sharpe: tooFew || m.sharpe === null ? null : ratio(m.sharpe),
      orders: run.orders,
      fills: run.fills,
      rejected,
      fees: moneyString(dec(run.fees)),
      ...(run.sessions ? { sessions: { recorded: run.sessions.recorded, by_reason: byCode(run.sessions.byReason) } } : {}),
      return_periods: m.periods,
      ...(tooFew ? { sharpe_reason: tooFew } : m.sharpe === null ? { sharpe_reason: FLAT } : {}),
      sortino: tooFew || sortino === null ? null : ratio(sortino),
      ...(tooFew ? { sortino_reason: tooFew } : sortino === null ? { sortino_reason: m.periods < 2 ? FLAT : 'no negative return (no downside deviation)' } : {}),
      exposure: nullableRatio(exposure(run.curve)),
      drawdown: drawdownReport(run),
      monthly_returns: monthlyReturns(run, MARKETS[runInfo.market].zone, runInfo.from, runInfo.to).map((r) => ({
        month: r.month,
        start_value: moneyString(r.startValue),
        end_value: moneyString(r.endValue),
        return: ratio(r.return),
        sessions: r.sessions,
        partial: r.partial,
      })),
      ...(run.trades ? tradesReport(run) : {}),
      ...(run.llm ? { llm: llmReport(run.llm) } : {}),
    }]);
  }
  const signatures = Object.fromEntries(entries);

  let benchmarkReport: BenchmarkReport | null = null;
  const instants = sessionInstants(checked);
  // No sessions, nothing to compare: a benchmark needs at least one session instant.
  if (bench && instants.length > 0) {
    const b = benchmarkMetrics(bench, instants);
    benchmarkReport = {
      symbol: b.symbol,
      initial: b.initial.toFixed(),
      final: b.final.toFixed(),
      return: ratio(b.totalReturn),
      max_drawdown: ratio(b.maxDrawdown),
    };
  }

  const report: Report = {
    run: {
      market: runInfo.market,
      frequency: runInfo.frequency,
      from: runInfo.from,
      to: runInfo.to,
      rules: runInfo.rules,
      generated_at: runInfo.generatedAt,
      sessions: runInfo.sessions,
      periods_per_year: periodsPerYear,
      ...(runInfo.mode && runInfo.mode !== 'backtest' ? { mode: runInfo.mode } : {}),
    },
    signatures,
    benchmark: benchmarkReport,
  };
  return ReportSchema.parse(report);
}
