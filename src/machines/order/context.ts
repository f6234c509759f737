/**
 * The order machine's input, context and the pure functions its guards and actions
 * are made of. Everything in the context is plain JSON: it lives in persisted
 * snapshots and is restored after a restart.
 */
import type { Message } from '../../domain/messages.js';
import { orderSystemId } from '../../domain/ids.js';
import type { OrderEventType } from '../../domain/order-status.js';
import type { Fill, OrderIntent, OrderRequest, OrderResult, OrderStatus } from '../../domain/orders.js';
import type { QueuedOrder } from '../../domain/queued-orders.js';
import type { ReasonCode } from '../../domain/reasons.js';
import { addFills, EMPTY_FILL_BOOK, type FillBook } from './fills.js';

export type OrderEvent = Message<OrderEventType>;

export interface OrderMachineInput {
  readonly order: OrderRequest;
  readonly sessionId: string;
  /** The asking session's system id; it may have finished (and be gone) by the time we report. */
  readonly replyTo: string;
  readonly marketOpen: boolean;
  /** Epoch ms of the next open, used when the order is queued outside hours. */
  readonly nextOpenMs: number;
  readonly outsideHours: 'reject' | 'queue_next_open';
  /**
   * How the order waits when it is queued for the next open (the engine builds it: a market
   * order with its protective limit, and what the agent is told); absent: as it is.
   */
  readonly queue?: QueuedOrder | undefined;
  readonly submitTimeoutMs: number;
  readonly cancelTimeoutMs: number;
  /** How long a limit order may rest unfilled before it is cancelled (LIMIT_TIMEOUT). */
  readonly limitTimeoutMs: number;
  /** How long to wait for a `broker.status` answer before asking again. */
  readonly queryRetryMs: number;
  /** The first wait before submitting again an order the broker answered `not_found`; it doubles each time. Default RESUBMIT_BACKOFF. */
  readonly resubmitBackoffMs?: number | undefined;
  /** The longest such wait. Default RESUBMIT_BACKOFF. */
  readonly resubmitBackoffMaxMs?: number | undefined;
}

/** What a pending `clock.schedule` was for; the key is `<wait>#<n>`. */
export type DeadlineWait = 'queued' | 'submitting' | 'limit' | 'cancelling' | 'reconciling' | 'backoff';

export interface Deadline {
  readonly key: string;
  readonly atMs: number;
}

export interface OrderContext extends OrderMachineInput, FillBook {
  /** Our own system id (`order:<clientOrderId>`): where replies and deadlines come back to. */
  readonly selfId: string;
  readonly brokerOrderId?: string | undefined;
  /** Shares filled beyond the order quantity (the broker is the source of truth; alerted). */
  readonly overfilledBy: number;
  readonly deadline?: Deadline | undefined;
  /** Counter behind unique deadline keys. */
  readonly deadlineSeq: number;
  /** When the limit timeout falls (set once, kept across reconciliations). */
  readonly limitAtMs?: number | undefined;
  /** Submissions after the first (a broker that answered `not_found`), counted when the back-off starts; bounded by MAX_RESUBMITS. */
  readonly resubmits?: number | undefined;
  /** What the last `reconciling` was entered from: decides what `not_found` means. */
  readonly cameFrom?: 'submitting' | 'accepted' | 'cancelling' | undefined;
  /** Why we are cancelling (LIMIT_TIMEOUT or the requester's reason). */
  readonly cancelReason?: ReasonCode | undefined;
  /** Why the order ended, for the result. */
  readonly reason?: ReasonCode | undefined;
  readonly message?: string | undefined;
}

export function initialContext(input: OrderMachineInput): OrderContext {
  return {
    ...input,
    ...EMPTY_FILL_BOOK,
    fills: [],
    selfId: orderSystemId(input.order.clientOrderId),
    overfilledBy: 0,
    deadlineSeq: 0,
  };
}

export function intentOf(order: OrderRequest): OrderIntent {
  const { side, symbol, quantity, type, limitPrice } = order;
  return limitPrice === undefined ? { side, symbol, quantity, type } : { side, symbol, quantity, type, limitPrice };
}

export function resultOf(context: OrderContext, status: OrderResult['status']): OrderResult {
  const result: OrderResult = {
    clientOrderId: context.order.clientOrderId,
    intent: intentOf(context.order),
    status,
    filledQuantity: context.filledQuantity,
    fees: context.fees,
  };
  if (context.averagePrice !== undefined) result.averagePrice = context.averagePrice;
  if (context.reason !== undefined) result.reason = context.reason;
  if (context.message !== undefined) result.message = context.message;
  return result;
}

/** Fills an event carries (none for other events). */
export function fillsOf(event: OrderEvent): readonly Fill[] {
  if (event.type === 'broker.fill') return [event.fill];
  if (event.type === 'broker.status') return event.fills;
  return [];
}

export function isForThisOrder(context: OrderContext, event: OrderEvent): boolean {
  return !('clientOrderId' in event) || event.clientOrderId === context.order.clientOrderId;
}

/** The book after the event's fills are merged (the same book if none is new). */
export function bookAfter(context: OrderContext, event: OrderEvent): FillBook {
  return addFills(context, fillsOf(event));
}

/**
 * How often an order the broker keeps not finding is submitted again (same client order id)
 * before it is given up as rejected: a broker whose submit keeps failing while its status
 * answers must not be hammered for ever.
 */
export const MAX_RESUBMITS = 3;

/**
 * The back-off before each resubmission: `baseMs`, doubling, at most `maxMs` (2 s, 4 s, 8 s with
 * MAX_RESUBMITS 3). A submit the broker did not take (it was down, overloaded, or lost the
 * request) is not hammered at once: its next try waits, in market time, on the clock actor.
 */
export const RESUBMIT_BACKOFF = { baseMs: 2_000, maxMs: 60_000 } as const;

/** The wait before resubmission number `n` (1-based) of this order. */
export function resubmitDelayMs(context: Pick<OrderMachineInput, 'resubmitBackoffMs' | 'resubmitBackoffMaxMs'>, n: number): number {
  const base = context.resubmitBackoffMs ?? RESUBMIT_BACKOFF.baseMs;
  const max = context.resubmitBackoffMaxMs ?? RESUBMIT_BACKOFF.maxMs;
  return Math.min(max, base * 2 ** Math.max(0, n - 1));
}

/** `not_found` is believed (and the order submitted again) only for an order that was being submitted and has no fill. */
export function neverReachedBroker(context: OrderContext): boolean {
  return context.cameFrom === 'submitting' && context.filledQuantity === 0;
}

/**
 * Where a `broker.status` answer leads. The broker wins: terminal statuses are
 * followed as they are; `not_found` means "never reached the broker" only if we
 * were submitting and nothing was filled (then it is safe to submit again, with the
 * same client order id, after the back-off), otherwise the order is gone (cancelled,
 * alerted: a fill proves the broker had it, and a resubmission could double the
 * position); an open order is working again, unless we were cancelling it (cancel
 * again) or its fills already cover the quantity.
 */
export function reconciledStatus(context: OrderContext, event: Message<'broker.status'>): OrderStatus {
  const reported = event.status;
  if (reported === 'not_found') {
    if (!neverReachedBroker(context)) return 'cancelled';
    return (context.resubmits ?? 0) < MAX_RESUBMITS ? 'backing_off' : 'rejected';
  }
  if (reported === 'filled' || reported === 'cancelled' || reported === 'rejected' || reported === 'expired') return reported;
  const book = bookAfter(context, event);
  if (book.filledQuantity >= context.order.quantity) return 'filled';
  if (reported === 'cancelling' || context.cameFrom === 'cancelling') return 'cancelling';
  // still open at the broker: new / queued / submitting / accepted / partially_filled
  return book.filledQuantity > 0 ? 'partially_filled' : 'accepted';
}
