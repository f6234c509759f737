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

/** One fill as the ledger applied it (report.json's trade list is built from these). */
export const TradeFillSchema = z.object({
  at: IsoInstantSchema,
  symbol: z.string().min(1),
  side: z.enum(['buy', 'sell']),
  quantity: z.number().int().positive(),
  price: MoneyStringSchema,
  fee: MoneyStringSchema,
});
export type TradeFill = z.infer<typeof TradeFillSchema>;

/** Tokens (and cost, when token prices are configured) of one LLM session, from its transcript. */
export const LlmSessionUsageSchema = z.object({
  at: IsoInstantSchema,
  prompt: CountSchema,
  completion: CountSchema,
  total: CountSchema,
  cost: MoneyStringSchema.optional(),
});
export type LlmSessionUsage = z.infer<typeof LlmSessionUsageSchema>;

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
  /**
   * The fills in the order the ledger applied them; absent when the caller does not pass
   * them (then the report has no trade list, per-symbol PnL or turnover).
   */
  trades: z.array(TradeFillSchema).optional(),
  /** The price known at the last curve point of each symbol still held then (open lots are marked at it). */
  lastPrices: z.record(z.string().min(1), MoneyStringSchema).optional(),
  /** An LLM agent's sessions' usage, in time order; absent for other agents (and then absent from the report). */
  llm: z.array(LlmSessionUsageSchema).superRefine((c, ctx) => inTimeOrder(c, ctx, 'LLM sessions')).optional(),
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

const NullableMoney = MoneyStringSchema.nullable();

/** One round trip (a FIFO lot, or the part of it one sell closed), or a lot still open at the end. */
export const RoundTripReportSchema = z.object({
  symbol: z.string().min(1),
  quantity: z.number().int().positive(),
  entry_at: IsoInstantSchema,
  entry_price: MoneyStringSchema,
  /** null while open. */
  exit_at: IsoInstantSchema.nullable(),
  exit_price: NullableMoney,
  /** An open lot's price at the last session (null when unknown, and for closed ones). */
  mark_price: NullableMoney,
  /** Its shares of the buy's and the sell's fees. */
  fees: MoneyStringSchema,
  /** Net of fees; open: unrealised at mark_price (null without one). */
  pnl: NullableMoney,
  /** Entry to exit (open: to marked_at), whole seconds. */
  holding_seconds: CountSchema,
  open: z.boolean(),
});
export type RoundTripReport = z.infer<typeof RoundTripReportSchema>;

export const TradesReportSchema = z.object({
  /** Closed round trips; wins / losses: PnL > 0 / < 0. */
  closed: CountSchema,
  wins: CountSchema,
  losses: CountSchema,
  /** wins / closed; null without a closed round trip. */
  win_rate: RatioSchema.nullable(),
  /** gross_profit / -gross_loss; null when no round trip lost. */
  profit_factor: RatioSchema.nullable(),
  /** Sum of the winning PnLs (>= 0) and of the losing ones (<= 0). */
  gross_profit: MoneyStringSchema,
  gross_loss: MoneyStringSchema,
  /** Mean PnL of the wins / of the losses, to the cent half-up; null without such trades. */
  average_win: NullableMoney,
  average_loss: NullableMoney,
  realised_pnl: MoneyStringSchema,
  /** Open lots at their mark; null when a mark is unknown. */
  unrealised_pnl: NullableMoney,
  open_lots: CountSchema,
  /** Shares sold beyond the lots the fills opened (the books corrected to the broker's), by symbol; absent when none. */
  unmatched_sells: z.record(z.string(), CountSchema).optional(),
  /** Closed round trips in the order they closed, then open lots by symbol and entry. */
  list: z.array(RoundTripReportSchema),
});

export const SymbolReportSchema = z.object({
  realised_pnl: MoneyStringSchema,
  unrealised_pnl: NullableMoney,
  /** realised + unrealised; null when unrealised is. */
  pnl: NullableMoney,
  fees: MoneyStringSchema,
  traded_value: MoneyStringSchema,
  round_trips: CountSchema,
  open_quantity: CountSchema,
  last_price: NullableMoney,
});

const ValueAtSchema = z.object({ at: IsoInstantSchema, value: MoneyStringSchema });

export const DrawdownReportSchema = z.object({
  /** The largest drawdown's peak (at null = the initial value, before the first session); null when the value never fell. */
  peak: z.object({ at: IsoInstantSchema.nullable(), value: MoneyStringSchema }).nullable(),
  trough: ValueAtSchema.nullable(),
  /** First session back at the peak; null when it never got back (or never fell). */
  recovered_at: IsoInstantSchema.nullable(),
  /** After each session: (running peak - value) / running peak. */
  series: z.array(z.object({ at: IsoInstantSchema, drawdown: RatioSchema.nonnegative() })),
});

export const MonthlyReturnReportSchema = z.object({
  month: z.string().regex(/^\d{4}-\d{2}$/),
  start_value: MoneyStringSchema,
  end_value: MoneyStringSchema,
  return: RatioSchema,
  sessions: CountSchema,
  /** The run's span does not cover the whole month. */
  partial: z.boolean(),
});

export const LlmReportSchema = z.object({
  /** Sessions with a transcript. */
  sessions: CountSchema,
  prompt_tokens: CountSchema,
  completion_tokens: CountSchema,
  total_tokens: CountSchema,
  /** total_tokens / sessions (6 decimals); null without a session. */
  tokens_per_session: RatioSchema.nullable(),
  /** Sum of the sessions' costs; null when no token price is configured (then `cost_reason`). */
  cost: NullableMoney,
  /** cost / sessions, half-up to 6 decimals. */
  cost_per_session: NullableMoney,
  cost_reason: z.string().optional(),
  by_session: z.array(z.object({ at: IsoInstantSchema, prompt: CountSchema, completion: CountSchema, total: CountSchema, cost: NullableMoney })),
});

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
  // Added for issue #19; absent in reports written before. See README "Backtest".
  /** Per-session returns the ratios saw (= sessions recorded). */
  return_periods: CountSchema.optional(),
  /** Why `sharpe` is null (fewer than MIN_RATIO_PERIODS returns, a flat curve); absent when it is not. */
  sharpe_reason: z.string().optional(),
  /** Annualised Sortino (target 0); null with `sortino_reason`. */
  sortino: RatioSchema.nullable().optional(),
  sortino_reason: z.string().optional(),
  /** Share of sessions whose mark held a position; null without sessions. */
  exposure: RatioSchema.nullable().optional(),
  drawdown: DrawdownReportSchema.optional(),
  /** One per calendar month (market zone) with sessions. */
  monthly_returns: z.array(MonthlyReturnReportSchema).optional(),
  /** From the fills (absent when the run did not pass them): sum of price x quantity. */
  traded_value: MoneyStringSchema.optional(),
  /** traded_value / mean session equity; null without sessions. */
  turnover: RatioSchema.nullable().optional(),
  trades: TradesReportSchema.optional(),
  /** Per symbol traded, sorted. */
  symbols: z.record(z.string(), SymbolReportSchema).optional(),
  /** LLM agents: tokens and cost from the transcripts. */
  llm: LlmReportSchema.optional(),
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
