/**
 * Cash already promised to buys that are open (queued for the next open, resting
 * limits, unfilled remainders): the ledger only moves cash on fills, so without
 * this the cash-reserve check would let a queued buy and the next one spend the
 * same cash. Valued at the limit price, else the latest quote, else nothing (an
 * order without any price cannot be valued; the venue's own cash check remains).
 */
import { Dec, dec } from '../domain/money.js';
import type { OrderRequest } from '../domain/orders.js';
import { orderSystemId } from '../domain/ids.js';
import type { EngineRuntime } from './engine-runtime.js';

interface OrderChildContext {
  readonly order?: OrderRequest;
  readonly filledQuantity?: number;
}

export function committedBuyCash(runtime: Pick<EngineRuntime, 'actor'>, signature: string, priceOf: (symbol: string) => string | undefined): Dec {
  const snap = runtime.actor.getSnapshot();
  let total = dec(0);
  for (const [cid, open] of Object.entries(snap.context.openOrders)) {
    if (open.signature !== signature) continue;
    const child = snap.children[orderSystemId(cid)]?.getSnapshot() as { context?: OrderChildContext } | undefined;
    const order = child?.context?.order;
    if (!order || order.side !== 'buy') continue;
    const remaining = order.quantity - (child?.context?.filledQuantity ?? 0);
    const price = order.limitPrice ?? priceOf(order.symbol);
    if (remaining > 0 && price !== undefined) total = total.plus(dec(price).times(remaining));
  }
  return total;
}
