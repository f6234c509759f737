/**
 * The rules agent: built-in strategies, no LLM, configured by `models[].agent`
 * (`kind: rules`, config/schema.ts). Each session it turns its strategy into target
 * weights, plans the rebalance (rebalance.ts) from the account at the session start
 * and the prices the point-in-time view knows at the session instant, and answers one
 * order per step: sells first (to free cash), then buys, then done.
 *
 * Strategies:
 * - `equal_weight`: hold every symbol of the universe at equal weights of equity.
 * - `momentum`: rank the universe by the return over the last `lookback` completed bars
 *   (close of the newest completed bar / close `lookback` bars before it - 1; a symbol
 *   needs lookback + 1 completed bars to be ranked), ties by symbol, and hold the best
 *   `top_n` at equal weights. The bars are the store's (daily or hourly, whatever the
 *   backtest loaded). With no symbol rankable yet (the first sessions of a backtest)
 *   the agent does nothing.
 *
 * The universe is `params.symbols`, or every symbol of the view; a symbol without a
 * price at the session instant is left out (and a held one is left alone).
 *
 * Everything it reads comes from the request and the view bound to the session instant,
 * so the plan is a pure function of them: a re-asked step gets the same answer, and bars
 * after the session instant (which the view never shows) cannot change it. Rejected
 * orders are recognised in `request.results` and not retried; buys are cut to the cash
 * the results show (see rebalance.ts).
 */
import type { RulesAgentSpec } from '../../config/schema.js';
import type { Market } from '../../domain/markets.js';
import type { Message } from '../../domain/messages.js';
import { Dec, dec } from '../../domain/money.js';
import type { PointInTimeView } from '../../domain/point-in-time.js';
import type { Decider, Decision } from './agent.js';
import {
  DEFAULT_REBALANCE,
  LOT_SIZES,
  nextPlannedOrder,
  planRebalance,
  type Holding,
  type RebalancePlan,
  type RebalanceSettings,
} from './rebalance.js';

export type RulesSpec = Pick<RulesAgentSpec, 'strategy' | 'params'>;

export interface RulesDeciderOptions {
  /** The market traded (lot size: cn 100, us 1). */
  readonly market: Market;
  /** Fraction of equity kept in cash for fees and slippage (default 0.01). */
  readonly cashBuffer?: number;
  /** Cash always kept, e.g. risk_control.min_cash_reserve (default 0). */
  readonly minCash?: number | string;
  /** Fees and slippage allowed per order, fraction of its value (default 0.003). */
  readonly feeAllowance?: number;
}

export interface MomentumScore {
  readonly symbol: string;
  /** Return over `lookback` completed bars, exact. */
  readonly momentum: Dec;
}

/** Universe: the configured symbols, or every symbol of the view; only those priced at the view's instant. */
export function universe(spec: RulesSpec, view: PointInTimeView): string[] {
  const symbols = spec.params.symbols ?? view.symbols();
  return [...new Set(symbols)].filter((s) => view.price(s) !== undefined).sort();
}

/** Symbols ranked by momentum, best first (ties by symbol); those without lookback + 1 completed bars are left out. */
export function momentumRanking(view: PointInTimeView, symbols: readonly string[], lookback: number): MomentumScore[] {
  const scores: MomentumScore[] = [];
  for (const symbol of symbols) {
    const bars = view.bars(symbol, lookback + 1);
    if (bars.length < lookback + 1) continue;
    const first = bars[0]!.close;
    if (first.lte(0)) continue;
    scores.push({ symbol, momentum: bars[bars.length - 1]!.close.div(first).minus(1) });
  }
  return scores.sort((a, b) => b.momentum.comparedTo(a.momentum) || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}

/** Relative target weights of the strategy at the view's instant, or undefined when it has nothing to go on. */
export function targetWeights(spec: RulesSpec, view: PointInTimeView): { weights: Record<string, number>; note: string } | { weights: undefined; note: string } {
  const symbols = universe(spec, view);
  if (spec.strategy === 'equal_weight') {
    if (symbols.length === 0) return { weights: undefined, note: 'no symbol of the universe has a price' };
    return { weights: Object.fromEntries(symbols.map((s) => [s, 1])), note: `equal_weight over ${symbols.length} symbols` };
  }
  const { lookback, top_n } = spec.params;
  const ranked = momentumRanking(view, symbols, lookback);
  if (ranked.length === 0) return { weights: undefined, note: `momentum: no symbol has ${lookback + 1} completed bars yet` };
  const top = ranked.slice(0, top_n).map((r) => r.symbol);
  return { weights: Object.fromEntries(top.map((s) => [s, 1])), note: `momentum top ${top.length} of ${ranked.length}: ${top.join(', ')}` };
}

export function rebalanceSettings(spec: RulesSpec, options: RulesDeciderOptions): RebalanceSettings {
  return {
    lot: LOT_SIZES[options.market],
    threshold: spec.params.rebalance_threshold,
    cashBuffer: options.cashBuffer ?? DEFAULT_REBALANCE.cashBuffer,
    minCash: dec(options.minCash ?? DEFAULT_REBALANCE.minCash),
    feeAllowance: options.feeAllowance ?? DEFAULT_REBALANCE.feeAllowance,
  };
}

/** The session's plan (undefined when the strategy has nothing to go on), from the request's account and the view. */
export function rulesPlan(
  spec: RulesSpec,
  account: Message<'agent.decide'>['account'],
  view: PointInTimeView,
  settings: RebalanceSettings,
): { plan: RebalancePlan | undefined; note: string } {
  const { weights, note } = targetWeights(spec, view);
  if (!weights) return { plan: undefined, note };
  const holdings: Record<string, Holding> = {};
  const prices = new Map<string, Dec>();
  for (const [symbol, p] of Object.entries(account.positions)) {
    holdings[symbol] = { quantity: p.quantity, sellable: p.sellable };
  }
  for (const symbol of new Set([...Object.keys(weights), ...Object.keys(holdings)])) {
    const point = view.price(symbol);
    if (point) prices.set(symbol, point.price);
  }
  return { plan: planRebalance({ cash: dec(account.cash), holdings, prices, weights }, settings), note };
}

export function rulesDecider(spec: RulesSpec, options: RulesDeciderOptions): Decider {
  const settings = rebalanceSettings(spec, options);
  // One plan per session: the plan is a pure function of the session's account and instant, and
  // every step of a session carries the same account object (the session's context), so later
  // steps reuse it (re-planning 101 symbols in decimals for each order was ~19% of a backtest).
  // A restored session carries a new object: planned again, to the same plan.
  const plans = new WeakMap<object, { readonly at: string; readonly planned: ReturnType<typeof rulesPlan> }>();
  const planOf = (request: Message<'agent.decide'>, view: PointInTimeView) => {
    const memo = plans.get(request.account);
    if (memo && memo.at === request.at) return memo.planned;
    const planned = rulesPlan(spec, request.account, view, settings);
    plans.set(request.account, { at: request.at, planned });
    return planned;
  };
  return {
    decide(request, view): Decision {
      const { plan, note } = planOf(request, view);
      if (!plan) return { kind: 'done', summary: `${note}: nothing to do` };
      const next = nextPlannedOrder(plan, dec(request.account.cash), request.results, settings);
      if (next.order) {
        const { side, symbol, quantity } = next.order;
        return { kind: 'intent', intent: { side, symbol, quantity, type: 'market' } };
      }
      const sells = plan.orders.filter((o) => o.side === 'sell').length;
      const buys = plan.orders.length - sells;
      const extra = [
        next.skippedForCash.length ? `${next.skippedForCash.length} skipped for cash (${next.skippedForCash.join(', ')})` : '',
        plan.droppedForCash.length ? `${plan.droppedForCash.length} not planned for cash (${plan.droppedForCash.join(', ')})` : '',
        plan.unpriced.length ? `unpriced, left alone: ${plan.unpriced.join(', ')}` : '',
      ].filter(Boolean);
      return {
        kind: 'done',
        summary: `${note}; planned ${sells} sells and ${buys} buys, asked ${next.asked}${extra.length ? `; ${extra.join('; ')}` : ''}`,
      };
    },
  };
}
