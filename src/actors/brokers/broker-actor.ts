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
 * Options (the runtime sets them; tests of the adapter alone may leave them out):
 * - `afterCommit`: every call to the broker waits until the commit that recorded the order's
 *   new state is durable (the outbox), so a broker never knows of an order the store forgets.
 * - `halted(signature)`: the kill switch, read at this edge for EVERY submit (new, re-placed
 *   after a restart, resumed): a halted signature's order is answered `broker.rejected`
 *   KILL_SWITCH and never reaches the broker, whatever was decided before.
 * - `inFlight`: broker calls are counted until their answer is delivered (the backtest driver
 *   waits for them before moving time on).
 * - `onAction('order' | 'cancel')`: told of every submit and cancel as it is asked, in the step
 *   that asks it (so the count commits with it): the account's program-trading tally.
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
import type { InFlight } from '../../domain/in-flight.js';
import type { Broker } from './broker.js';

export interface BrokerActorOptions {
  readonly afterCommit?: (effect: () => void) => void;
  readonly halted?: (signature: string) => { readonly reason: string; readonly at: string } | undefined;
  readonly inFlight?: InFlight;
  readonly onAction?: (action: 'order' | 'cancel') => void;
}

type Outgoing = Message<'broker.accepted' | 'broker.rejected' | 'broker.fill' | 'broker.cancelled' | 'broker.expired' | 'broker.status' | 'broker.disconnected'>;

export function brokerActor(broker: Broker, now: () => number, options: BrokerActorOptions = {}) {
  const later = options.afterCommit ?? ((effect: () => void) => effect());
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
      let release!: () => void;
      const answered = new Promise<void>((r) => (release = r));
      options.inFlight?.track(answered);
      later(() => {
        if (stopped) return release();
        let pending: Promise<T>;
        try {
          pending = run();
        } catch {
          disconnected(clientOrderId);
          return release();
        }
        pending
          .then(
            (value) => {
              if (!stopped) then?.(value);
            },
            () => disconnected(clientOrderId),
          )
          .finally(release);
      });
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
          options.onAction?.('order');
          call(cid, () => {
            // Read now, at the edge, after the commit: not what was decided before a restart.
            const halt = options.halted?.(m.order.signature);
            if (halt) {
              deliver(cid, { type: 'broker.rejected', clientOrderId: cid, reason: 'KILL_SWITCH', message: `KILL_SWITCH: trading is halted by the kill switch (${halt.reason}${halt.at ? `, at ${halt.at}` : ''}); the order was not sent`, tsEvent: now() });
              return Promise.resolve();
            }
            return broker.submit(m.order);
          });
          break;
        }
        case 'broker.cancel':
          replyTo.set(m.clientOrderId, m.replyTo);
          options.onAction?.('cancel');
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
