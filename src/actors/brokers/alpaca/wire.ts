/**
 * Alpaca's trading API on the wire (snake_case, decimals as strings), the fields we read, as zod
 * schemas; everything else passes through. Checked against the official SDK 4.0.2's models
 * (src/trading/models/{Order,Position,Account,TradingActivities}.ts) and its trade-update mapper
 * (src/streaming/types.ts `mapTradeUpdate`).
 */
import { z } from 'zod';

const Decimal = z.string().regex(/^-?\d+(\.\d+)?$/, { error: 'expected a decimal string' });
const Instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: 'expected an RFC-3339 instant' });

export const WireOrderSchema = z.looseObject({
  id: z.string().min(1),
  client_order_id: z.string(),
  symbol: z.string(),
  side: z.string(),
  type: z.string(),
  qty: Decimal.nullable(),
  filled_qty: Decimal,
  filled_avg_price: Decimal.nullable(),
  limit_price: Decimal.nullable().optional(),
  status: z.string(),
  created_at: Instant,
  updated_at: Instant.nullable().optional(),
});
export type WireOrder = z.infer<typeof WireOrderSchema>;

export const WirePositionSchema = z.looseObject({
  symbol: z.string(),
  qty: Decimal,
  qty_available: Decimal.optional(),
  side: z.string(),
  avg_entry_price: Decimal,
});
export type WirePosition = z.infer<typeof WirePositionSchema>;

export const WireAccountSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  currency: z.string().optional(),
  cash: Decimal,
  buying_power: Decimal,
  equity: Decimal.optional(),
  account_number: z.string().optional(),
  trading_blocked: z.boolean().optional(),
  account_blocked: z.boolean().optional(),
});
export type WireAccount = z.infer<typeof WireAccountSchema>;

/** A FILL activity; its id is `<time>::<execution id>`. */
export const WireFillActivitySchema = z.looseObject({
  id: z.string(),
  activity_type: z.literal('FILL'),
  transaction_time: Instant,
  type: z.string(),
  price: Decimal,
  qty: Decimal,
  side: z.string(),
  symbol: z.string(),
  order_id: z.string(),
  cum_qty: Decimal,
  leaves_qty: Decimal.optional(),
});
export type WireFillActivity = z.infer<typeof WireFillActivitySchema>;

export const WireTradeUpdateSchema = z.looseObject({
  event: z.string(),
  execution_id: z.string().nullable().optional(),
  order: WireOrderSchema,
  timestamp: Instant.optional(),
  price: Decimal.nullable().optional(),
  qty: Decimal.nullable().optional(),
  position_qty: Decimal.nullable().optional(),
});
export type WireTradeUpdate = z.infer<typeof WireTradeUpdateSchema>;

/** One day of GET /v2/calendar: a trading day with its regular hours (New York time, "HH:MM"); closed days are absent. */
export const WireCalendarDaySchema = z.looseObject({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  open: z.string().regex(/^\d{2}:\d{2}$/),
  close: z.string().regex(/^\d{2}:\d{2}$/),
});
export type WireCalendarDay = z.infer<typeof WireCalendarDaySchema>;

export const WireErrorSchema = z.looseObject({ code: z.number().optional(), message: z.string() });

/** Stream frames the client reacts to. */
export const StreamFrameSchema = z.looseObject({
  stream: z.string().optional(),
  action: z.string().optional(),
  data: z.unknown().optional(),
});
export const AuthorizationDataSchema = z.looseObject({ status: z.string(), action: z.string().optional() });
export const ListeningDataSchema = z.looseObject({ streams: z.array(z.string()) });

/** Whole shares from Alpaca's decimal text ("5", "5.0"); a fractional quantity is refused. */
export function wholeShares(text: string | null | undefined): number {
  const n = Number(text ?? '0');
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`expected whole shares, got ${JSON.stringify(text)}`);
  return n;
}
