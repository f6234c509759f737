import { describe, expect, it } from 'vitest';
import { calendarDifferences } from '../../src/actors/market-data/calendar-check.js';

describe('calendar check against Tushare trade_cal', () => {
  it('lists the days the two disagree on, and nothing when they agree', () => {
    const cal = (calDate: string, isOpen: boolean) => ({ exchange: 'SSE', calDate, isOpen });
    expect(calendarDifferences([cal('20251009', true), cal('20251001', false), cal('20251011', false)])).toEqual([]);
    expect(calendarDifferences([cal('20251009', false), cal('20251008', true)])).toEqual([
      '2025-10-09: Tushare (SSE) says closed, our calendar says open',
      '2025-10-08: Tushare (SSE) says open, our calendar says closed',
    ]);
    expect(calendarDifferences([cal('20300102', true)])).toEqual([]); // beyond our tables: not compared
  });
});
