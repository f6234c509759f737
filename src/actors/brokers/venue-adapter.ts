/**
 * What a real broker's protocol must give us, in our words, so that one order tracker
 * (polled-broker.ts) turns it into the broker updates the order machine consumes, with the same
 * guarantees for every venue that has no Alpaca-style stream of its own: Futu OpenD, an A-share
 * terminal bridge (easytrader's server shape), EastMoney's web session.
 *
 * An adapter is the protocol and nothing else: it sends what it is asked, lists what the account
 * has, and classes every failure once, at the edge, by what the caller must do (STYLE.md, Errors):
 * - `VenueRefused`: the broker said no to this order or cancel (lot size, no cash, a closed
 *   market); the order is rejected with `reason`. Never retried.
 * - `VenueUnavailable`: the request did not get an answer we can trust (a timeout, a dropped
 *   connection, a 5xx, a bridge not up). `outcomeKnown` true: the broker did not carry it out (a
 *   429, a refused connection), so sending again is safe; false: it may have, so the tracker asks
 *   (`orders()`) before anything is sent again.
 * - `VenueHalted`: the credentials or the session are refused (Futu's unlock failed, EastMoney's
 *   session expired, a bridge token refused): trading stops for every signature until a restart;
 *   never retried blindly (a retried bad password locks the account).
 *
 * Symbols are ours (`600519.SH`, `AAPL`); quantities whole shares; prices and cash decimal strings
 * exactly as the broker gave them (numbers the broker sends as strings stay strings).
 */
import type { Observable } from 'rxjs';
import type { OrderRequest } from '../../domain/orders.js';
import type { ReasonCode } from '../../domain/reasons.js';
import type { BrokerPosition } from './broker.js';

/** Where an order is, in the few words the tracker needs (each adapter maps its broker's statuses in a table). */
export type VenueOrderState =
  /** Known to the broker, not yet working at the exchange (Futu's waiting / submitting). */
  | 'pending'
  /** Working (submitted, partly filled). */
  | 'open'
  /** A cancel is on its way (the order may still fill). */
  | 'cancelling'
  | 'filled'
  | 'cancelled'
  | 'expired'
  | 'rejected';

export const TERMINAL_VENUE_STATES: ReadonlySet<VenueOrderState> = new Set(['filled', 'cancelled', 'expired', 'rejected']);

export interface VenueOrder {
  /** The broker's order number (Futu's orderID, the bridge's / EastMoney's entrust no.). */
  readonly brokerOrderId: string;
  /**
   * Our client order id where the broker carries it (Futu's `remark`); undefined where it cannot
   * (the bridge, EastMoney): the tracker maps the broker's number to ours.
   */
  readonly clientOrderId?: string | undefined;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
  /** The limit price of a limit order, as the broker has it. */
  readonly limitPrice?: string | undefined;
  /** Shares filled so far (cumulative). */
  readonly filledQuantity: number;
  /** Average price of those shares (decimal string); needed when the venue cannot list fills. */
  readonly avgFillPrice?: string | undefined;
  readonly state: VenueOrderState;
  /** The broker's own words for a rejection or a cancel (shown to the user). */
  readonly message?: string | undefined;
  /** The broker's own status word or number, for logs ("21", "已撤"). */
  readonly rawStatus?: string | undefined;
  readonly createdAtMs: number;
  readonly updatedAtMs?: number | undefined;
}

export interface VenueFill {
  /** Unique on the account (Futu's fillID, the bridge's / EastMoney's deal no.). */
  readonly fillId: string;
  readonly brokerOrderId: string;
  readonly quantity: number;
  readonly price: string;
  readonly atMs: number;
}

export interface VenueAccount {
  /** Cash in the account currency (decimal string). */
  readonly cash: string;
  /** What may be spent on a buy now, open orders held back, when the broker says so. */
  readonly buyingPower?: string | undefined;
}

export type VenuePush = { readonly kind: 'order'; readonly order: VenueOrder } | { readonly kind: 'fill'; readonly fill: VenueFill };

export interface VenueConnectionEvent {
  readonly type: 'listening' | 'disconnected';
  readonly message?: string;
}

export interface VenueAdapter {
  /** For messages: "Futu OpenD", "the terminal bridge", "EastMoney". */
  readonly name: string;
  /**
   * The broker keeps our client order id on the order (Futu's remark), so an order it does not list
   * certainly was not placed and may be sent again. Absent or false (the bridge, EastMoney): an
   * order whose submit's outcome is unknown and that is not found is never sent again (see
   * polled-broker.ts).
   */
  readonly carriesClientOrderId?: boolean;
  /** Connect, log in / unlock, subscribe to pushes; resolves once requests may be made. Throws VenueHalted on refused credentials. */
  connect(): Promise<void>;
  close(): void;
  /** Send the order; resolves with the broker's number once the broker took it. */
  place(order: OrderRequest): Promise<{ readonly brokerOrderId: string }>;
  /** Ask for a cancel; the outcome shows in `orders()` (or a push). */
  cancel(order: { readonly brokerOrderId: string; readonly clientOrderId: string }): Promise<void>;
  /** The account's orders of today (ours and others), every page. */
  orders(): Promise<VenueOrder[]>;
  /**
   * The account's fills of today, every page; absent where the venue cannot list them (Futu's
   * simulate environment): fills are then made from each order's cumulative quantity and average.
   */
  fills?(): Promise<VenueFill[]>;
  account(): Promise<VenueAccount>;
  /** The account's long positions (quantity and what may be sold now: T+1). */
  positions(): Promise<BrokerPosition[]>;
  /** Order and fill updates the broker pushes (Futu's UpdateOrder / UpdateOrderFill), where it pushes. */
  readonly pushes$?: Observable<VenuePush>;
  /** The push connection's state, where there is one (a reconnect makes the tracker catch up). */
  readonly connection$?: Observable<VenueConnectionEvent>;
}

export class VenueError extends Error {
  override readonly name: string = 'VenueError';
}

/** The broker refused this request; the order is rejected with `reason` (never sent again). */
export class VenueRefused extends VenueError {
  override readonly name = 'VenueRefused';
  constructor(
    message: string,
    readonly reason: ReasonCode = 'BROKER_REJECTED',
  ) {
    super(message);
  }
}

/** No answer we can trust. `outcomeKnown`: the broker certainly did not carry the request out. */
export class VenueUnavailable extends VenueError {
  override readonly name = 'VenueUnavailable';
  constructor(
    message: string,
    readonly outcomeKnown = false,
  ) {
    super(message);
  }
}

/** Credentials or session refused: trading stops until a restart; never retried. */
export class VenueHalted extends VenueError {
  override readonly name = 'VenueHalted';
}
