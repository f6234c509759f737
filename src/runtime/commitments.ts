/**
 * Cash already promised to buys that are open (queued for the next open, resting
 * limits, unfilled remainders): the ledger only moves cash on fills, so without
 * this the cash-reserve check would let a queued buy and the next one spend the
 * same cash. Valued at the limit price, else the latest quote, else nothing (an
 * order without any price cannot be valued; the venue's own cash check remains).
 */
import { Dec, dec } from '../domain/money.js';
import type { EngineRuntime } from './engine-runtime.js';
import { openOrders } from './open-orders.js';

export function committedBuyCash(runtime: Pick<EngineRuntime, 'actor'>, signature: string, priceOf: (symbol: string) => string | undefined): Dec {
  let total = dec(0);
  for (const open of openOrders(runtime)) {
    if (open.signature !== signature) continue;
    const order = open.context?.order;
    if (!order || order.side !== 'buy') continue;
    const remaining = order.quantity - (open.context?.filledQuantity ?? 0);
    const price = order.limitPrice ?? priceOf(order.symbol);
    if (remaining > 0 && price !== undefined) total = total.plus(dec(price).times(remaining));
  }
  return total;
}
