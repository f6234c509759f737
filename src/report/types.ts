/**
 * The report's contract, as zod schemas: what the backtest driver hands in
 * (`SignatureRun`, `BenchmarkSeries`, `BacktestRunInfo`) and what `report.json`
 * holds (`ReportSchema`, checked on write and on read).
 *
 * Money is a decimal string everywhere ("100000", "-12.5", "626.0100"), never a
 * binary float; instants are ISO-8601 with an offset ("2025-10-09T09:35:00+08:00").
 * Ratios in report.json (return, max_drawdown, sharpe) are JSON numbers rounded to
 * 6 decimals (see metrics.ts).
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { FrequencySchema, MarketSchema } from '../domain/markets.js';

// ---------------------------------------------------------------------------------------
// Building blocks

/** A plain decimal string, optionally negative: "100000", "-3.25", "626.0100". No exponent. */
export const MoneyStringSchema = z
  .string()
  .regex(/^-?\d+(\.\d+)?$/, 'expected a decimal string like "100000.00"');

/** ISO-8601 instant with an explicit offset (or Z). */
export const IsoInstantSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, 'expected an ISO-8601 instant with an offset, like "2025-10-09T09:35:00+08:00"')
  .refine((s) => DateTime.fromISO(s, { setZone: true }).isValid, 'expected a valid date and time');

const CountSchema = z.number().int().nonnegative();
const DateSchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');

/** Milliseconds since the epoch of an instant that passed IsoInstantSchema. */
export function instantMillis(iso: string): number {
  return DateTime.fromISO(iso, { setZone: true }).toMillis();
}

// ---------------------------------------------------------------------------------------
// Input: what the backtest driver hands in

/** Account value after one session: equity = cash + positions at the prices known then. */
export const EquityPointSchema = z.object({
  at: IsoInstantSchema,
  equity: MoneyStringSchema,
  cash: MoneyStringSchema,
});
export type EquityPoint = z.infer<typeof EquityPointSchema>;

function inTimeOrder(points: readonly { at: string }[], ctx: z.core.$RefinementCtx, what: string): void {
  for (let i = 1; i < points.length; i++) {
    if (instantMillis(points[i]!.at) < instantMillis(points[i - 1]!.at)) {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'at'],
        message: `expected ${what} in time order: ${points[i]!.at} comes before ${points[i - 1]!.at}`,
      });
      return;
    }
  }
}

/**
 * Sessions the ledger recorded for one agent and, of those, the ones that ended with a
 * reason code (a HOLD: LLM_HTTP_ERROR, LLM_TIMEOUT, LLM_BAD_TOOL_CALL, ...), by code.
 * Sessions without a code ended as the agent meant: `recorded - sum(byReason)`.
 */
export const SessionCountsSchema = z.object({
  recorded: CountSchema,
  byReason: z.record(z.string().min(1), CountSchema),
});
export type SessionCounts = z.infer<typeof SessionCountsSchema>;

export const SignatureRunSchema = z.object({
  // "__proto__" cannot be a key of a plain JSON object we build or validate: refused.
  signature: z.string().min(1, 'expected a non-empty signature').refine((s) => s !== '__proto__', 'expected a signature other than "__proto__"'),
  /** Account value before the first session. Must be > 0 (returns are relative to it). */
  initialValue: MoneyStringSchema.refine((s) => !s.startsWith('-') && /[1-9]/.test(s), 'expected an initial value > 0'),
  /** Cash as of the last curve point (the same instant as the final value). */
  finalCash: MoneyStringSchema,
  /** One point per session, in time order; the last is the final value. */
  curve: z.array(EquityPointSchema).superRefine((c, ctx) => inTimeOrder(c, ctx, 'curve points')),
  orders: CountSchema,
  fills: CountSchema,
  /** Rejections by reason code (src/domain/reasons.ts), e.g. {"LOT_SIZE": 3}. */
  rejected: z.record(z.string().min(1), CountSchema),
  fees: MoneyStringSchema,
  /** Session outcomes; absent when the caller does not know them (then absent from the report). */
  sessions: SessionCountsSchema.optional(),
});
export type SignatureRun = z.infer<typeof SignatureRunSchema>;

export const BenchmarkPointSchema = z.object({
  /** When this close became known (the bar's end), not the bar's label. */
  at: IsoInstantSchema,
  close: MoneyStringSchema.refine((s) => !s.startsWith('-') && /[1-9]/.test(s), 'expected a close > 0'),
});
export type BenchmarkPoint = z.infer<typeof BenchmarkPointSchema>;

export const BenchmarkSeriesSchema = z.object({
  symbol: z.string().min(1),
  /** Any order; sorted by `at` where used. */
  points: z.array(BenchmarkPointSchema),
});
export type BenchmarkSeries = z.infer<typeof BenchmarkSeriesSchema>;

export const RulesSchema = z.enum(['strict', 'ai-trader']);

export const BacktestRunInfoSchema = z.object({
  market: MarketSchema,
  frequency: FrequencySchema,
  from: DateSchema,
  to: DateSchema,
  rules: RulesSchema,
  /** Injected by the caller (no clock read here), ISO-8601 with offset. */
  generatedAt: IsoInstantSchema,
  sessions: CountSchema,
  /** How the run traded; absent = backtest (reports written before paper trading existed). */
  mode: z.enum(['backtest', 'paper', 'live']).optional(),
});
export type BacktestRunInfo = z.infer<typeof BacktestRunInfoSchema>;

// ---------------------------------------------------------------------------------------
// Output: report.json

/** A ratio in report.json: a finite JSON number rounded to 6 decimals. */
const RatioSchema = z.number().finite();

export const SignatureReportSchema = z.object({
  initial_value: MoneyStringSchema,
  final_value: MoneyStringSchema,
  /** Cash to the cent, half-up (`cashText`), as position.jsonl, /api/state and the daily report print it. */
  final_cash: MoneyStringSchema,
  /**
   * The instant `final_value` and `final_cash` are marked at: the agent's last recorded
   * session. Absent without a session, and in reports written before it existed.
   */
  marked_at: IsoInstantSchema.optional(),
  /** final_value / initial_value - 1. */
  return: RatioSchema,
  /** Largest peak-to-trough fall of the value, as a positive fraction of the peak (0 if none). */
  max_drawdown: RatioSchema.nonnegative(),
  /** Annualised Sharpe of the per-session returns, risk-free 0; null when undefined. */
  sharpe: RatioSchema.nullable(),
  orders: CountSchema,
  fills: CountSchema,
  rejected: z.record(z.string(), CountSchema),
  fees: MoneyStringSchema,
  /**
   * Sessions the ledger recorded (`recorded`) and those that ended as HOLD, by reason
   * code (`by_reason`, sorted). Absent in reports written before it existed.
   */
  sessions: z.object({ recorded: CountSchema, by_reason: z.record(z.string(), CountSchema) }).optional(),
});
export type SignatureReport = z.infer<typeof SignatureReportSchema>;

export const BenchmarkReportSchema = z.object({
  symbol: z.string().min(1),
  /** The benchmark's latest close known at the first session it covers. */
  initial: MoneyStringSchema,
  /** Its latest close known at the last session. */
  final: MoneyStringSchema,
  return: RatioSchema,
  max_drawdown: RatioSchema.nonnegative(),
});
export type BenchmarkReport = z.infer<typeof BenchmarkReportSchema>;

export const RunReportSchema = z.object({
  market: MarketSchema,
  frequency: FrequencySchema,
  from: DateSchema,
  to: DateSchema,
  rules: RulesSchema,
  generated_at: IsoInstantSchema,
  sessions: CountSchema,
  /** The annualisation factor the Sharpe ratios used. */
  periods_per_year: z.number().positive(),
  /** paper / live runs say so; absent = backtest. */
  mode: z.enum(['backtest', 'paper', 'live']).optional(),
});
export type RunReport = z.infer<typeof RunReportSchema>;

/** The whole of report.json. */
export const ReportSchema = z.object({
  run: RunReportSchema,
  signatures: z.record(z.string(), SignatureReportSchema),
  benchmark: BenchmarkReportSchema.nullable(),
});
export type Report = z.infer<typeof ReportSchema>;
