import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import {
  type Account,
  accountFromJson,
  accountToJson,
  applyFill,
  markToMarket,
  openAccount,
  PortfolioError,
  rollDay,
  sellable,
} from '../../src/domain/portfolio.js';

const costs = (a: Account) => Object.values(a.positions).reduce((s, p) => s.plus(p.costBasis), dec(0));
/** cash + cost basis of what is held - realised PnL: always the initial cash. */
const identity = (a: Account) => a.cash.plus(costs(a)).minus(a.realizedPnl);
const cents = (s: string) => BigInt(dec(s).times(100).toFixed()); // exact for cent amounts
const fromCents = (c: bigint) => dec(c.toString()).dividedBy(100);

/** Deterministic PRNG (mulberry32) for the long sequences. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('portfolio: buys and sells', () => {
  it('moves cash, cost basis, realised PnL and fees exactly', () => {
    let a = openAccount('100000');
    a = applyFill(a, { side: 'buy', symbol: '600028.SH', quantity: 100, price: '5.29', fee: '5.00', date: '2025-10-09' });
    expect(a.cash.toFixed()).toBe('99466');
    expect(a.positions['600028.SH']!.costBasis.toFixed()).toBe('534');
    a = applyFill(a, { side: 'buy', symbol: '600028.SH', quantity: 200, price: '5.35', fee: '5.00', date: '2025-10-10' });
    expect(a.cash.toFixed()).toBe('98391');
    expect(a.positions['600028.SH']).toMatchObject({ quantity: 300 });
    expect(a.positions['600028.SH']!.costBasis.toFixed()).toBe('1609');
    // sell 150 at 5.50, fee 5.53: proceeds 819.47, average cost 1609/300 x 150 = 804.5
    a = applyFill(a, { side: 'sell', symbol: '600028.SH', quantity: 150, price: '5.50', fee: '5.53', date: '2025-10-13' });
    expect(a.cash.toFixed()).toBe('99210.47');
    expect(a.realizedPnl.toFixed()).toBe('14.97');
    expect(a.positions['600028.SH']!.costBasis.toFixed()).toBe('804.5');
    expect(a.feesPaid.toFixed()).toBe('15.53');
    // close: the whole remaining cost goes out
    a = applyFill(a, { side: 'sell', symbol: '600028.SH', quantity: 150, price: '5.00', fee: '0', date: '2025-10-14' });
    expect(a.positions['600028.SH']).toBeUndefined();
    expect(a.realizedPnl.toFixed()).toBe('-39.53');
    expect(a.cash.toFixed()).toBe('99960.47');
    expect(identity(a).toFixed()).toBe('100000');
  });

  it('does not change its input (immutable)', () => {
    const a = openAccount('1000');
    const json = JSON.stringify(accountToJson(a));
    const b = applyFill(a, { side: 'buy', symbol: 'AAPL', quantity: 1, price: '100', date: '2025-10-01' });
    expect(JSON.stringify(accountToJson(a))).toBe(json);
    expect(b).not.toBe(a);
  });

  it('refuses to sell more than is held: the broker reported a fill the ledger cannot account for', () => {
    const a = applyFill(openAccount('1000'), { side: 'buy', symbol: 'AAPL', quantity: 2, price: '100', date: '2025-10-01' });
    expect(() => applyFill(a, { side: 'sell', symbol: 'AAPL', quantity: 3, price: '100', date: '2025-10-02' })).toThrow(PortfolioError);
    expect(() => applyFill(a, { side: 'sell', symbol: 'MSFT', quantity: 1, price: '100', date: '2025-10-02' })).toThrow(/only 0 held/);
    expect(() => applyFill(a, { side: 'buy', symbol: 'AAPL', quantity: 1.5, price: '100', date: '2025-10-02' })).toThrow(/whole number/);
    expect(() => applyFill(a, { side: 'buy', symbol: 'AAPL', quantity: 1, price: '100', fee: '-1', date: '2025-10-02' })).toThrow(/negative fee/);
  });

  it('books a fill of a 4-decimal price at its value rounded to the cent, half-up (the cent rule); AI-Trader\'s exact rule keeps it unrounded', () => {
    let a = openAccount('10000');
    a = applyFill(a, { side: 'buy', symbol: 'AAPL', quantity: 3, price: '271.0884', date: '2025-10-30' }); // 813.2652
    expect([a.cash.toFixed(), a.positions['AAPL']!.costBasis.toFixed()]).toEqual(['9186.73', '813.27']);
    a = applyFill(a, { side: 'sell', symbol: 'AAPL', quantity: 1, price: '271.0950', date: '2025-10-30' }); // 271.095 -> 271.10
    expect(a.cash.toFixed()).toBe('9457.83');
    let x = openAccount('10000');
    x = applyFill(x, { side: 'buy', symbol: 'AAPL', quantity: 3, price: '271.0884', date: '2025-10-30', cashRule: 'exact' });
    expect(x.cash.toFixed()).toBe('9186.7348');
  });
});

describe('portfolio: lots, T+1 and FIFO', () => {
  it('holds back today\'s buys under T+1 and consumes lots first in, first out', () => {
    let a = openAccount('100000');
    a = applyFill(a, { side: 'buy', symbol: 'X', quantity: 100, price: '10', date: '2025-10-09' });
    expect(sellable(a, 'X', '2025-10-09', true)).toBe(0);
    expect(sellable(a, 'X', '2025-10-09', false)).toBe(100);
    expect(sellable(a, 'X', '2025-10-10', true)).toBe(100);
    a = applyFill(a, { side: 'buy', symbol: 'X', quantity: 200, price: '11', date: '2025-10-10' });
    a = applyFill(a, { side: 'buy', symbol: 'X', quantity: 50, price: '11', date: '2025-10-10' });
    expect(a.positions['X']!.lots).toEqual([
      { date: '2025-10-09', quantity: 100 },
      { date: '2025-10-10', quantity: 250 },
    ]);
    expect(sellable(a, 'X', '2025-10-10', true)).toBe(100);
    a = applyFill(a, { side: 'sell', symbol: 'X', quantity: 150, price: '12', date: '2025-10-13' });
    expect(a.positions['X']!.lots).toEqual([{ date: '2025-10-10', quantity: 200 }]);
    a = applyFill(a, { side: 'buy', symbol: 'X', quantity: 100, price: '12', date: '2025-10-13' });
    expect(sellable(a, 'X', '2025-10-13', true)).toBe(200);
    expect(sellable(a, 'X', '2025-10-14', true)).toBe(300);
    expect(sellable(a, 'Y', '2025-10-14', true)).toBe(0);
  });

  it('puts a late-reported older buy in its date order', () => {
    let a = applyFill(openAccount('1000'), { side: 'buy', symbol: 'X', quantity: 1, price: '1', date: '2025-10-10' });
    a = applyFill(a, { side: 'buy', symbol: 'X', quantity: 2, price: '1', date: '2025-10-09' });
    expect(a.positions['X']!.lots).toEqual([
      { date: '2025-10-09', quantity: 2 },
      { date: '2025-10-10', quantity: 1 },
    ]);
  });
});

describe('portfolio: marking and the start of day', () => {
  it('marks held symbols at the given prices, and unknown ones at cost basis', () => {
    let a = openAccount('10000');
    a = applyFill(a, { side: 'buy', symbol: 'A', quantity: 10, price: '100', fee: '1', date: '2025-10-01' });
    a = applyFill(a, { side: 'buy', symbol: 'B', quantity: 5, price: '20', date: '2025-10-01' });
    const m = markToMarket(a, new Map([['A', dec('110.5')]]));
    expect(m.positionsValue.toFixed()).toBe('1205'); // 1105 + B at cost 100
    expect(m.equity.toFixed()).toBe('10104'); // 8899 + 1205
    expect(m.unrealizedPnl.toFixed()).toBe('104'); // 1105 - 1001
    expect(m.unpriced).toEqual(['B']);
    expect(markToMarket(a, () => undefined).equity.toFixed()).toBe('10000');
  });

  it('rolls the start of day only when a later date begins', () => {
    let a = openAccount('100');
    expect(a.startOfDay).toEqual({ date: '', equity: dec('100') });
    a = rollDay(a, '2025-10-09', dec('101'));
    expect(a.startOfDay.date).toBe('2025-10-09');
    expect(rollDay(a, '2025-10-09', dec('5'))).toBe(a);
    expect(rollDay(a, '2025-10-08', dec('5'))).toBe(a);
    expect(rollDay(a, '2025-10-10', dec('99')).startOfDay.equity.toFixed()).toBe('99');
  });

  it('round-trips through JSON exactly', () => {
    let a = openAccount('100000');
    a = applyFill(a, { side: 'buy', symbol: 'X', quantity: 300, price: '3.33', fee: '1.01', date: '2025-10-09' });
    a = applyFill(a, { side: 'sell', symbol: 'X', quantity: 100, price: '3.5', fee: '0.5', date: '2025-10-10' });
    const back = accountFromJson(JSON.parse(JSON.stringify(accountToJson(a))) as ReturnType<typeof accountToJson>);
    expect(accountToJson(back)).toEqual(accountToJson(a));
    expect(back.cash.equals(a.cash)).toBe(true);
  });
});

describe('portfolio: exact over long sequences', () => {
  it('keeps cash exact to the cent over 1000 fills (integer-cent model)', () => {
    const rand = rng(42);
    const symbols = ['A', 'B', 'C', 'D', 'E'];
    let a = openAccount('1000000');
    let cashCents = 100000000n;
    let feeCents = 0n;
    const held = new Map<string, number>();
    let day = 0;
    for (let i = 0; i < 1000; i++) {
      if (i % 7 === 0) day++;
      const date = `2025-${String(1 + Math.floor(day / 28)).padStart(2, '0')}-${String(1 + (day % 28)).padStart(2, '0')}`;
      const symbol = symbols[Math.floor(rand() * symbols.length)]!;
      const priceCents = BigInt(1 + Math.floor(rand() * 50000)); // 0.01 .. 500.00
      const fee = BigInt(Math.floor(rand() * 1000)); // 0 .. 9.99
      const price = fromCents(priceCents).toFixed(2);
      const have = held.get(symbol) ?? 0;
      const sell = have > 0 && rand() < 0.45;
      const quantity = sell ? 1 + Math.floor(rand() * have) : 100 * (1 + Math.floor(rand() * 5));
      a = applyFill(a, { side: sell ? 'sell' : 'buy', symbol, quantity, price, fee: fromCents(fee).toFixed(2), date });
      cashCents += (sell ? 1n : -1n) * priceCents * BigInt(quantity) - fee;
      feeCents += fee;
      held.set(symbol, have + (sell ? -quantity : quantity));
      expect(cents(a.cash.toFixed())).toBe(cashCents);
    }
    expect(a.feesPaid.equals(fromCents(feeCents))).toBe(true);
    for (const s of symbols) expect(a.positions[s]?.quantity ?? 0).toBe(held.get(s) ?? 0);
    expect(identity(a).toFixed()).toBe('1000000');
  });

  for (const rule of ['cent', 'exact'] as const)
  it(`property (${rule} rule): cash + cost basis - realised = initial cash; lots sum to quantities; cash is the sum of the fills`, () => {
    const step = fc.record({
      sell: fc.boolean(),
      symbol: fc.constantFrom('A', 'B', 'C'),
      qty: fc.integer({ min: 1, max: 1000 }),
      priceTicks: fc.integer({ min: 1, max: 5_000_000 }), // 0.0001 .. 500.0000
      fee: fc.integer({ min: 0, max: 2000 }),
      nextDay: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let a = openAccount('50000');
        let cashTicks = 50000n * 10000n; // 1e-4 units
        let day = 1;
        for (const s of steps) {
          if (s.nextDay) day++;
          const date = `2025-10-${String(Math.min(day, 28)).padStart(2, '0')}`;
          const have = a.positions[s.symbol]?.quantity ?? 0;
          const sell = s.sell && have > 0;
          const quantity = sell ? Math.min(s.qty, have) : s.qty;
          const price = dec(s.priceTicks).dividedBy(10000).toFixed();
          const fee = dec(s.fee).dividedBy(100).toFixed();
          a = applyFill(a, { side: sell ? 'sell' : 'buy', symbol: s.symbol, quantity, price, fee, date, cashRule: rule });
          const valueTicks = BigInt(s.priceTicks) * BigInt(quantity);
          const booked = rule === 'cent' ? ((valueTicks + 50n) / 100n) * 100n : valueTicks; // half-up to the cent (positive values)
          cashTicks += (sell ? 1n : -1n) * booked - BigInt(s.fee) * 100n;
        }
        expect(identity(a).toFixed()).toBe('50000');
        expect(a.cash.equals(dec(cashTicks.toString()).dividedBy(10000))).toBe(true);
        if (rule === 'cent') expect(a.cash.decimalPlaces()).toBeLessThanOrEqual(2);
        for (const p of Object.values(a.positions)) {
          expect(p.quantity).toBeGreaterThan(0);
          expect(p.lots.reduce((n, l) => n + l.quantity, 0)).toBe(p.quantity);
          expect(p.costBasis.isNegative()).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
