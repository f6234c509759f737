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
import type { Message } from '../../domain/messages.js';
import type { OrderRequest } from '../../domain/orders.js';

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
  readonly updates$: Observable<BrokerUpdate>;
}
