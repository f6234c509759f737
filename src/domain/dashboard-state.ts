/**
 * GET /api/state: what the dashboard draws. Money is exact decimal text as
 * everywhere else (the page parses it only to scale a chart); times are ISO
 * instants. The caller builds it from the ledger; the server validates it before
 * it goes out, so a bad field is a 500 here rather than a broken page.
 */
import { z } from 'zod';
import { DecimalString, OrderSideSchema } from './orders.js';

const Iso = z.string().min(1);

export const DashboardPositionSchema = z.strictObject({
  symbol: z.string().min(1),
  quantity: z.number().int(),
  /** Cost basis, buy fees included. */
  cost: DecimalString.optional(),
  lastPrice: DecimalString.optional(),
  marketValue: DecimalString.optional(),
});

/** realised + unrealised = total = equity - initialCash. */
export const DashboardPnlSchema = z.strictObject({ realised: DecimalString, unrealised: DecimalString, total: DecimalString });

export const DashboardSessionSchema = z.strictObject({
  /** Dotted path in the session machine (`deciding`, `executing.ordering`), as in `statechart.states[].id`. */
  state: z.string().min(1),
  /** True while the session runs; false: `state` is how the last one ended (or `idle`: none yet). */
  running: z.boolean(),
  sessionId: z.string().optional(),
  /** When it entered `state` (the run's clock). */
  at: Iso.optional(),
});

export const EquityPointSchema = z.strictObject({ time: Iso, equity: DecimalString });

export const DashboardAccountSchema = z.strictObject({
  signature: z.string().min(1),
  market: z.string().optional(),
  currency: z.string().optional(),
  /** To the cent, half-up (money.ts `cashText`), as every other output prints cash. */
  cash: DecimalString,
  /** Cash plus positions at the prices known at `markedAt`. */
  equity: DecimalString,
  /** The instant `equity` is marked at (the state's `time`). */
  markedAt: Iso.optional(),
  initialCash: DecimalString.optional(),
  halted: z.boolean().optional(),
  positions: z.array(DashboardPositionSchema),
  /** Oldest first; the page draws it as a polyline. Keep it to a few hundred points. */
  equityCurve: z.array(EquityPointSchema),
  /** Equity minus the initial cash, split: realised (closed, all fees included) and unrealised (open positions at their marks). */
  pnl: DashboardPnlSchema.optional(),
  /** The agent's session machine: the state it is in now, or the final state of its last session. */
  session: DashboardSessionSchema.optional(),
});

export const DashboardOrderSchema = z.strictObject({
  time: Iso,
  signature: z.string().min(1),
  clientOrderId: z.string().min(1),
  symbol: z.string().min(1),
  side: OrderSideSchema,
  quantity: z.number().int().positive(),
  status: z.string().min(1),
  filledQuantity: z.number().int().nonnegative().optional(),
  averagePrice: DecimalString.optional(),
  reason: z.string().optional(),
});

/** Where the quotes come from and whether they are missing (a polled source that stopped answering). */
export const DashboardQuotesSchema = z.strictObject({
  source: z.string(),
  connected: z.boolean(),
  missing: z.boolean(),
  lastQuoteAt: Iso.optional(),
  missingSince: Iso.optional(),
  lastError: z.string().optional(),
  nextPollAt: Iso.optional(),
});

/** One state of the session machine, from its definition (machineToJson), depth first. */
export const StatechartStateSchema = z.strictObject({
  id: z.string().min(1),
  type: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
  /** 0 for children of the root. */
  depth: z.number().int().nonnegative(),
});

/** The run's clock: market time in the market's zone, whether the calendar has the market open, the next session. */
export const DashboardClockSchema = z.strictObject({
  marketTime: Iso,
  /** IANA zone of `marketTime` and `nextSessionAt` (the market's). */
  zone: z.string().min(1),
  marketOpen: z.boolean(),
  nextSessionAt: Iso.optional(),
  /** From `marketTime` to `nextSessionAt`, on the run's clock (a replay's market time). */
  nextSessionInMs: z.number().nonnegative().optional(),
  lastTickAt: Iso.optional(),
});

/** The process the page talks to (filled by the HTTP server): its wall clock and how many feed clients it has. */
export const DashboardServerSchema = z.strictObject({
  /** The server's wall clock (ISO, UTC), which is not the market time of a replay. */
  wallTime: Iso,
  feedClients: z.number().int().nonnegative(),
});

export const DashboardAlertSchema = z.strictObject({
  time: Iso,
  level: z.string().min(1),
  code: z.string().min(1),
  message: z.string(),
  signature: z.string().optional(),
});

export const PricePointSchema = z.strictObject({ time: Iso, price: DecimalString });
export const ChartFillSchema = z.strictObject({
  time: Iso,
  signature: z.string().min(1),
  side: OrderSideSchema,
  quantity: z.number().int().positive(),
  price: DecimalString,
  clientOrderId: z.string().optional(),
});
/** One symbol's prices as the run saw them (oldest first) and the fills in it. */
export const PriceChartSchema = z.strictObject({ symbol: z.string().min(1), points: z.array(PricePointSchema), fills: z.array(ChartFillSchema) });

/** /health's report with its assessed status, for the health panel. */
export const DashboardHealthSchema = z.strictObject({
  status: z.enum(['ok', 'degraded', 'starting']),
  problems: z.array(z.string()),
  report: z.record(z.string(), z.unknown()),
});

export const PastRunSchema = z.strictObject({
  /** The directory's name (beside the run served); `?run=<name>` shows it. */
  name: z.string().min(1),
  current: z.boolean(),
  mode: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  /** signature -> final value, from its report.json. */
  finalValues: z.record(z.string(), DecimalString).optional(),
});

/** A process running, or a stopped run's final state served by `report --serve` (no feed). */
export const DashboardRunSchema = z.strictObject({
  status: z.enum(['running', 'stopped']),
  /** The run's directory (stopped runs). */
  dir: z.string().optional(),
  runs: z.array(PastRunSchema).optional(),
});

export const DashboardStateSchema = z.strictObject({
  /** When the state was read (the injected clock). */
  time: Iso,
  mode: z.enum(['backtest', 'paper', 'live']).optional(),
  accounts: z.array(DashboardAccountSchema),
  /** Newest first. */
  orders: z.array(DashboardOrderSchema),
  quotes: DashboardQuotesSchema.optional(),
  /** The next session instant of the schedule. */
  nextSessionAt: Iso.optional(),
  // Added for issue #19 (all optional: older callers and tests send none of them).
  clock: DashboardClockSchema.optional(),
  server: DashboardServerSchema.optional(),
  run: DashboardRunSchema.optional(),
  /** The session machine's states, for the per-agent statechart. */
  statechart: z.array(StatechartStateSchema).optional(),
  health: DashboardHealthSchema.optional(),
  /** Newest first. */
  alerts: z.array(DashboardAlertSchema).optional(),
  charts: z.array(PriceChartSchema).optional(),
});

export type DashboardPosition = z.infer<typeof DashboardPositionSchema>;
export type EquityPoint = z.infer<typeof EquityPointSchema>;
export type DashboardAccount = z.infer<typeof DashboardAccountSchema>;
export type DashboardOrder = z.infer<typeof DashboardOrderSchema>;
export type DashboardState = z.infer<typeof DashboardStateSchema>;
export type DashboardAlert = z.infer<typeof DashboardAlertSchema>;
export type PricePoint = z.infer<typeof PricePointSchema>;
export type PriceChart = z.infer<typeof PriceChartSchema>;
export type ChartFill = z.infer<typeof ChartFillSchema>;
export type PastRun = z.infer<typeof PastRunSchema>;
export type StatechartState = z.infer<typeof StatechartStateSchema>;
