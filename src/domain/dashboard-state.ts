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
});

export type DashboardPosition = z.infer<typeof DashboardPositionSchema>;
export type EquityPoint = z.infer<typeof EquityPointSchema>;
export type DashboardAccount = z.infer<typeof DashboardAccountSchema>;
export type DashboardOrder = z.infer<typeof DashboardOrderSchema>;
export type DashboardState = z.infer<typeof DashboardStateSchema>;
