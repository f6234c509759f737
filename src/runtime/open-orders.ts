/**
 * The engine's open orders as their order machines hold them now (the running actors, not the
 * persisted snapshot): the one place that reads an order child's state and context, for risk's
 * committed cash, the monitor's and the backtest driver's "anything in flight", and the live
 * broker's start-up and account passes.
 */
import { orderSystemId } from '../domain/ids.js';
import type { OrderContext } from '../machines/order/context.js';
import type { EngineRuntime } from './engine-runtime.js';

export interface OpenOrder {
  readonly clientOrderId: string;
  readonly signature: string;
  /** The order machine's state (`submitting`, `accepted`, ...); undefined when its actor is gone. */
  readonly state: unknown;
  readonly context?: Pick<OrderContext, 'order' | 'filledQuantity' | 'fills' | 'brokerOrderId'> | undefined;
}

export function openOrders(runtime: Pick<EngineRuntime, 'actor'>): OpenOrder[] {
  const snap = runtime.actor.getSnapshot();
  return Object.entries(snap.context.openOrders).map(([clientOrderId, { signature }]) => {
    const child = snap.children[orderSystemId(clientOrderId)]?.getSnapshot() as { value?: unknown; context?: OpenOrder['context'] } | undefined;
    return { clientOrderId, signature, state: child?.value, context: child?.context };
  });
}
