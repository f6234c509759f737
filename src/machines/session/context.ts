/**
 * The session machine's data: its input, its persisted context and the pure
 * functions that build the context updates and the messages it sends. Nothing
 * here performs I/O or reads a clock: time comes only from the `tsEvent` of the
 * event being handled.
 *
 * Invariants (see docs/machines.md, "Session machine"):
 * - The context is plain JSON (it lives in persisted snapshots).
 * - `deadline.key` is `<step>#<n>` with `n = deadlineCount`, unique per wait.
 * - `orderIndex` counts the intents sent to risk; the client order id of the
 *   pending intent is `clientOrderId(signature, market, at, orderIndex)`.
 * - `intentCount` counts every intent the agent produced, refused ones included;
 *   it is the `step` of the next `agent.decide`.
 */
import { clientOrderId, sessionSystemId } from '../../domain/ids.js';
import type { Frequency, Market } from '../../domain/markets.js';
import type {
  AccountView,
  MarketView,
  Message,
  SessionError,
  SessionOutcome,
  SessionStep,
} from '../../domain/messages.js';
import type { OrderIntent, OrderResult } from '../../domain/orders.js';
import { renderReason, type ReasonCode } from '../../domain/reasons.js';

export interface SessionBudgets {
  readonly fetchingMs: number;
  readonly analyzingMs: number;
  readonly decidingMs: number;
  readonly executingMs: number;
  readonly recordingMs: number;
}

export interface SessionInput {
  readonly sessionId: string;
  readonly signature: string;
  readonly market: Market;
  readonly frequency: Frequency;
  /** The session instant, ISO with offset. */
  readonly at: string;
  readonly atMs: number;
  readonly enabled: boolean;
  /** Whether the exchange trades continuously at `at` (passed on to the orders). */
  readonly marketOpen: boolean;
  readonly nextOpenMs: number;
  readonly budgets: SessionBudgets;
  /** Intents the agent may send to risk in one session; later ones are refused locally. */
  readonly maxIntents: number;
}

export interface Deadline {
  readonly key: string;
  readonly atMs: number;
}

export interface SessionContext {
  /** The input, kept whole (`market` there is the exchange; `market` here is the view). */
  readonly input: SessionInput;
  readonly market: MarketView | undefined;
  readonly account: AccountView | undefined;
  /** What happened to each intent so far, in order; told to the agent on every decide. */
  readonly results: OrderResult[];
  readonly pendingIntent: OrderIntent | undefined;
  readonly clientOrderId: string | undefined;
  readonly orderIndex: number;
  readonly intentCount: number;
  readonly deadline: Deadline | undefined;
  readonly deadlineCount: number;
  readonly error: SessionError | undefined;
  readonly summary: string | undefined;
  /** Why the agent ended the session as HOLD (from `agent.done`), if it did. */
  readonly holdReason?: ReasonCode | undefined;
  /** Set when a final state is entered; also the machine's output. */
  readonly outcome: SessionOutcome | undefined;
}

export type SessionEvent =
  | Message<'session.start'>
  | Message<'resume'>
  | Message<'marketData.fetched'>
  | Message<'marketData.failed'>
  | Message<'ledger.account'>
  | Message<'ledger.failed'>
  | Message<'ledger.recorded'>
  | Message<'agent.intent'>
  | Message<'agent.done'>
  | Message<'agent.failed'>
  | Message<'risk.approved'>
  | Message<'risk.rejected'>
  | Message<'order.result'>
  | Message<'clock.deadline'>;

export type FinalStatus = SessionOutcome['status'];

export const initialContext = (input: SessionInput): SessionContext => ({
  input,
  market: undefined,
  account: undefined,
  results: [],
  pendingIntent: undefined,
  clientOrderId: undefined,
  orderIndex: 0,
  intentCount: 0,
  deadline: undefined,
  deadlineCount: 0,
  error: undefined,
  summary: undefined,
  outcome: undefined,
});

export const ownSystemId = (context: SessionContext): string => sessionSystemId(context.input.sessionId);

const budgetOf = (context: SessionContext, step: SessionStep): number => context.input.budgets[`${step}Ms`];

/** A new wait: the next unique key, due `budget` after the event that entered the step. */
export function nextDeadline(context: SessionContext, step: SessionStep, tsEvent: number) {
  const deadlineCount = context.deadlineCount + 1;
  return { deadlineCount, deadline: { key: `${step}#${deadlineCount}`, atMs: tsEvent + budgetOf(context, step) } };
}

/** Accept an intent: it gets the next order index and its client order id. */
export function acceptIntent(context: SessionContext, intent: OrderIntent) {
  const orderIndex = context.orderIndex + 1;
  const { signature, market, at } = context.input;
  return {
    orderIndex,
    intentCount: context.intentCount + 1,
    pendingIntent: intent,
    clientOrderId: clientOrderId(signature, market, at, orderIndex),
  };
}

/** An intent beyond `maxIntents`, answered locally; it never gets an order index. */
export function refuseIntent(context: SessionContext, intent: OrderIntent) {
  const result: OrderResult = {
    clientOrderId: '',
    intent,
    status: 'denied',
    filledQuantity: 0,
    fees: '0',
    reason: 'MAX_ORDERS_PER_SESSION',
    message: renderReason('MAX_ORDERS_PER_SESSION', `at most ${context.input.maxIntents} orders per session`),
  };
  return { intentCount: context.intentCount + 1, results: [...context.results, result] };
}

/** Close the pending intent with `result`. */
export function settleIntent(context: SessionContext, result: OrderResult) {
  return { results: [...context.results, result], pendingIntent: undefined, clientOrderId: undefined };
}

export function riskDenial(context: SessionContext, event: Message<'risk.rejected'>): OrderResult {
  return {
    clientOrderId: event.clientOrderId,
    intent: required(context.pendingIntent, 'pendingIntent'),
    status: 'denied',
    filledQuantity: 0,
    fees: '0',
    reason: event.reason,
    message: event.message,
  };
}

/** The error a step fails with: its deadline, or the failure an answering actor reported. */
export function stepError(context: SessionContext, step: SessionStep, event: SessionEvent): SessionError {
  if (event.type === 'clock.deadline') {
    return {
      step,
      reason: 'DEADLINE',
      message: `${step} did not finish within its budget of ${budgetOf(context, step)} ms (deadline ${event.key})`,
    };
  }
  const detail = 'message' in event ? event.message : event.type;
  return { step, reason: 'ACTOR_FAILED', message: `${event.type}: ${detail}` };
}

export function outcomeOf(context: SessionContext, status: FinalStatus, reason?: ReasonCode): SessionOutcome {
  const { sessionId, signature, at } = context.input;
  return {
    sessionId,
    signature,
    at,
    status,
    ...(reason ? { reason } : {}),
    ...(!reason && context.holdReason ? { reason: context.holdReason } : {}),
    ...(context.error ? { error: context.error } : {}),
    ...(context.error?.reason ? { reason: context.error.reason } : {}),
    results: context.results,
    ...(context.summary !== undefined ? { summary: context.summary } : {}),
  };
}

export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`session machine invariant broken: ${what} is missing`);
  return value;
}

// ---------------------------------------------------------------------------
// Messages

export function marketDataFetch(context: SessionContext): Message<'marketData.fetch'> {
  const { sessionId, signature, at } = context.input;
  return { type: 'marketData.fetch', sessionId, signature, at, replyTo: ownSystemId(context) };
}

export function ledgerGetAccount(context: SessionContext): Message<'ledger.getAccount'> {
  const { sessionId, signature, at } = context.input;
  return { type: 'ledger.getAccount', sessionId, signature, at, replyTo: ownSystemId(context) };
}

export function agentDecide(context: SessionContext): Message<'agent.decide'> {
  const { sessionId, signature, at } = context.input;
  return {
    type: 'agent.decide',
    sessionId,
    signature,
    at,
    step: context.intentCount,
    market: required(context.market, 'market'),
    account: required(context.account, 'account'),
    results: context.results,
    replyTo: ownSystemId(context),
  };
}

export function riskCheck(context: SessionContext): Message<'risk.check'> {
  const { sessionId, signature, at } = context.input;
  return {
    type: 'risk.check',
    sessionId,
    signature,
    at,
    clientOrderId: required(context.clientOrderId, 'clientOrderId'),
    intent: required(context.pendingIntent, 'pendingIntent'),
    replyTo: ownSystemId(context),
  };
}

export function enginePlaceOrder(context: SessionContext, tsEvent: number): Message<'engine.placeOrder'> {
  const { sessionId, signature, marketOpen, nextOpenMs } = context.input;
  const order = { ...required(context.pendingIntent, 'pendingIntent'), clientOrderId: required(context.clientOrderId, 'clientOrderId'), signature };
  // What the agent saw: an order queued for the next open is protected from a gap around it.
  const decisionPrice = context.market?.quotes[order.symbol]?.price;
  return { type: 'engine.placeOrder', sessionId, order, marketOpen, nextOpenMs, ...(decisionPrice ? { decisionPrice } : {}), tsEvent };
}

export function ledgerRecordSession(context: SessionContext): Message<'ledger.recordSession'> {
  return { type: 'ledger.recordSession', outcome: outcomeOf(context, 'completed'), replyTo: ownSystemId(context) };
}

export function clockSchedule(context: SessionContext): Message<'clock.schedule'> {
  const { key, atMs } = required(context.deadline, 'deadline');
  return { type: 'clock.schedule', target: ownSystemId(context), atMs, key };
}

export function monitorAlert(context: SessionContext, tsEvent: number): Message<'monitor.alert'> {
  const { sessionId, signature } = context.input;
  const error = required(context.error, 'error');
  const reason = error.reason ? `${error.reason}: ` : '';
  return {
    type: 'monitor.alert',
    level: 'critical',
    code: 'SESSION_FAILED',
    message: `session ${sessionId} failed in ${error.step}: ${reason}${error.message}`,
    signature,
    sessionId,
    tsEvent,
  };
}

export function sessionFinished(context: SessionContext, tsEvent: number): Message<'session.finished'> {
  return { type: 'session.finished', outcome: required(context.outcome, 'outcome'), tsEvent };
}
