import { describe, expect, it } from 'vitest';
import { roundTrips, symbolStats, tradedValue, tradeStats } from '../../src/report/trades.js';
import type { TradeFill } from '../../src/report/types.js';

const D = (day: number, hh = '09:35') => `2025-10-${String(day).padStart(2, '0')}T${hh}:00+08:00`;
const buy = (at: string, symbol: string, quantity: number, price: string, fee = '0'): TradeFill => ({ at, symbol, side: 'buy', quantity, price, fee });
const sell = (at: string, symbol: string, quantity: number, price: string, fee = '0'): TradeFill => ({ at, symbol, side: 'sell', quantity, price, fee });
const txt = (d: { toFixed(): string } | null) => (d === null ? null : d.toFixed());

describe('round trips, FIFO per symbol', () => {
  it('closes the oldest lot first, splits a lot on a partial close and a sell across two lots, fees shared by shares', () => {
    const fills = [
      buy(D(9), 'A', 300, '10', '3'), // lot 1: 300 @ 10, fee 3
      buy(D(10), 'A', 100, '12', '1'), // lot 2: 100 @ 12, fee 1
      sell(D(13), 'A', 100, '11', '2'), // closes 100 of lot 1
      sell(D(14), 'A', 250, '13', '5'), // closes the other 200 of lot 1 and 50 of lot 2
    ];
    const { trips, unmatched } = roundTrips(fills, D(15), { A: '14' });
    expect(unmatched).toEqual({});
    expect(trips.map((t) => [t.quantity, t.entryAt, txt(t.entryPrice), t.exitAt, txt(t.exitPrice), txt(t.fees), txt(t.pnl), t.open])).toEqual([
      // (11 - 10) x 100 - 1 (a third of 3) - 2
      [100, D(9), '10', D(13), '11', '3', '97', false],
      // (13 - 10) x 200 - 2 (the rest of 3) - 4 (200/250 of 5)
      [200, D(9), '10', D(14), '13', '6', '594', false],
      // (13 - 12) x 50 - 0.5 (half of 1) - 1 (the rest of 5)
      [50, D(10), '12', D(14), '13', '1.5', '48.5', false],
      // open: 50 @ 12 marked at 14, minus the rest of its fee 0.5
      [50, D(10), '12', null, null, '0.5', '99.5', true],
    ]);
    expect(trips[3]!.markPrice!.toFixed()).toBe('14');
    expect(trips[0]!.holdingMs).toBe(4 * 86_400_000);
    expect(trips[3]!.holdingMs).toBe(5 * 86_400_000);
    // every fee is shared out exactly
    expect(trips.reduce((s, t) => s + Number(t.fees.toFixed()), 0)).toBe(11);
  });

  it('rounds a fee share to its decimals (at least cents), the last share taking the rest', () => {
    const { trips } = roundTrips([buy(D(9), 'A', 3, '10', '1'), sell(D(10), 'A', 1, '10'), sell(D(13), 'A', 1, '10'), sell(D(14), 'A', 1, '10')], D(14));
    expect(trips.map((t) => t.fees.toFixed())).toEqual(['0.33', '0.34', '0.33']); // 1/3 of 1, 1/2 of 0.67, the rest
    const exact = roundTrips([buy(D(9), 'A', 3, '10', '0.001'), sell(D(10), 'A', 1, '10')], D(10)).trips;
    expect(exact[0]!.fees.toFixed()).toBe('0'); // 0.001 / 3 to 3 decimals
  });

  it('keeps symbols apart, lists open lots by symbol, and has no PnL for an open lot without a mark', () => {
    const { trips } = roundTrips([buy(D(9), 'B', 10, '5'), buy(D(9), 'A', 10, '7'), sell(D(10), 'B', 10, '6')], D(10), {});
    expect(trips.map((t) => [t.symbol, t.open, txt(t.pnl)])).toEqual([
      ['B', false, '10'],
      ['A', true, null],
    ]);
    expect(tradeStats(trips).unrealisedPnl).toBeNull();
  });

  it('counts shares sold beyond the lots as unmatched, not as a trade', () => {
    const { trips, unmatched } = roundTrips([buy(D(9), 'A', 10, '5'), sell(D(10), 'A', 15, '6')], D(10));
    expect(trips.map((t) => t.quantity)).toEqual([10]);
    expect(unmatched).toEqual({ A: 5 });
  });
});

describe('trade statistics', () => {
  const fills = [
    buy(D(9), 'A', 100, '10'),
    sell(D(10), 'A', 100, '12'), // +200
    buy(D(10), 'B', 100, '20'),
    sell(D(13), 'B', 100, '19'), // -100
    buy(D(13), 'A', 100, '10'),
    sell(D(14), 'A', 100, '13'), // +300
    buy(D(14), 'C', 100, '5'),
    sell(D(15), 'C', 100, '5'), // 0: neither a win nor a loss
  ];

  it('win rate, profit factor, averages, realised PnL', () => {
    const s = tradeStats(roundTrips(fills, D(15)).trips);
    expect(s.closed).toBe(4);
    expect([s.wins, s.losses]).toEqual([2, 1]);
    expect(s.winRate!.toFixed()).toBe('0.5');
    expect(s.grossProfit.toFixed()).toBe('500');
    expect(s.grossLoss.toFixed()).toBe('-100');
    expect(s.profitFactor!.toFixed()).toBe('5');
    expect(s.averageWin!.toFixed()).toBe('250');
    expect(s.averageLoss!.toFixed()).toBe('-100');
    expect(s.realisedPnl.toFixed()).toBe('400');
    expect(s.unrealisedPnl!.toFixed()).toBe('0');
  });

  it('has no profit factor without a losing trade, and no rates without a closed one', () => {
    const winsOnly = tradeStats(roundTrips(fills.slice(0, 2), D(10)).trips);
    expect(winsOnly.profitFactor).toBeNull();
    expect(winsOnly.averageLoss).toBeNull();
    const none = tradeStats(roundTrips([buy(D(9), 'A', 100, '10')], D(9), { A: '11' }).trips);
    expect(none.winRate).toBeNull();
    expect(none.openLots).toBe(1);
    expect(none.unrealisedPnl!.toFixed()).toBe('100');
  });

  it('per symbol: realised + unrealised, fees and traded value', () => {
    const f = [...fills.slice(0, 2), buy(D(13), 'A', 100, '11', '2.5')];
    const [a] = symbolStats(f, roundTrips(f, D(14), { A: '12' }).trips, { A: '12' });
    expect(a!.symbol).toBe('A');
    expect(a!.realisedPnl.toFixed()).toBe('200');
    expect(a!.unrealisedPnl!.toFixed()).toBe('97.5');
    expect(a!.fees.toFixed()).toBe('2.5');
    expect(a!.tradedValue.toFixed()).toBe('3300');
    expect(a!.openQuantity).toBe(100);
    expect(tradedValue(f).toFixed()).toBe('3300');
  });
});
