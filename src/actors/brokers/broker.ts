/**
 * The broker interface every broker implements (simulated, Alpaca, Futu, EastMoney):
 * submit, cancel, order status by client order id, positions, balance, and a
 * stream of order updates. Outcomes of submit/cancel arrive on `updates$` as the
 * same messages the order machine consumes; the promise only says the request
 * was handed over (or throws a TemporaryError-like error when it could not be).
 *
 * `brokerActor(broker)` (broker-actor.ts) adapts any Broker to the `broker` system
 * actor of the engine.
 */
import type { Observable } from 'rxjs';
import type { TradingHours } from '../../domain/clock-events.js';
import type { OrderEstimate } from '../../domain/fees.js';
import type { Message } from '../../domain/messages.js';
import type { OrderIntent, OrderRequest } from '../../domain/orders.js';

export type BrokerUpdate = Message<'broker.accepted' | 'broker.rejected' | 'broker.fill' | 'broker.cancelled' | 'broker.expired'>;
export type BrokerStatus = Omit<Message<'broker.status'>, 'type' | 'tsEvent'>;

export interface BrokerPosition {
  readonly symbol: string;
  readonly quantity: number;
  /** Shares that may be sold now (T+1 holds back today's buys on A-shares). */
  readonly sellable: number;
}

export interface BrokerBalance {
  /** Decimal string in the account currency. */
  readonly cash: string;
}

export interface Broker {
  submit(order: OrderRequest): Promise<void>;
  cancel(clientOrderId: string): Promise<void>;
  status(clientOrderId: string): Promise<BrokerStatus>;
  positions(account: string): Promise<BrokerPosition[]>;
  balance(account: string): Promise<BrokerBalance>;
  /**
   * What the real account may still buy now (decimal string), open orders already held back: a
   * broker that knows it says so, and risk checks every buy against it (`BUYING_POWER`).
   */
  buyingPower?(account: string): Promise<string>;
  readonly updates$: Observable<BrokerUpdate>;
}

/**
 * A venue that can say, before an order is sent, what it would do with it now, by its own
 * rules (the simulated broker does; a real broker adapter may not, and risk then prices
 * orders from the latest quote and the configured fee table):
 * - `estimate(intent)`: the fill price and the fees (undefined: the venue has no price for
 *   the symbol now, or the intent is malformed; the venue itself would refuse it).
 * - `hours(at)`: whether an order sent at `at` trades at once, and when it next would (the
 *   exchange calendar for a real exchange; AI-Trader's venue trades at every session).
 */
export interface OrderEstimates {
  estimate(intent: Pick<OrderIntent, 'side' | 'symbol' | 'quantity'> & { readonly type?: OrderIntent['type'] | undefined; readonly limitPrice?: string | undefined }): OrderEstimate | undefined;
  readonly hours: TradingHours;
}
