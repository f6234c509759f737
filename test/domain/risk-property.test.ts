/**
 * Property: through the approved path, no sequence of orders and prices breaks the position
 * ratio of a bought symbol, the cash reserve, or the daily-loss stop.
 *
 * A simulated account (exact decimals) sees generated prices and orders; only what risk
 * approves is applied, filled at the quote with the market's fees (a sell of more than is
 * held is refused as the venue would). After every approved order:
 * - a buy leaves cash >= reserve, the symbol at most max_single_position_ratio of the equity
 *   after the fill (all positions marked at their last price), and it happened on a day
 *   without a daily-loss breach;
 * - a sell leaves cash >= reserve, or at least no lower than before;
 * - cash never goes negative.
 * Prices moving afterwards may of course push a held position over the ratio; the limit binds
 * what risk lets an agent buy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FEE_RATES, orderFees, type FeeRates } from '../../src/domain/fees.js';
import { MARKET_RULES } from '../../src/domain/market-rules.js';
import type { Market } from '../../src/domain/markets.js';
import type { AccountView } from '../../src/domain/messages.js';
import { dec, type Dec } from '../../src/domain/money.js';
import { runChecks, type RiskLimits } from '../../src/domain/risk/checks.js';

const SYMBOLS: Record<Market, readonly string[]> = {
  cn: ['600000.SH', '600519.SH', '000001.SZ'],
  us: ['AAPL', 'MSFT', 'NVDA'],
};

const US_FEES: FeeRates = {
  ...DEFAULT_FEE_RATES,
  us: { commission_per_share: 0.005, commission_min: 1, sec_fee_rate: 0.0000278, taf_fee_per_share: 0.000166 },
};

/**
 * How big an order is: a number of lots, or aimed at a limit (the most lots the position ratio
 * or the cash reserve would allow before fees, give or take one), where a bug would show.
 */
const size = fc.oneof(
  fc.record({ kind: fc.constant('lots' as const), lots: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 300 })) }),
  fc.record({ kind: fc.constantFrom('ratio-edge' as const, 'cash-edge' as const, 'all-held' as const), delta: fc.integer({ min: -1, max: 1 }) }),
);

const step = fc.record({
  symbol: fc.integer({ min: 0, max: 2 }),
  /** Price in cents: 0.01 to 2000.00, often tiny (fees above the proceeds). */
  cents: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200_000 })),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  size,
  newDay: fc.boolean(),
});

const scenario = fc.record({
  market: fc.constantFrom('cn' as const, 'us' as const),
  initialCash: fc.integer({ min: 1_000, max: 2_000_000 }),
  ratioPct: fc.integer({ min: 1, max: 99 }),
  lossPct: fc.integer({ min: 1, max: 50 }),
  reserve: fc.integer({ min: 0, max: 200_000 }),
  steps: fc.array(step, { minLength: 1, maxLength: 60 }),
});

describe('risk property: the approved path keeps the limits', () => {
  it('no sequence of orders and prices breaks the position ratio, the cash reserve or the daily-loss stop', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const fees = s.market === 'cn' ? DEFAULT_FEE_RATES : US_FEES;
        const lot = MARKET_RULES[s.market].lotSize;
        const limits: RiskLimits = {
          max_single_position_ratio: s.ratioPct / 100,
          max_daily_loss_ratio: s.lossPct / 100,
          min_cash_reserve: s.reserve,
          max_orders_per_session: 1_000,
          max_orders_per_minute: 1_000,
          duplicate_window_seconds: 0,
        };
        const ratio = dec(limits.max_single_position_ratio);
        const reserve = dec(limits.min_cash_reserve);
        let cash = dec(s.initialCash);
        const held = new Map<string, number>();
        const last = new Map<string, Dec>();
        const equityNow = () => [...held].reduce((e, [sym, q]) => e.plus(last.get(sym)!.times(q)), cash);
        let sod = equityNow();
        let reducing = false;
        let approvedCount = 0;

        for (const st of s.steps) {
          if (st.newDay) {
            sod = equityNow();
            reducing = false;
          }
          const symbol = SYMBOLS[s.market][st.symbol]!;
          const price = dec(st.cents).dividedBy(100);
          last.set(symbol, price);
          const have = held.get(symbol) ?? 0;
          const lotsUpTo = (amount: Dec) => Math.max(0, amount.dividedBy(price.times(lot)).floor().toNumber());
          /** The most lots whose cost and fees fit in `amount`. */
          const lotsWithFees = (amount: Dec) => {
            const cost = (k: number) => price.times(k * lot).plus(orderFees(s.market, { side: 'buy', quantity: k * lot, notional: price.times(k * lot) }, fees).total);
            let lo = 0;
            let hi = lotsUpTo(amount);
            while (lo < hi) {
              const mid = Math.ceil((lo + hi) / 2);
              if (cost(mid).lte(amount)) lo = mid;
              else hi = mid - 1;
            }
            return lo;
          };
          const lots =
            st.size.kind === 'lots'
              ? st.size.lots
              : st.size.kind === 'ratio-edge'
                ? lotsUpTo(ratio.times(equityNow()).minus(price.times(have))) + st.size.delta
                : st.size.kind === 'cash-edge'
                  ? lotsWithFees(cash.minus(reserve)) + st.size.delta
                  : Math.floor(have / lot) + st.size.delta;
          const quantity = Math.max(1, lots) * lot;
          const account: AccountView = {
            signature: 'p',
            cash: cash.toFixed(),
            positions: Object.fromEntries([...held].map(([sym, q]) => [sym, { quantity: q, sellable: q, costBasis: '1' }])),
            equity: equityNow().toFixed(),
            startOfDayEquity: sod.toFixed(),
          };
          const lossBefore = sod.minus(equityNow());
          const verdict = runChecks({
            mode: 'backtest',
            market: s.market,
            signature: 'p',
            sessionId: 'p@x',
            intent: { side: st.side, symbol, quantity, type: 'market' },
            account,
            quote: { price, atMs: 0 },
            knownSymbol: true,
            fees,
            limits,
            staleQuoteSeconds: 30,
            nowMs: 0,
            ordersThisSession: 0,
            recent: [],
            gate: reducing ? 'reducing' : 'active',
          });
          if (verdict.lossBreached) reducing = true;
          if (!verdict.approved) continue;
          if (st.side === 'sell' && quantity > have) continue; // the venue refuses it
          approvedCount++;

          const notional = price.times(quantity);
          const fee = orderFees(s.market, { side: st.side, quantity, notional }, fees).total;
          const cashBefore = cash;
          if (st.side === 'buy') {
            cash = cash.minus(notional).minus(fee);
            held.set(symbol, have + quantity);
            const equity = equityNow();
            expect(cash.gte(reserve), `cash ${cash} >= reserve ${reserve}`).toBe(true);
            const value = price.times(held.get(symbol)!);
            expect(value.lte(ratio.times(equity)), `${symbol} ${value} <= ${ratio} x ${equity}`).toBe(true);
            expect(reducing).toBe(false);
            expect(lossBefore.lte(dec(limits.max_daily_loss_ratio).times(sod))).toBe(true);
          } else {
            cash = cash.plus(notional).minus(fee);
            if (have === quantity) held.delete(symbol);
            else held.set(symbol, have - quantity);
            expect(cash.gte(reserve) || cash.gte(cashBefore), `sell: cash ${cash} vs reserve ${reserve}, before ${cashBefore}`).toBe(true);
          }
          expect(cash.gte(0)).toBe(true);
        }
        return approvedCount >= 0;
      }),
      { numRuns: 1_000 },
    );
  });

  it('the generator does exercise approvals and refusals of every money rule', () => {
    // A sanity check on the property above: with these ranges, each rule both passes and fails somewhere.
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenario, (s) => {
        const fees = s.market === 'cn' ? DEFAULT_FEE_RATES : US_FEES;
        const symbol = SYMBOLS[s.market][0]!;
        for (const st of s.steps) {
          const price = dec(st.cents).dividedBy(100);
          const equity = dec(s.initialCash);
          const v = runChecks({
            mode: 'backtest',
            market: s.market,
            signature: 'p',
            sessionId: 'p@x',
            intent: { side: 'buy', symbol, quantity: (st.size.kind === 'lots' ? st.size.lots : 1) * MARKET_RULES[s.market].lotSize, type: 'market' },
            account: { signature: 'p', cash: equity.toFixed(), positions: {}, equity: equity.toFixed(), startOfDayEquity: equity.toFixed() },
            quote: { price, atMs: 0 },
            knownSymbol: true,
            fees,
            limits: { max_single_position_ratio: s.ratioPct / 100, max_daily_loss_ratio: 0.05, min_cash_reserve: s.reserve, max_orders_per_session: 9, max_orders_per_minute: 9, duplicate_window_seconds: 0 },
            staleQuoteSeconds: 30,
            nowMs: 0,
            ordersThisSession: 0,
            recent: [],
            gate: 'active',
          });
          seen.add(v.approved ? 'approved' : v.failure!.code);
        }
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual(['MAX_POSITION_RATIO', 'MIN_CASH_RESERVE', 'approved']);
  });
});
