import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RiskControlSchema } from '../../src/config/schema.js';
import { Dec, dec } from '../../src/domain/money.js';
import {
  evaluateStop,
  protectiveSell,
  sellableShares,
  stopLevels,
  stopRatiosFromConfig,
  triggeredBy,
  type StopPosition,
  type StopRatios,
} from '../../src/domain/risk/stop-loss.js';

const defaults = RiskControlSchema.parse({});
const SL8: StopRatios = { stopLoss: dec('0.08') };
const us = { market: 'us' as const };

/** 100 shares costing `cost` in total (fees included). */
const pos = (costBasis: string, extra: Partial<StopPosition> = {}): StopPosition => ({
  symbol: 'AAPL',
  quantity: 100,
  sellable: 100,
  costBasis: dec(costBasis),
  ...extra,
});

const trig = (p: StopPosition, price: string, ratios: StopRatios = SL8, rules: Parameters<typeof evaluateStop>[3] = us) =>
  evaluateStop(p, dec(price), ratios, rules)?.trigger;

describe('stop-loss rule: price <= cost x (1 - ratio)', () => {
  it('fires at exactly the stop price and below it, not one tick above', () => {
    // average cost 100.00, stop 92.00
    expect(trig(pos('10000'), '92.01')).toBeUndefined();
    expect(trig(pos('10000'), '92')).toBe('STOP_LOSS');
    expect(trig(pos('10000'), '92.00')).toBe('STOP_LOSS');
    expect(trig(pos('10000'), '91.99')).toBe('STOP_LOSS');
  });

  it('uses the cost basis with fees: average 100.05 -> stop 92.046', () => {
    expect(trig(pos('10005'), '92.05')).toBeUndefined();
    expect(trig(pos('10005'), '92.0461')).toBeUndefined();
    expect(trig(pos('10005'), '92.046')).toBe('STOP_LOSS');
    expect(trig(pos('10005'), '92.04')).toBe('STOP_LOSS');
  });

  it('is exact for a repeating average cost (no division in the decision)', () => {
    // 3 shares for 100 in total: average 33.333..., stop 92/3 = 30.666...
    const p: StopPosition = { symbol: 'X', quantity: 3, sellable: 3, costBasis: dec('100') };
    expect(trig(p, '30.6667')).toBeUndefined();
    expect(trig(p, '30.6666')).toBe('STOP_LOSS');
    // 3 x 30.6666666667 = 92.0000000001 > 92
    expect(trig(p, '30.6666666667')).toBeUndefined();
    expect(trig(p, '30.6666666666')).toBe('STOP_LOSS');
  });

  it('reads the config ratio as its decimal text: 7% of 100 is a stop at exactly 93', () => {
    const ratios = stopRatiosFromConfig({ ...defaults, stop_loss_ratio: 0.07 });
    expect(ratios.stopLoss!.toFixed()).toBe('0.07');
    expect(trig(pos('10000'), '93', ratios)).toBe('STOP_LOSS');
    expect(trig(pos('10000'), '93.0001', ratios)).toBeUndefined();
  });

  it('agrees with price <= average cost x (1 - ratio) computed to 100 digits (fast-check)', () => {
    const Wide = Dec.clone({ precision: 100 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 10_000_000 }), // cost basis in cents
        fc.integer({ min: 1, max: 99 }), // ratio in %
        fc.integer({ min: 1, max: 2_000_000 }), // price in 0.0001
        (quantity, costCents, ratioPct, priceUnits) => {
          const costBasis = dec(costCents).dividedBy(100);
          const price = dec(priceUnits).dividedBy(10_000);
          const ratio = dec(ratioPct).dividedBy(100);
          const threshold = new Wide(costBasis.toFixed()).dividedBy(quantity).times(new Wide(1).minus(ratio.toFixed()));
          const got = triggeredBy(stopLevels(costBasis, quantity, { stopLoss: ratio }), price) === 'STOP_LOSS';
          return got === new Wide(price.toFixed()).lte(threshold);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('is off when enable_stop_loss is false', () => {
    const ratios = stopRatiosFromConfig({ ...defaults, enable_stop_loss: false });
    expect(ratios.stopLoss).toBeUndefined();
    expect(trig(pos('10000'), '1', ratios)).toBeUndefined();
  });
});

describe('take-profit and trailing stop', () => {
  it('are off by default', () => {
    const ratios = stopRatiosFromConfig(defaults);
    expect(ratios).toEqual({ stopLoss: dec('0.08') });
    expect(trig(pos('10000'), '1000000', ratios)).toBeUndefined();
    expect(trig(pos('10000', { highWater: dec('500') }), '100', ratios)).toBeUndefined();
  });

  it('take-profit fires at price >= cost x (1 + ratio)', () => {
    const ratios = { ...SL8, takeProfit: dec('0.5') };
    expect(trig(pos('10000'), '149.99', ratios)).toBeUndefined();
    expect(trig(pos('10000'), '150', ratios)).toBe('TAKE_PROFIT');
    expect(trig(pos('10000'), '150.01', ratios)).toBe('TAKE_PROFIT');
    // may exceed 100%
    expect(trig(pos('10000'), '249.99', { takeProfit: dec('1.5') })).toBeUndefined();
    expect(trig(pos('10000'), '250', { takeProfit: dec('1.5') })).toBe('TAKE_PROFIT');
  });

  it('trailing stop fires at price <= high x (1 - ratio), and needs a high-water mark', () => {
    const ratios = { ...SL8, trailingStop: dec('0.1') };
    const p = pos('10000', { highWater: dec('120') });
    expect(trig(p, '108.01', ratios)).toBeUndefined();
    expect(trig(p, '108', ratios)).toBe('TRAILING_STOP');
    expect(trig(pos('10000'), '93', ratios)).toBeUndefined();
  });

  it('reports STOP_LOSS before TRAILING_STOP before TAKE_PROFIT when several hold', () => {
    const all = { stopLoss: dec('0.08'), trailingStop: dec('0.1'), takeProfit: dec('0.5') };
    expect(trig(pos('10000', { highWater: dec('120') }), '90', all)).toBe('STOP_LOSS');
    expect(trig(pos('10000', { highWater: dec('200') }), '170', all)).toBe('TRAILING_STOP');
    expect(trig(pos('10000', { highWater: dec('170') }), '170', all)).toBe('TAKE_PROFIT');
  });

  it('says why in the detail', () => {
    expect(evaluateStop(pos('10005'), dec('92'), SL8, us)!.detail).toBe('AAPL 92 <= stop 92.046 (average cost 100.05, -8%)');
    expect(evaluateStop(pos('10000', { highWater: dec('120') }), dec('100'), { trailingStop: dec('0.1') }, us)!.detail).toBe(
      'AAPL 100 <= trailing stop 108 (high since the buy 120, -10%)',
    );
  });
});

describe('what may be sold now (market rules)', () => {
  const cn = (prevClose?: string) => ({ market: 'cn' as const, today: '2025-10-10', ...(prevClose ? { prevClose: dec(prevClose) } : {}) });
  const cnPos = (extra: Partial<StopPosition> = {}): StopPosition => ({ symbol: '600519.SH', quantity: 800, sellable: 800, costBasis: dec('8800'), ...extra });

  it('T+1: lots bought before today are sellable, today\'s are not (A-shares only)', () => {
    const lots = [
      { date: '2025-10-09', quantity: 500 },
      { date: '2025-10-10', quantity: 300 },
    ];
    expect(sellableShares(lots, '2025-10-10', true)).toBe(500);
    expect(sellableShares(lots, '2025-10-11', true)).toBe(800);
    expect(sellableShares(lots, '2025-10-10', false)).toBe(800);
  });

  it('sells the sellable shares now and reports those held back by T+1', () => {
    const d = evaluateStop(cnPos({ sellable: 500 }), dec('10'), SL8, cn())!;
    expect(d).toMatchObject({ trigger: 'STOP_LOSS', quantity: 500, heldBack: 300 });
    expect(d.blocked).toBeUndefined();
  });

  it('an A-share bought today is blocked by T_PLUS_ONE (nothing to sell now)', () => {
    const d = evaluateStop(cnPos({ sellable: 0 }), dec('10'), SL8, cn())!;
    expect(d).toMatchObject({ trigger: 'STOP_LOSS', quantity: 0, heldBack: 800 });
    expect(d.blocked?.reason).toBe('T_PLUS_ONE');
    expect(d.blocked?.message).toMatch(/^T_PLUS_ONE: all 800 shares of 600519.SH were bought today \(2025-10-10\)/);
  });

  it('a stock at or below limit-down is blocked by PRICE_LIMIT; one tick above is not', () => {
    // cost 11.00, previous close 10.00: main board limit-down 9.00
    expect(evaluateStop(cnPos(), dec('9.00'), SL8, cn('10.00'))!.blocked?.reason).toBe('PRICE_LIMIT');
    expect(evaluateStop(cnPos(), dec('8.99'), SL8, cn('10.00'))!.blocked?.reason).toBe('PRICE_LIMIT');
    const above = evaluateStop(cnPos(), dec('9.01'), SL8, cn('10.00'))!;
    expect(above.blocked).toBeUndefined();
    expect(above.quantity).toBe(800);
    // ChiNext: +-20%, limit-down 8.00
    const chinext = cnPos({ symbol: '300750.SZ' });
    expect(evaluateStop(chinext, dec('9.00'), SL8, cn('10.00'))!.blocked).toBeUndefined();
    expect(evaluateStop(chinext, dec('8.00'), SL8, cn('10.00'))!.blocked?.reason).toBe('PRICE_LIMIT');
    // no previous close: no band check
    expect(evaluateStop(cnPos(), dec('9.00'), SL8, cn())!.blocked).toBeUndefined();
  });

  it('an odd remainder goes out whole in the one order', () => {
    expect(protectiveSell('cn', { symbol: '600519.SH', quantity: 250, sellable: 250, price: dec('10') })).toEqual({ quantity: 250, heldBack: 0 });
  });

  it('US: no T+1, no band', () => {
    expect(protectiveSell('us', { symbol: 'AAPL', quantity: 7, sellable: 7, price: dec('1'), prevClose: dec('100') })).toEqual({ quantity: 7, heldBack: 0 });
  });

  it('an empty position never fires', () => {
    expect(evaluateStop(pos('0', { quantity: 0, sellable: 0 }), dec('0.01'), SL8, us)).toBeUndefined();
  });

  it('keeps decimals exact (Dec, not floats)', () => {
    expect(stopLevels(dec('0.3'), 1, SL8).stopNotional!.equals(new Dec('0.276'))).toBe(true);
  });
});
