/**
 * The order lifecycle as data: for every status, the events it reacts to and the
 * statuses each event may lead to (guards pick among them). The order machine
 * (`src/machines/order.machine.ts`) is built to this table and a test asserts that
 * its edges equal it exactly, both ways. A status lists itself as a target when the
 * event is handled without leaving it (a partial fill while partially filled, a
 * resume while queued) or when the state is re-entered (reconciling asks again).
 * Events not listed are ignored in that status (a late `broker.accepted` while
 * cancelling, a duplicate fill, a stale deadline).
 *
 * Invariants the table encodes:
 * - nothing is ever submitted twice blindly: every unknown outcome (timeout,
 *   disconnect, restart) leads to `reconciling`, never back to `submitting`; only
 *   the broker saying `not_found` about an order we were submitting, with nothing
 *   filled, does, and only after a back-off (`backing_off`, a deadline that doubles
 *   with each resubmission, capped; the same client order id is sent again);
 * - a cancel request is honoured in every open status;
 * - a fill is accepted in every status where the order may be working at the
 *   broker (fills race cancels and reconciliations).
 */
import type { MessageType } from './messages.js';
import { TERMINAL_ORDER_STATUSES, type OrderStatus, type TerminalOrderStatus } from './orders.js';

/** Every event an order actor reacts to. */
export const ORDER_EVENT_TYPES = [
  'order.place',
  'order.cancel',
  'resume',
  'broker.accepted',
  'broker.rejected',
  'broker.fill',
  'broker.cancelled',
  'broker.expired',
  'broker.status',
  'broker.disconnected',
  'clock.deadline',
] as const satisfies readonly MessageType[];
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

export type OrderTransitionTable = Readonly<Record<OrderStatus, Partial<Record<OrderEventType, readonly OrderStatus[]>>>>;

export const ORDER_TRANSITIONS: OrderTransitionTable = {
  new: {
    // market open -> submitting; closed -> rejected (MARKET_CLOSED) or queued, per `outsideHours`
    'order.place': ['submitting', 'rejected', 'queued'],
    // a restore before the order was placed: place it now
    resume: ['submitting', 'rejected', 'queued'],
    'order.cancel': ['cancelled'],
  },
  queued: {
    // the clock delivers the next open
    'clock.deadline': ['submitting'],
    'order.cancel': ['cancelled'],
    // re-send the clock.schedule (the clock is idempotent by key)
    resume: ['queued'],
  },
  submitting: {
    'broker.accepted': ['accepted'],
    // DUPLICATE_CLIENT_ORDER_ID: the broker already has it (a resubmission after a crash) -> ask
    'broker.rejected': ['reconciling', 'rejected'],
    // some venues report a fill before (or instead of) the acknowledgement
    'broker.fill': ['filled', 'partially_filled'],
    'order.cancel': ['cancelling'],
    'clock.deadline': ['reconciling'],
    'broker.disconnected': ['reconciling'],
    resume: ['reconciling'],
  },
  accepted: {
    'broker.fill': ['filled', 'partially_filled'],
    // the venue may cancel on its own (A-share call auction leftovers, halts)
    'broker.cancelled': ['cancelled'],
    // day orders expire at the close
    'broker.expired': ['expired'],
    'order.cancel': ['cancelling'],
    // limit orders only: the limit timeout (limit-up/limit-down stocks often never fill)
    'clock.deadline': ['cancelling'],
    'broker.disconnected': ['reconciling'],
    resume: ['reconciling'],
  },
  partially_filled: {
    'broker.fill': ['filled', 'partially_filled'],
    'broker.cancelled': ['cancelled'],
    'broker.expired': ['expired'],
    'order.cancel': ['cancelling'],
    'clock.deadline': ['cancelling'],
    'broker.disconnected': ['reconciling'],
    resume: ['reconciling'],
  },
  cancelling: {
    'broker.cancelled': ['cancelled'],
    // a fill can race the cancel: the rest is still being cancelled, unless nothing is left
    'broker.fill': ['filled', 'cancelling'],
    'broker.expired': ['expired'],
    // the cancel was refused (too late, or unknown to the venue): ask what happened
    'broker.rejected': ['reconciling'],
    'clock.deadline': ['reconciling'],
    'broker.disconnected': ['reconciling'],
    resume: ['reconciling'],
  },
  reconciling: {
    // the broker's answer wins; not_found -> backing_off (then submitting) only when we were
    // submitting and nothing is filled, while resubmissions remain (then rejected,
    // RESUBMITS_EXHAUSTED; else cancelled + alert); an open order we were cancelling ->
    // cancelling again. Adapters map venue statuses to ours (Alpaca pending_new/new ->
    // accepted, Futu FILLED_PART -> partially_filled, pending_cancel -> cancelling)
    'broker.status': ['backing_off', 'filled', 'cancelled', 'rejected', 'expired', 'cancelling', 'partially_filled', 'accepted'],
    // fills are facts whatever the status answer will be
    'broker.fill': ['filled', 'reconciling'],
    // remembered: the answer then leads to cancelling (open) or cancelled (not found)
    'order.cancel': ['reconciling'],
    // the broker's refusal of our submit, come after we stopped waiting for it: its reason ends the order
    'broker.rejected': ['rejected'],
    // no answer in time, or a restore: ask again
    'clock.deadline': ['reconciling'],
    resume: ['reconciling'],
  },
  backing_off: {
    // the back-off is over: the same request, the same client order id
    'clock.deadline': ['submitting'],
    // the broker has none of it: nothing to cancel there
    'order.cancel': ['cancelled'],
    // re-send the clock.schedule (the clock is idempotent by key)
    resume: ['backing_off'],
    // the earlier submit did land after all (a late acknowledgement or fill): it is working
    'broker.accepted': ['accepted'],
    'broker.fill': ['filled', 'partially_filled'],
    // the earlier submit was refused after all (a late 403 / 422): its reason, not a resubmission
    'broker.rejected': ['rejected'],
  },
  filled: {},
  cancelled: {},
  rejected: {},
  expired: {},
};

export function isTerminal(status: string): status is TerminalOrderStatus {
  return (TERMINAL_ORDER_STATUSES as readonly string[]).includes(status);
}
