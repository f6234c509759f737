/**
 * A broker with a real account behind it, as the live runtime drives it (src/runtime/live-broker.ts,
 * live-account.ts), whichever venue it is: Alpaca (alpaca/alpaca-broker.ts, its own stream) or a
 * venue adapter under the order tracker (polled-broker.ts: Futu OpenD, the A-share terminal
 * bridge, EastMoney). Beyond the engine's `Broker`: start / stop, the orders a restarted process
 * already follows, a catch-up the runtime can ask for, and what the account pass needs (cash,
 * positions, recent orders and their fills) in our words.
 */
import type { Observable } from 'rxjs';
import type { Fill } from '../../domain/orders.js';
import type { Broker, BrokerPosition } from './broker.js';

/** Trading must stop: the broker refused the credentials or the session (a 401, a failed unlock, an expired web session). */
export interface BrokerHalt {
  readonly source: string;
  readonly message: string;
  readonly tsEvent: number;
}

/** Activity on the account that is not ours: the user's own app, someone at the terminal. */
export interface ExternalActivity {
  readonly event: string;
  readonly clientOrderId: string;
  readonly orderId: string;
  readonly symbol: string;
  readonly side: string;
  readonly qty?: number;
  readonly price?: string;
  readonly tsEvent: number;
}

/** The broker's connection for updates (a stream, pushes, or the poll getting answers). */
export interface BrokerConnectionEvent {
  readonly type: 'listening' | 'disconnected' | 'unauthorized' | (string & {});
}

/** An order on the account, as the account pass reads it. */
export interface AccountOrder {
  /** Ours when it carries (or is mapped to) one of our client order ids; undefined when the broker's order has none we know. */
  readonly clientOrderId: string | undefined;
  readonly brokerOrderId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  readonly filledQuantity: number;
  /** The broker's own word for its status. */
  readonly status: string;
  readonly createdAtMs: number;
}

/** What a restarted process knows of an order of its own (its committed engine state). */
export interface KnownOrder {
  readonly brokerOrderId?: string | undefined;
  readonly quantity: number;
  readonly fills: readonly Fill[];
  /** The request as sent: a venue that cannot carry our client order id finds a lost answer's order by it. */
  readonly request?: { readonly symbol: string; readonly side: 'buy' | 'sell'; readonly limitPrice?: string | undefined } | undefined;
}

export interface AccountBroker extends Broker {
  /** "Alpaca", "Futu OpenD", ... for messages. */
  readonly venue: string;
  /** Connect and catch up every order known so far; rejects on refused credentials (then `halted`). */
  start(): Promise<void>;
  close(): void;
  /** Step 2 of the live start-up: an order the committed engine follows. */
  resumeOrder(clientOrderId: string, known: KnownOrder): void;
  /** Bring every order of ours not known to be over up to the broker's state; rejects when the broker could not be asked. */
  reconcileOrders(): Promise<void>;
  /** Every update learned so far has been handled. */
  settled(): Promise<void>;
  /** Fills emitted so far (an account read that saw this change raced a fill). */
  readonly fillsEmitted: number;
  readonly halted: Error | undefined;
  readonly halts$: Observable<BrokerHalt>;
  readonly external$: Observable<ExternalActivity>;
  readonly connection$: Observable<BrokerConnectionEvent>;
  /** The whole account's cash now (decimal string). */
  cash(): Promise<string>;
  positions(account?: string): Promise<BrokerPosition[]>;
  buyingPower(account?: string): Promise<string>;
  /** Orders (ours and others) created after `afterMs` or still open. */
  recentOrders(afterMs: number): Promise<AccountOrder[]>;
  /** For each order, its fills beyond the first `known` shares (an order of ours the engine did not follow). */
  fillsBeyond(wanted: readonly { readonly order: AccountOrder; readonly known: number }[]): Promise<Fill[][]>;
}
