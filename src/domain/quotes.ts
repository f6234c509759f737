/**
 * A live quote as the streams deliver it (WebSocket, polling adapters, or bars
 * replayed as quotes in a backtest): one price for one symbol at one instant.
 * Validated with zod where it crosses a process boundary.
 */
import { z } from 'zod';
import { DecimalString } from './orders.js';

export const QuoteSchema = z.strictObject({
  symbol: z.string().min(1),
  /** Last trade (or mid) price, exact decimal string. */
  price: DecimalString,
  /** Exchange time of the quote, epoch ms. */
  atMs: z.number(),
  /** Where it came from: 'alpaca', 'sina', 'bar-open', 'bar-close', ... */
  source: z.string(),
});
export type Quote = z.infer<typeof QuoteSchema>;
