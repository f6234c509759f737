/**
 * The answers the deterministic test actors give a session, one call each. Every
 * answer is built from the request the actor actually received (its session id,
 * decision step, client order id, deadline key) and delivered to the address
 * that request names, as the real actors do. Time advances by the harness's
 * `now()`; a deadline arrives at its own `atMs`.
 */
import type { AccountView, MarketView } from '../../../src/domain/messages.js';
import type { OrderIntent, OrderRequest, OrderResult } from '../../../src/domain/orders.js';
import type { ReasonCode } from '../../../src/domain/reasons.js';
import type { SessionEvent } from '../../../src/machines/session.machine.js';
import { ACCOUNT, BUY, filled, SUMMARY, VIEW } from './session-fixtures.js';
import type { SessionHarness } from './session-harness.js';

export const FAILURES = {
  marketData: 'quote feed down',
  ledgerAccount: 'store unavailable',
  ledgerRecord: 'batch write failed',
  agent: 'model returned garbage',
} as const;

export const RISK_REJECTION = { reason: 'MAX_POSITION_RATIO', message: 'MAX_POSITION_RATIO: 12% > 10%' } as const;

export function driver(h: SessionHarness) {
  return {
    /** The engine starts the session. */
    start: (): SessionEvent => h.send({ type: 'session.start', tsEvent: h.now() }),
    /** The engine resumes it after a restore. */
    resume: (): SessionEvent => h.send({ type: 'resume', tsEvent: h.now() }),
    fetched: (view: MarketView = VIEW) =>
      h.answer('marketData', 'marketData.fetch', (r) => ({ type: 'marketData.fetched', sessionId: r.sessionId, view, tsEvent: h.now() })),
    fetchFailed: () =>
      h.answer('marketData', 'marketData.fetch', (r) => ({ type: 'marketData.failed', sessionId: r.sessionId, message: FAILURES.marketData, tsEvent: h.now() })),
    account: (account: AccountView = ACCOUNT) =>
      h.answer('ledger', 'ledger.getAccount', (r) => ({ type: 'ledger.account', sessionId: r.sessionId, account, tsEvent: h.now() })),
    accountFailed: () =>
      h.answer('ledger', 'ledger.getAccount', (r) => ({ type: 'ledger.failed', sessionId: r.sessionId, message: FAILURES.ledgerAccount, tsEvent: h.now() })),
    intent: (intent: OrderIntent = BUY) =>
      h.answer('agent', 'agent.decide', (r) => ({ type: 'agent.intent', sessionId: r.sessionId, step: r.step, intent, tsEvent: h.now() })),
    done: (summary: string = SUMMARY) =>
      h.answer('agent', 'agent.decide', (r) => ({ type: 'agent.done', sessionId: r.sessionId, summary, tsEvent: h.now() })),
    agentFailed: () =>
      h.answer('agent', 'agent.decide', (r) => ({ type: 'agent.failed', sessionId: r.sessionId, message: FAILURES.agent, tsEvent: h.now() })),
    approve: () =>
      h.answer('risk', 'risk.check', (r) => ({ type: 'risk.approved', sessionId: r.sessionId, clientOrderId: r.clientOrderId, tsEvent: h.now() })),
    reject: (reason: ReasonCode = RISK_REJECTION.reason, message: string = RISK_REJECTION.message) =>
      h.answer('risk', 'risk.check', (r) => ({
        type: 'risk.rejected',
        sessionId: r.sessionId,
        clientOrderId: r.clientOrderId,
        reason,
        message,
        tsEvent: h.now(),
      })),
    /** The order actor (held by the engine) reports its result to the session. */
    orderResult: (build: (order: OrderRequest) => OrderResult = filled) =>
      h.answer('engine', 'engine.placeOrder', (r) => ({ type: 'order.result', sessionId: r.sessionId, result: build(r.order), tsEvent: h.now() })),
    recorded: () =>
      h.answer('ledger', 'ledger.recordSession', (r) => ({ type: 'ledger.recorded', sessionId: r.outcome.sessionId, tsEvent: h.now() })),
    recordFailed: () =>
      h.answer('ledger', 'ledger.recordSession', (r) => ({
        type: 'ledger.failed',
        sessionId: r.outcome.sessionId,
        message: FAILURES.ledgerRecord,
        tsEvent: h.now(),
      })),
    /** The clock delivers the last deadline the session asked for, at its instant. */
    deadline: () => h.answer('clock', 'clock.schedule', (r) => ({ type: 'clock.deadline', key: r.key, tsEvent: r.atMs })),
  };
}
export type SessionDriver = ReturnType<typeof driver>;

/** The waiting states, and how to reach each one from a fresh session. */
export const WAITING_STATES = ['fetching', 'analyzing', 'deciding', 'executing.checking', 'executing.ordering', 'recording'] as const;
export type WaitingState = (typeof WAITING_STATES)[number];

export function reach(d: SessionDriver, state: WaitingState): void {
  d.start();
  if (state === 'fetching') return;
  d.fetched();
  if (state === 'analyzing') return;
  d.account();
  if (state === 'deciding') return;
  if (state === 'recording') {
    d.done();
    return;
  }
  d.intent();
  if (state === 'executing.checking') return;
  d.approve();
}
