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
import { cashText, dec, type Dec } from '../domain/money.js';
import { benchmarkMetrics, defaultPeriodsPerYear, ratio, runMetrics, sessionInstants } from './metrics.js';
import {
  BacktestRunInfoSchema,
  BenchmarkSeriesSchema,
  ReportSchema,
  SignatureRunSchema,
  type BacktestRunInfo,
  type BenchmarkReport,
  type BenchmarkSeries,
  type Report,
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
    const rejected = byCode(run.rejected);
    const last = run.curve.at(-1);
    entries.push([run.signature, {
      initial_value: moneyString(m.initial),
      final_value: moneyString(m.final),
      final_cash: cashText(dec(run.finalCash)),
      ...(last ? { marked_at: last.at } : {}),
      return: ratio(m.totalReturn),
      max_drawdown: ratio(m.maxDrawdown),
      sharpe: m.sharpe === null ? null : ratio(m.sharpe),
      orders: run.orders,
      fills: run.fills,
      rejected,
      fees: moneyString(dec(run.fees)),
      ...(run.sessions ? { sessions: { recorded: run.sessions.recorded, by_reason: byCode(run.sessions.byReason) } } : {}),
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
