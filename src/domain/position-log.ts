/**
 * AI-Trader's `position.jsonl`: one record per action, with the positions (and
 * CASH) after it. Record 0 holds the starting positions. We read it (the replay
 * agent, golden tests) and write it (the ledger), in AI-Trader's exact format so
 * existing AI-Trader tooling can read our runs:
 *
 *   {"date": "2025-10-09", "id": 1, "this_action": {"action": "buy", "symbol": "600028.SH", "amount": 100},
 *    "positions": {"600519.SH": 0, ..., "CASH": 99471.0}}
 *
 * `date` is the session's label in exchange-local time: `YYYY-MM-DD` for daily runs,
 * `YYYY-MM-DD HH:mm:ss` for hourly ones. CASH is a JSON number (AI-Trader writes a
 * float); we write it rounded to the cent.
 */
import { z } from 'zod';

export const PositionActionSchema = z.strictObject({
  action: z.enum(['buy', 'sell', 'no_trade']),
  symbol: z.string(),
  amount: z.number().int().nonnegative(),
  /** Some AI-Trader versions also wrote the fill price. */
  price: z.number().optional(),
});
export type PositionAction = z.infer<typeof PositionActionSchema>;

export const PositionRecordSchema = z.strictObject({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$/, { error: 'expected "YYYY-MM-DD" or "YYYY-MM-DD HH:mm:ss"' }),
  id: z.number().int().nonnegative(),
  this_action: PositionActionSchema.optional(),
  /** Shares per symbol, plus CASH. */
  positions: z.record(z.string(), z.number()),
});
export type PositionRecord = z.infer<typeof PositionRecordSchema>;

export const CASH_KEY = 'CASH';
