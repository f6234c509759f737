/**
 * Orders as the machines see them: what an agent asks for (an intent), what goes
 * to a broker (a request with its client order id), the fills that come back, and
 * the result told to the agent. Everything here is plain JSON (decimal strings,
 * epoch ms, ISO instants) because it lives in persisted machine snapshots.
 */
import { z } from 'zod';
import { ReasonCodeSchema } from './reasons.js';

export const OrderSideSchema = z.enum(['buy', 'sell']);
export type OrderSide = z.infer<typeof OrderSideSchema>;

export const OrderTypeSchema = z.enum(['market', 'limit']);
export type OrderType = z.infer<typeof OrderTypeSchema>;

/** A decimal number as a string ("271.0884"), exact; parsed with `dec()` where math happens. */
export const DecimalString = z.string().regex(/^-?\d+(\.\d+)?$/, { error: 'expected a decimal string like "12.34"' });

/** Shares: a positive integer. */
export const QuantitySchema = z.number().int().positive();

/** What the agent asks for. */
export const OrderIntentSchema = z.strictObject({
  side: OrderSideSchema,
  symbol: z.string().min(1),
  quantity: QuantitySchema,
  type: OrderTypeSchema.default('market'),
  /** Required for limit orders. */
  limitPrice: DecimalString.optional(),
});
export type OrderIntent = z.infer<typeof OrderIntentSchema>;

/** What goes to a broker. */
export const OrderRequestSchema = OrderIntentSchema.extend({
  clientOrderId: z.string().min(1),
  signature: z.string().min(1),
});
export type OrderRequest = z.infer<typeof OrderRequestSchema>;

export const FillSchema = z.strictObject({
  /** Unique per execution at the broker: duplicates are recognised by it. */
  fillId: z.string().min(1),
  quantity: QuantitySchema,
  price: DecimalString,
  fee: DecimalString.default('0'),
  /** Epoch ms (injected clock / exchange time) of the execution. */
  atMs: z.number(),
});
export type Fill = z.infer<typeof FillSchema>;

export const OrderStatusSchema = z.enum([
  'new',
  'queued',
  'submitting',
  'accepted',
  'partially_filled',
  'filled',
  'cancelling',
  'cancelled',
  'rejected',
  'expired',
  'reconciling',
  // the broker never saw a submit: waiting out the back-off before submitting it again
  'backing_off',
]);
export type OrderStatus = z.infer<typeof OrderStatusSchema>;

export const TERMINAL_ORDER_STATUSES = ['filled', 'cancelled', 'rejected', 'expired'] as const satisfies readonly OrderStatus[];
export type TerminalOrderStatus = (typeof TERMINAL_ORDER_STATUSES)[number];

/** What the agent is told about an order it asked for (the tool call's answer). */
export const OrderResultSchema = z.strictObject({
  clientOrderId: z.string(),
  intent: OrderIntentSchema,
  /** Terminal status, `queued` (waiting for the next open) or `denied` (refused before any broker saw it). */
  status: z.enum(['filled', 'cancelled', 'rejected', 'expired', 'queued', 'denied']),
  filledQuantity: z.number().int().nonnegative(),
  /** Volume-weighted fill price, exact; absent when nothing filled. */
  averagePrice: DecimalString.optional(),
  fees: DecimalString,
  reason: ReasonCodeSchema.optional(),
  message: z.string().optional(),
  /** `queued`: when the order goes to the broker (ISO with the exchange's offset). */
  queuedUntil: z.string().optional(),
});
export type OrderResult = z.infer<typeof OrderResultSchema>;
