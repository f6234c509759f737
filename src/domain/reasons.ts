/**
 * Why an order was refused, rejected or ended: one closed table of reason codes,
 * each with the human sentence an agent (or a person) reads. Every rejection in
 * the system carries one of these codes, rendered as `CODE: message`.
 *
 * Who raises a code is part of its row: `venue` codes come from the broker (or the
 * simulated exchange rules), `risk` codes from pre-trade risk, `order` codes from
 * the order machine itself, `agent` codes from an agent that ended its session as
 * HOLD, `session` codes from the session machine.
 */
import { z } from 'zod';

export const REASONS = {
  // venue / exchange rules
  LOT_SIZE: { by: 'venue', text: 'quantity is not a whole number of lots' },
  T_PLUS_ONE: { by: 'venue', text: 'shares bought today cannot be sold before the next trading day' },
  PRICE_LIMIT: { by: 'venue', text: 'the stock is at its daily price limit' },
  INSUFFICIENT_CASH: { by: 'venue', text: 'not enough cash for the order and its fees' },
  INSUFFICIENT_POSITION: { by: 'venue', text: 'not enough shares to sell' },
  MARKET_CLOSED: { by: 'venue', text: 'the exchange is closed' },
  UNKNOWN_SYMBOL: { by: 'venue', text: 'no such symbol on this market' },
  NO_PRICE: { by: 'venue', text: 'no price is known for the symbol at this instant' },
  BROKER_REJECTED: { by: 'venue', text: 'the broker rejected the order' },
  DUPLICATE_CLIENT_ORDER_ID: { by: 'venue', text: 'the broker already has an order with this client order id' },
  // pre-trade risk
  MAX_POSITION_RATIO: { by: 'risk', text: 'the position would exceed its share of equity' },
  MIN_CASH_RESERVE: { by: 'risk', text: 'cash after the order would fall below the reserve' },
  DAILY_LOSS_LIMIT: { by: 'risk', text: 'the daily loss limit is reached; only sells are allowed today' },
  MAX_ORDER_NOTIONAL: { by: 'risk', text: 'the order value exceeds the per-order cap' },
  MAX_ORDERS_PER_SESSION: { by: 'risk', text: 'too many orders in this session' },
  MAX_ORDERS_PER_MINUTE: { by: 'risk', text: 'too many orders in the last minute' },
  ORDER_RATE_LIMIT: { by: 'risk', text: "the account's orders + cancels would pass its program-trading cap (per second or per day)" },
  DUPLICATE_ORDER: { by: 'risk', text: 'the same order was placed moments ago' },
  STALE_QUOTE: { by: 'risk', text: 'the latest quote is too old to price the order' },
  SYMBOL_NOT_ALLOWED: { by: 'risk', text: 'the symbol is not on the allow list or is on the deny list' },
  SYMBOL_NOT_TRADED: { by: 'risk', text: 'the symbol is not one of the symbols this run trades (data_source.symbols)' },
  KILL_SWITCH: { by: 'risk', text: 'trading is halted by the kill switch' },
  INVALID_ORDER: { by: 'risk', text: 'the order is malformed' },
  LIVE_RAMP_CAP: { by: 'risk', text: "the signature's capital in use would exceed its live ramp cap for today" },
  BUYING_POWER: { by: 'risk', text: "the broker account's buying power does not cover the order" },
  // protective orders (risk's own sells)
  STOP_LOSS: { by: 'risk', text: 'the price fell the stop-loss ratio below the cost basis' },
  TAKE_PROFIT: { by: 'risk', text: 'the price rose the take-profit ratio above the cost basis' },
  TRAILING_STOP: { by: 'risk', text: 'the price fell the trailing ratio below its high since the buy' },
  // order machine
  LIMIT_TIMEOUT: { by: 'order', text: 'the limit order did not fill in time and was cancelled' },
  CANCELLED_BY_REQUEST: { by: 'order', text: 'the order was cancelled on request' },
  EXPIRED: { by: 'order', text: 'the order expired at the broker' },
  RESUBMITS_EXHAUSTED: { by: 'order', text: 'the broker never took the order, however often it was submitted again; given up' },
  // agent: why a session ended as HOLD (the agent stopped deciding; orders already placed stand)
  LLM_TIMEOUT: { by: 'agent', text: 'the model did not answer before the session deadline' },
  LLM_HTTP_ERROR: { by: 'agent', text: 'the model endpoint kept failing after every retry' },
  LLM_BAD_TOOL_CALL: { by: 'agent', text: 'the model made a malformed or unknown tool call' },
  LLM_MAX_STEPS: { by: 'agent', text: 'the model did not finish within its maximum number of steps' },
  LLM_BUDGET: { by: 'agent', text: 'the session spent its token or cost budget' },
  LLM_RESUME_MISMATCH: { by: 'agent', text: 'after a restart the saved transcript did not match the session; held rather than guess' },
  MODULE_FAILED: { by: 'agent', text: 'the strategy module threw an error' },
  MODULE_TIMEOUT: { by: 'agent', text: 'the strategy module did not answer before its deadline' },
  MODULE_BAD_OUTPUT: { by: 'agent', text: 'the strategy module returned something that is not a list of valid order intents' },
  // session machine
  DEADLINE: { by: 'session', text: 'the step did not finish before its deadline' },
  ACTOR_FAILED: { by: 'session', text: 'an actor the step depends on failed' },
  PREVIOUS_SESSION_RUNNING: { by: 'session', text: 'the previous session of this agent is still running' },
  AGENT_DISABLED: { by: 'session', text: 'the agent is disabled in the config' },
  AGENT_PAUSED: { by: 'session', text: 'the agent is paused (control API, CLI `pause` or Telegram `/pause`): no new session until it is resumed' },
  NOT_A_TRADING_INSTANT: { by: 'session', text: 'the instant is not a trading instant of the schedule' },
} as const satisfies Record<string, { by: 'venue' | 'risk' | 'order' | 'agent' | 'session'; text: string }>;

export type ReasonCode = keyof typeof REASONS;
export const ReasonCodeSchema = z.enum(Object.keys(REASONS) as [ReasonCode, ...ReasonCode[]]);

/** `CODE: detail` (or the table's sentence when there is no detail). */
export function renderReason(code: ReasonCode, detail?: string): string {
  return `${code}: ${detail ?? REASONS[code].text}`;
}
