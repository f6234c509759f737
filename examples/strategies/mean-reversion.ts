/**
 * Mean reversion, as a strategy module (docs/strategies.md): at each session rank the symbols
 * by their return over the last `lookback` completed bars; buy the `buy_n` that fell most (if
 * they fell at all), and sell every held symbol that rose over the same bars (take the winner).
 * Buys share the cash above `keep_cash` equally, each at most `max_weight` of equity (risk's
 * max_single_position_ratio refuses more), in whole lots; sells go first in the list.
 *
 * It uses only the interface: the point-in-time view (no bar after the session instant is
 * reachable) and the account as the session found it. Backtest it on the bundled sample:
 *
 *   npm run cli -- backtest --config examples/strategies/mean-reversion.json --out out/mean-reversion
 */
import { defineStrategy, type Amount, type Intent, type SessionContext } from '../../src/strategy.js';

export interface MeanReversionParams {
  /** Bars the return is measured over (default 6: a trading day of hourly bars). */
  readonly lookback?: number;
  /** How many of the biggest losers to buy (default 2). */
  readonly buy_n?: number;
  /** Cash left alone, e.g. risk_control.min_cash_reserve plus room for fees (default 1100). */
  readonly keep_cash?: number;
  /** Largest position, as a fraction of equity (default 0.25, under risk's 0.3). */
  readonly max_weight?: number;
}

interface Ranked {
  readonly symbol: string;
  readonly change: Amount;
  readonly price: Amount;
}

/** Symbols with lookback + 1 completed bars and a price now, by return over the bars, worst first (ties by symbol). */
export function rank(ctx: SessionContext<MeanReversionParams>, lookback: number): Ranked[] {
  const out: Ranked[] = [];
  for (const symbol of ctx.view.symbols()) {
    const bars = ctx.view.bars(symbol, lookback + 1);
    const price = ctx.view.price(symbol);
    if (bars.length < lookback + 1 || !price) continue;
    const first = bars[0]!.close;
    if (first.lte(0)) continue;
    out.push({ symbol, change: bars[bars.length - 1]!.close.div(first).minus(1), price });
  }
  return out.sort((a, b) => a.change.comparedTo(b.change) || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}

export default defineStrategy<MeanReversionParams>({
  onSession(ctx): Intent[] {
    const lookback = ctx.params.lookback ?? 6;
    const buyN = ctx.params.buy_n ?? 2;
    const ranked = rank(ctx, lookback);
    const intents: Intent[] = [];
    const losers = ranked.filter((r) => r.change.lt(0)).slice(0, buyN);
    const buying = new Set(losers.map((r) => r.symbol));
    for (const r of ranked) {
      const held = ctx.account.positions[r.symbol];
      if (held && held.sellable > 0 && r.change.gt(0) && !buying.has(r.symbol)) {
        intents.push({ side: 'sell', symbol: r.symbol, quantity: held.sellable });
      }
    }
    const toBuy = losers.filter((r) => !ctx.account.positions[r.symbol]);
    if (toBuy.length === 0) return intents;
    const spendable = ctx.account.cash.minus(ctx.params.keep_cash ?? 1100);
    if (spendable.lte(0)) return intents;
    const cap = ctx.account.equity.times(ctx.params.max_weight ?? 0.25);
    const share = spendable.div(toBuy.length);
    const each = share.lt(cap) ? share : cap;
    for (const r of toBuy) {
      const lots = each.div(r.price.times(ctx.lotSize)).floor().toNumber();
      if (lots > 0) intents.push({ side: 'buy', symbol: r.symbol, quantity: lots * ctx.lotSize });
    }
    return intents;
  },
});
