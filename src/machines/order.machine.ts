/**
 * The order machine: one actor per order, keyed by its deterministic client order
 * id, driving the broker actor until the order is terminal. Its edges are the
 * table in `src/domain/order-status.ts` (a test checks both ways); the protocol is
 * docs/machines.md "Order machine".
 *
 * Pure and event-driven: no invoke, no after, no delayed actions; time comes only
 * from events' `tsEvent`; deadlines are data (`context.deadline`) delivered by the
 * clock actor as `clock.deadline`. Messages go to actors by system id (see
 * ./order/outbox.ts): a missing broker, clock or ledger is a wiring bug and fails
 * the actor (the engine reports ORDER_ACTOR_CRASHED); a session that is gone, the
 * monitor and the parent are optional. Context is plain JSON (persisted).
 *
 * Never resubmits blindly: an unknown outcome goes to `reconciling`, which asks
 * `broker.queryStatus` and follows the answer. An order the broker never saw
 * (`not_found` while submitting, nothing filled) waits in `backing_off` for a
 * deadline that doubles with each resubmission (capped, `resubmitDelayMs`) before it
 * is submitted again; after MAX_RESUBMITS it is rejected (`RESUBMITS_EXHAUSTED`).
 */
import { enqueueActions, setup } from 'xstate';
import { SYSTEM_IDS } from '../domain/ids.js';
import type { Message } from '../domain/messages.js';
import type { OrderResult, OrderStatus } from '../domain/orders.js';
import {
  bookAfter,
  fillsOf,
  initialContext,
  intentOf,
  isForThisOrder,
  reconciledStatus,
  resubmitDelayMs,
  resultOf,
  type DeadlineWait,
  type OrderContext,
  type OrderEvent,
  type OrderMachineInput,
} from './order/context.js';
import { newFills } from './order/fills.js';
import { alert, post, toPeer, toSession, type Outgoing } from './order/outbox.js';

export type { OrderContext, OrderEvent, OrderMachineInput } from './order/context.js';
export { MissingSystemActorError } from './order/outbox.js';

type FinalStatus = Extract<OrderStatus, 'filled' | 'cancelled' | 'rejected' | 'expired'>;

const BUDGET: Record<Exclude<DeadlineWait, 'queued' | 'limit' | 'backoff'>, keyof OrderMachineInput> = {
  submitting: 'submitTimeoutMs',
  cancelling: 'cancelTimeoutMs',
  reconciling: 'queryRetryMs',
};

type CameFrom = NonNullable<OrderContext['cameFrom']>;
const toReconciling = (from: CameFrom) => ({ target: 'reconciling', actions: { type: 'markCameFrom', params: { from } } }) as const;

/** `order.place` (and `resume` before placing): open -> submit; closed -> reject or queue, per config. */
const PLACE = [
  { guard: 'marketOpen', target: 'submitting' },
  { guard: 'rejectsOutsideHours', target: 'rejected', actions: 'noteMarketClosed' },
  { target: 'queued' },
] as const;

/** `accepted` and `partially_filled`: working at the broker. */
const working = (partialFill: 'partially_filled' | undefined) =>
  ({
    'broker.fill': [
      { guard: 'fillCompletes', target: 'filled', actions: 'recordFills' },
      { guard: 'isNewFill', target: partialFill, actions: 'recordFills' },
    ],
    'broker.cancelled': { guard: 'forThisOrder', target: 'cancelled', actions: 'noteCancelled' },
    'broker.expired': { guard: 'forThisOrder', target: 'expired', actions: 'noteExpired' },
    'order.cancel': { target: 'cancelling', actions: 'noteCancelRequest' },
    // only limit orders have a deadline here: the limit timeout
    'clock.deadline': { guard: 'isCurrentDeadline', target: 'cancelling', actions: 'noteLimitTimeout' },
    'broker.disconnected': toReconciling('accepted'),
    resume: toReconciling('accepted'),
  }) as const;

/** One branch per status a `broker.status` answer can lead to (see `reconciledStatus`). */
const reconciledTo = <S extends OrderStatus, N extends 'noteRejection' | 'noteCancelled' | 'noteExpired' | 'countResubmit'>(status: S, ...notes: N[]) =>
  ({
    guard: { type: 'reconcilesTo', params: { status } },
    target: status,
    actions: ['recordFills', 'rememberBrokerOrderId', ...notes],
  }) as const;

export const orderMachine = setup({
  types: {} as { context: OrderContext; events: OrderEvent; input: OrderMachineInput },
  actions: {
    /** `broker.submit`: always the same request, with the order's own client order id. */
    sendSubmit: enqueueActions(({ context, enqueue, system }) => {
      const msg: Message<'broker.submit'> = { type: 'broker.submit', order: context.order, replyTo: context.selfId };
      post(enqueue, system, context.selfId, [toPeer(SYSTEM_IDS.broker, msg)]);
    }),
    sendCancel: enqueueActions(({ context, enqueue, system }) => {
      const { clientOrderId } = context.order;
      const msg: Message<'broker.cancel'> = { type: 'broker.cancel', clientOrderId, replyTo: context.selfId };
      post(enqueue, system, context.selfId, [toPeer(SYSTEM_IDS.broker, msg)]);
    }),
    askStatus: enqueueActions(({ context, enqueue, system }) => {
      const { clientOrderId } = context.order;
      const msg: Message<'broker.queryStatus'> = { type: 'broker.queryStatus', clientOrderId, replyTo: context.selfId };
      post(enqueue, system, context.selfId, [toPeer(SYSTEM_IDS.broker, msg)]);
    }),
    /** A new deadline `<wait>#<n>`; the limit timeout is kept if already pending, market orders have none. */
    scheduleDeadline: enqueueActions(({ context, event, enqueue, system }, params: { wait: DeadlineWait }) => {
      const { wait } = params;
      if (wait === 'limit' && context.order.type !== 'limit') {
        enqueue.assign({ deadline: undefined });
        return;
      }
      if (wait === 'limit' && context.deadline?.key.startsWith('limit#')) return;
      const atMs =
        wait === 'queued'
          ? context.nextOpenMs
          : wait === 'limit'
            ? (context.limitAtMs ?? event.tsEvent + context.limitTimeoutMs)
            : wait === 'backoff'
              ? event.tsEvent + resubmitDelayMs(context, context.resubmits ?? 1)
              : event.tsEvent + (context[BUDGET[wait]] as number);
      const seq = context.deadlineSeq + 1;
      const deadline = { key: `${wait}#${seq}`, atMs };
      enqueue.assign({ deadline, deadlineSeq: seq, ...(wait === 'limit' ? { limitAtMs: atMs } : {}) });
      const msg: Message<'clock.schedule'> = { type: 'clock.schedule', target: context.selfId, ...deadline };
      post(enqueue, system, context.selfId, [toPeer(SYSTEM_IDS.clock, msg)]);
    }),
    /** After a restore: ask the clock again for the pending deadline (same key: idempotent). */
    resendDeadline: enqueueActions(({ context, enqueue, system }) => {
      if (!context.deadline) return;
      const msg: Message<'clock.schedule'> = { type: 'clock.schedule', target: context.selfId, ...context.deadline };
      post(enqueue, system, context.selfId, [toPeer(SYSTEM_IDS.clock, msg)]);
    }),
    clearDeadline: enqueueActions(({ enqueue }) => enqueue.assign({ deadline: undefined })),
    /** Merge the event's new fills (by fillId), tell the ledger each once, alert an over-fill. */
    recordFills: enqueueActions(({ context, event, enqueue, system }) => {
      const fresh = newFills(context, fillsOf(event));
      if (fresh.length === 0) return;
      const book = bookAfter(context, event);
      const over = Math.max(0, book.filledQuantity - context.order.quantity);
      enqueue.assign({ ...book, fills: [...book.fills], overfilledBy: over });
      const { signature, clientOrderId } = context.order;
      const intent = intentOf(context.order);
      const outbox: Outgoing[] = fresh.map((fill) => {
        const msg: Message<'ledger.applyFill'> = { type: 'ledger.applyFill', signature, clientOrderId, intent, fill };
        return toPeer(SYSTEM_IDS.ledger, msg);
      });
      if (over > context.overfilledBy) {
        const text = `filled ${book.filledQuantity} of ${context.order.quantity} (${over} over): recorded as the broker reported`;
        outbox.push(alert(context, 'ORDER_OVERFILLED', text, event.tsEvent, 'critical'));
      }
      post(enqueue, system, context.selfId, outbox);
    }),
    rememberBrokerOrderId: enqueueActions(({ event, enqueue }) => {
      if ((event.type === 'broker.accepted' || event.type === 'broker.status') && event.brokerOrderId) {
        enqueue.assign({ brokerOrderId: event.brokerOrderId });
      }
    }),
    markCameFrom: enqueueActions(({ enqueue }, params: { from: 'submitting' | 'accepted' | 'cancelling' }) =>
      enqueue.assign({ cameFrom: params.from }),
    ),
    noteCancelRequest: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'order.cancel') enqueue.assign({ cancelReason: event.reason });
    }),
    noteLimitTimeout: enqueueActions(({ enqueue }) => enqueue.assign({ cancelReason: 'LIMIT_TIMEOUT' })),
    noteMarketClosed: enqueueActions(({ enqueue }) =>
      enqueue.assign({ reason: 'MARKET_CLOSED', message: 'the exchange is closed and orders outside hours are rejected' }),
    ),
    noteRejection: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'broker.rejected') enqueue.assign({ reason: event.reason, message: event.message });
      if (event.type === 'broker.status' && event.status === 'not_found') {
        const n = (context.resubmits ?? 0) + 1;
        enqueue.assign({ reason: 'RESUBMITS_EXHAUSTED', message: `the broker did not take the order after ${n} submissions with back-off (it answers not_found); given up` });
      } else if (event.type === 'broker.status') enqueue.assign({ reason: event.reason ?? 'BROKER_REJECTED', message: event.message });
    }),
    countResubmit: enqueueActions(({ context, enqueue }) => enqueue.assign({ resubmits: (context.resubmits ?? 0) + 1 })),
    noteCancelled: enqueueActions(({ context, event, enqueue, system }) => {
      const reason = event.type === 'order.cancel' ? event.reason : context.cancelReason;
      if (event.type === 'broker.status' && event.status === 'not_found') {
        const message = 'the broker has no order with this client order id';
        enqueue.assign({ reason, message });
        if (context.cameFrom !== 'cancelling') {
          const text = `${message}; recorded as cancelled`;
          post(enqueue, system, context.selfId, [alert(context, 'ORDER_NOT_FOUND', text, event.tsEvent)]);
        }
        return;
      }
      enqueue.assign({ reason, message: reason ? undefined : 'cancelled by the broker' });
    }),
    noteExpired: enqueueActions(({ enqueue }) => enqueue.assign({ reason: 'EXPIRED' })),
    /** Entering `queued`: the order waits as the engine shaped it (a market order gets its protective limit). */
    applyQueue: enqueueActions(({ context, enqueue }) => {
      if (context.queue) enqueue.assign({ order: context.queue.order });
    }),
    /** `order.result` queued to the session, once, on entering `queued`: when it goes out and how. */
    reportQueued: enqueueActions(({ context, event, enqueue, system }) => {
      const q = context.queue;
      const result = { ...resultOf(context, 'queued'), ...(q ? { message: q.message, queuedUntil: q.until } : {}) };
      const msg: Message<'order.result'> = { type: 'order.result', sessionId: context.sessionId, result, tsEvent: event.tsEvent };
      post(enqueue, system, context.selfId, [toSession(context, msg)]);
    }),
    /** Final: `order.result` to the session (if still there) and `order.finished` to the parent. */
    reportResult: enqueueActions(({ context, event, enqueue, system, self }, params: { status: FinalStatus }) => {
      const result: OrderResult = resultOf(context, params.status);
      const { tsEvent } = event;
      const msg: Message<'order.result'> = { type: 'order.result', sessionId: context.sessionId, result, tsEvent };
      post(enqueue, system, context.selfId, [toSession(context, msg)]);
      const { clientOrderId } = context.order;
      // the parent is the engine; an order run on its own (a tool, a test) has none
      if (self._parent) enqueue.sendParent({ type: 'order.finished', clientOrderId, result, tsEvent } satisfies Message<'order.finished'>);
    }),
  },
  guards: {
    marketOpen: ({ context }) => context.marketOpen,
    rejectsOutsideHours: ({ context }) => context.outsideHours === 'reject',
    forThisOrder: ({ context, event }) => isForThisOrder(context, event),
    isCurrentDeadline: ({ context, event }) => event.type === 'clock.deadline' && event.key === context.deadline?.key,
    isDuplicateClientOrderId: ({ context, event }) =>
      event.type === 'broker.rejected' && isForThisOrder(context, event) && event.reason === 'DUPLICATE_CLIENT_ORDER_ID',
    /** The broker's refusal of our submit, arriving after we stopped waiting for it (a slow or rate-limited broker). */
    submitRefusedLate: ({ context, event }) =>
      event.type === 'broker.rejected' && isForThisOrder(context, event) && event.reason !== 'DUPLICATE_CLIENT_ORDER_ID' && context.cameFrom === 'submitting',
    isNewFill: ({ context, event }) => isForThisOrder(context, event) && newFills(context, fillsOf(event)).length > 0,
    /** A new fill that brings the filled quantity to (or beyond) the order quantity. */
    fillCompletes: ({ context, event }) =>
      isForThisOrder(context, event) &&
      newFills(context, fillsOf(event)).length > 0 &&
      bookAfter(context, event).filledQuantity >= context.order.quantity,
    reconcilesTo: ({ context, event }, params: { status: OrderStatus }) =>
      event.type === 'broker.status' && isForThisOrder(context, event) && reconciledStatus(context, event) === params.status,
  },
}).createMachine({
  id: 'order',
  initial: 'new',
  context: ({ input }) => initialContext(input),
  states: {
    new: {
      on: {
        'order.place': PLACE,
        resume: PLACE,
        'order.cancel': { target: 'cancelled', actions: 'noteCancelled' },
      },
    },
    queued: {
      entry: ['applyQueue', { type: 'scheduleDeadline', params: { wait: 'queued' } }, 'reportQueued'],
      on: {
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'submitting' },
        'order.cancel': { target: 'cancelled', actions: 'noteCancelled' },
        resume: { actions: 'resendDeadline' },
      },
    },
    submitting: {
      entry: ['sendSubmit', { type: 'scheduleDeadline', params: { wait: 'submitting' } }],
      on: {
        'broker.accepted': { guard: 'forThisOrder', target: 'accepted', actions: 'rememberBrokerOrderId' },
        'broker.rejected': [
          { guard: 'isDuplicateClientOrderId', ...toReconciling('submitting') },
          { guard: 'forThisOrder', target: 'rejected', actions: 'noteRejection' },
        ],
        'broker.fill': [
          { guard: 'fillCompletes', target: 'filled', actions: 'recordFills' },
          { guard: 'isNewFill', target: 'partially_filled', actions: 'recordFills' },
        ],
        'order.cancel': { target: 'cancelling', actions: 'noteCancelRequest' },
        'clock.deadline': { guard: 'isCurrentDeadline', ...toReconciling('submitting') },
        'broker.disconnected': toReconciling('submitting'),
        resume: toReconciling('submitting'),
      },
    },
    accepted: {
      entry: { type: 'scheduleDeadline', params: { wait: 'limit' } },
      on: working('partially_filled'),
    },
    partially_filled: {
      entry: { type: 'scheduleDeadline', params: { wait: 'limit' } },
      on: working(undefined),
    },
    cancelling: {
      entry: ['sendCancel', { type: 'scheduleDeadline', params: { wait: 'cancelling' } }],
      on: {
        'broker.cancelled': { guard: 'forThisOrder', target: 'cancelled', actions: 'noteCancelled' },
        'broker.fill': [
          { guard: 'fillCompletes', target: 'filled', actions: 'recordFills' },
          { guard: 'isNewFill', actions: 'recordFills' },
        ],
        'broker.expired': { guard: 'forThisOrder', target: 'expired', actions: 'noteExpired' },
        'broker.rejected': { guard: 'forThisOrder', ...toReconciling('cancelling') },
        'clock.deadline': { guard: 'isCurrentDeadline', ...toReconciling('cancelling') },
        'broker.disconnected': toReconciling('cancelling'),
        resume: toReconciling('cancelling'),
      },
    },
    reconciling: {
      entry: ['askStatus', { type: 'scheduleDeadline', params: { wait: 'reconciling' } }],
      on: {
        'broker.status': [
          reconciledTo('backing_off', 'countResubmit'),
          reconciledTo('filled'),
          reconciledTo('cancelled', 'noteCancelled'),
          reconciledTo('rejected', 'noteRejection'),
          reconciledTo('expired', 'noteExpired'),
          reconciledTo('cancelling'),
          reconciledTo('partially_filled'),
          reconciledTo('accepted'),
        ],
        'broker.fill': [
          { guard: 'fillCompletes', target: 'filled', actions: 'recordFills' },
          { guard: 'isNewFill', actions: 'recordFills' },
        ],
        'order.cancel': { actions: ['noteCancelRequest', { type: 'markCameFrom', params: { from: 'cancelling' } }] },
        'broker.rejected': { guard: 'submitRefusedLate', target: 'rejected', actions: 'noteRejection' },
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'reconciling', reenter: true },
        resume: { target: 'reconciling', reenter: true },
      },
    },
    backing_off: {
      entry: { type: 'scheduleDeadline', params: { wait: 'backoff' } },
      on: {
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'submitting' },
        'order.cancel': { target: 'cancelled', actions: 'noteCancelled' },
        resume: { actions: 'resendDeadline' },
        'broker.rejected': { guard: 'submitRefusedLate', target: 'rejected', actions: 'noteRejection' },
        'broker.accepted': { guard: 'forThisOrder', target: 'accepted', actions: 'rememberBrokerOrderId' },
        'broker.fill': [
          { guard: 'fillCompletes', target: 'filled', actions: 'recordFills' },
          { guard: 'isNewFill', target: 'partially_filled', actions: 'recordFills' },
        ],
      },
    },
    filled: { type: 'final', entry: ['clearDeadline', { type: 'reportResult', params: { status: 'filled' } }] },
    cancelled: { type: 'final', entry: ['clearDeadline', { type: 'reportResult', params: { status: 'cancelled' } }] },
    rejected: { type: 'final', entry: ['clearDeadline', { type: 'reportResult', params: { status: 'rejected' } }] },
    expired: { type: 'final', entry: ['clearDeadline', { type: 'reportResult', params: { status: 'expired' } }] },
  },
});
