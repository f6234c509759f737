/**
 * The engine's `broker` system actor: adapts any Broker (simulated, Alpaca, Futu, ...) to the
 * messages the order machine speaks (docs/machines.md).
 *
 * - `broker.submit { order, replyTo }`: remembers `replyTo` for the client order id, then calls
 *   `broker.submit(order)`. Outcomes arrive on the broker's `updates$` and are delivered to the
 *   order's `replyTo` (normally `order:<clientOrderId>`), looked up with `system.get` at
 *   delivery time.
 * - `broker.cancel { clientOrderId, replyTo }`: the same, with `broker.cancel`.
 * - `broker.queryStatus { clientOrderId, replyTo }`: `broker.status(cid)` is answered to
 *   `replyTo` as `broker.status` with `tsEvent` from the injected clock.
 * - A broker call that throws or rejects (connection trouble: the outcome is UNKNOWN) is told
 *   to that order as `broker.disconnected`, so it reconciles by status; it is never turned
 *   into a rejection.
 *
 * If `updates$` errors (the stream broke), every order it has an address for is told
 * `broker.disconnected`.
 *
 * An update for a client order id this actor has no `replyTo` for (e.g. after a restart, or a
 * fill produced by the venue's own time step) goes to `order:<clientOrderId>`. A recipient
 * that no longer exists (a finished order) is skipped. The subscription to `updates$` ends
 * when the actor stops; answers of calls still in flight then are dropped.
 */
import { fromCallback } from 'xstate';
import { orderSystemId } from '../../domain/ids.js';
import type { AnyMessage, Message } from '../../domain/messages.js';
import type { Broker } from './broker.js';

type Outgoing = Message<'broker.accepted' | 'broker.rejected' | 'broker.fill' | 'broker.cancelled' | 'broker.expired' | 'broker.status' | 'broker.disconnected'>;

export function brokerActor(broker: Broker, now: () => number) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    let stopped = false;
    const replyTo = new Map<string, string>();

    const deliver = (clientOrderId: string, event: Outgoing): void => {
      if (stopped) return;
      const to = replyTo.get(clientOrderId) ?? orderSystemId(clientOrderId);
      system.get(to)?.send(event);
    };

    const disconnected = (clientOrderId: string): void => deliver(clientOrderId, { type: 'broker.disconnected', tsEvent: now() });

    /** Run a broker call; a synchronous throw or a rejected promise means "outcome unknown". */
    const call = <T>(clientOrderId: string, run: () => Promise<T>, then?: (value: T) => void): void => {
      let pending: Promise<T>;
      try {
        pending = run();
      } catch {
        disconnected(clientOrderId);
        return;
      }
      pending.then(
        (value) => {
          if (!stopped) then?.(value);
        },
        () => disconnected(clientOrderId),
      );
    };

    const subscription = broker.updates$.subscribe({
      next: (update) => {
        deliver(update.clientOrderId, update);
        // Terminal answers: the address is no longer needed (a later one falls back to order:<cid>).
        if (update.type === 'broker.cancelled' || update.type === 'broker.expired') replyTo.delete(update.clientOrderId);
      },
      // The stream broke: outcomes of everything in flight are unknown; every order we know reconciles.
      error: () => {
        for (const cid of [...replyTo.keys()]) disconnected(cid);
      },
    });

    receive((m) => {
      switch (m.type) {
        case 'broker.submit': {
          const cid = m.order.clientOrderId;
          replyTo.set(cid, m.replyTo);
          call(cid, () => broker.submit(m.order));
          break;
        }
        case 'broker.cancel':
          replyTo.set(m.clientOrderId, m.replyTo);
          call(m.clientOrderId, () => broker.cancel(m.clientOrderId));
          break;
        case 'broker.queryStatus':
          replyTo.set(m.clientOrderId, m.replyTo);
          call(
            m.clientOrderId,
            () => broker.status(m.clientOrderId),
            (status) => deliver(m.clientOrderId, { type: 'broker.status', ...status, tsEvent: now() }),
          );
          break;
        default:
          break;
      }
    });

    return () => {
      stopped = true;
      subscription.unsubscribe();
    };
  });
}
