/**
 * Fixed data for session machine tests: one agent (`sig`) trading the A-share
 * daily session of 2025-10-09 09:35 Shanghai time.
 */
import { sessionId as makeSessionId, sessionSystemId } from '../../../src/domain/ids.js';
import type { AccountView, MarketView } from '../../../src/domain/messages.js';
import type { OrderIntent, OrderRequest, OrderResult } from '../../../src/domain/orders.js';
import type { SessionBudgets, SessionInput } from '../../../src/machines/session.machine.js';

export const SIGNATURE = 'sig';
export const AT = '2025-10-09T09:35:00+08:00';
export const T0 = Date.parse(AT);
export const SESSION_ID = makeSessionId(SIGNATURE, AT);
export const SESSION_SYSTEM_ID = sessionSystemId(SESSION_ID);
/** The client order id of the n-th intent that reaches risk in this session. */
export const orderId = (n: number): string => `${SIGNATURE}.20251009T0935.${n}`;

export const BUDGETS: SessionBudgets = {
  fetchingMs: 60_000,
  analyzingMs: 30_000,
  decidingMs: 300_000,
  executingMs: 120_000,
  recordingMs: 30_000,
};

export const NEXT_OPEN_MS = Date.parse('2025-10-10T09:30:00+08:00');

export function sessionInput(overrides: Partial<SessionInput> = {}): SessionInput {
  return {
    sessionId: SESSION_ID,
    signature: SIGNATURE,
    market: 'cn',
    frequency: 'daily',
    at: AT,
    atMs: T0,
    enabled: true,
    marketOpen: true,
    nextOpenMs: NEXT_OPEN_MS,
    budgets: BUDGETS,
    maxIntents: 1,
    ...overrides,
  };
}

export const VIEW: MarketView = {
  at: AT,
  quotes: { '600519': { price: '1453.20', at: '2025-10-09T09:34:00+08:00', source: 'test' } },
};

export const ACCOUNT: AccountView = {
  signature: SIGNATURE,
  cash: '1000000.00',
  positions: { '601318': { quantity: 1000, sellable: 1000, costBasis: '55.10' } },
  equity: '1055100.00',
  startOfDayEquity: '1055100.00',
};

export const BUY: OrderIntent = { side: 'buy', symbol: '600519', quantity: 100, type: 'market' };
export const SELL: OrderIntent = { side: 'sell', symbol: '601318', quantity: 500, type: 'limit', limitPrice: '56.00' };

export const SUMMARY = 'bought 100 600519';

/** What a broker that fills everything at once would report for `order`. */
export function filled(order: OrderRequest): OrderResult {
  const { clientOrderId, signature: _signature, ...intent } = order;
  return { clientOrderId, intent, status: 'filled', filledQuantity: intent.quantity, averagePrice: '1453.20', fees: '5.00' };
}

/** What an order queued for the next open reports. */
export function queued(order: OrderRequest): OrderResult {
  const { clientOrderId, signature: _signature, ...intent } = order;
  return { clientOrderId, intent, status: 'queued', filledQuantity: 0, fees: '0' };
}
