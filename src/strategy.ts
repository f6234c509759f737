/**
 * The interface of a strategy written in TypeScript (or JavaScript): a module that exports
 * a `Strategy`, named in the config as `{ "kind": "module", "path": "my-strategy.ts" }`.
 * docs/strategies.md explains it with an example (examples/strategies/mean-reversion.ts).
 *
 * At each session the engine calls `onSession` with what the strategy may know at the session
 * instant (prices and completed bars as of it, never later ones) and the account as the session
 * found it; the intents it returns go, one at a time, through the same pre-trade risk and order
 * machine as every other agent's, in backtest, paper and live alike. A strategy that throws,
 * does not answer in time, or returns anything but a list of valid intents holds the session
 * (MODULE_FAILED, MODULE_TIMEOUT, MODULE_BAD_OUTPUT) and no order comes from that answer.
 *
 * Everything here is types plus one identity helper: a strategy file may import only types
 * (`import type`) and still be checked, so it loads the same from the compiled build or src/.
 */
import type { Decimal } from 'decimal.js';
import type { DateTime } from 'luxon';

/** Exact decimals (decimal.js): prices, cash, fees. `.toNumber()` when a float is good enough. */
export type Amount = Decimal;

/** A completed bar (its end is at or before the session instant). */
export interface StrategyBar {
  readonly symbol: string;
  /** When its first trade could happen. */
  readonly start: DateTime;
  /** When it completed. */
  readonly end: DateTime;
  readonly open: Amount;
  readonly high: Amount;
  readonly low: Amount;
  readonly close: Amount;
  /** Shares. */
  readonly volume: Amount;
}

/** The market as known at the session instant: nothing reachable here comes from after it. */
export interface MarketView {
  /** The instant the view is bound to (the session instant). */
  readonly at: DateTime;
  /** The symbols this run trades, sorted. */
  symbols(): string[];
  /** The latest price known at the instant (a started bar's open, or the last close), if any. */
  price(symbol: string): Amount | undefined;
  /** Completed bars, oldest first, at most `limit` of the most recent. */
  bars(symbol: string, limit?: number): readonly StrategyBar[];
  /** The close of the previous trading day, if known. */
  previousClose(symbol: string): Amount | undefined;
}

export interface StrategyPosition {
  readonly quantity: number;
  /** Shares that may be sold now (A-shares bought today are not: T+1). */
  readonly sellable: number;
  /** Average cost per share. */
  readonly costBasis: Amount;
}

/** The agent's account as the session found it (before its own orders). */
export interface StrategyAccount {
  readonly cash: Amount;
  readonly equity: Amount;
  readonly startOfDayEquity: Amount;
  /** Held symbols only. */
  readonly positions: Readonly<Record<string, StrategyPosition>>;
}

export interface SessionContext<P = Record<string, unknown>> {
  /** The session instant, in the exchange's zone. */
  readonly at: DateTime;
  readonly market: 'cn' | 'us';
  readonly frequency: 'daily' | 'hourly';
  /** The model's signature (its account). */
  readonly signature: string;
  /** Shares per lot: buys must be whole lots (cn 100, us 1). */
  readonly lotSize: number;
  readonly view: MarketView;
  readonly account: StrategyAccount;
  /** `models[].agent.params` of the config, as written. */
  readonly params: P;
}

/** An order the strategy asks for. Risk may refuse it and the venue reject it; `onFill` tells what filled. */
export interface Intent {
  readonly side: 'buy' | 'sell';
  readonly symbol: string;
  /** Whole shares, > 0 (cn: whole lots of 100 for buys). */
  readonly quantity: number;
  /** Default market. */
  readonly type?: 'market' | 'limit';
  /** Required for a limit order: a decimal string ("12.34") or an Amount. */
  readonly limitPrice?: string | Amount;
}

/** One of the session's orders that filled (wholly or in part). */
export interface StrategyFill {
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  /** Shares filled. */
  readonly quantity: number;
  /** Volume-weighted fill price. */
  readonly price: Amount;
  readonly fees: Amount;
  /** `filled`, or the end of a part-filled order (`cancelled`, `expired`). */
  readonly status: string;
  /** The session instant the order belongs to. */
  readonly at: DateTime;
}

/** A price the session fetched at its start, one per symbol. */
export interface StrategyQuote {
  readonly symbol: string;
  readonly price: Amount;
  /** When the price became known. */
  readonly at: DateTime;
  readonly source: string;
}

export interface Strategy<P = Record<string, unknown>> {
  /** Each session: the orders to place (possibly none). May be async (within `deadline_seconds`). */
  onSession(ctx: SessionContext<P>): readonly Intent[] | Promise<readonly Intent[]>;
  /** Each fill of an order of this session, as its result comes back (before the next order goes out). */
  onFill?(fill: StrategyFill, ctx: SessionContext<P>): void | Promise<void>;
  /** Each quote the session fetched, before `onSession`. */
  onQuote?(quote: StrategyQuote, ctx: SessionContext<P>): void | Promise<void>;
}

/** Identity: lets TypeScript infer and check a strategy (`export default defineStrategy({ onSession(ctx) { ... } })`). */
export function defineStrategy<P = Record<string, unknown>>(strategy: Strategy<P>): Strategy<P> {
  return strategy;
}
