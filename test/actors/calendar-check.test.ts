import { describe, expect, it } from 'vitest';
import { calendarDifferences, checkCalendarWithTushare } from '../../src/actors/market-data/calendar-check.js';
import { HttpTestServer } from '../streams/cn-quotes/helpers.js';

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

describe('checkCalendarWithTushare', () => {
  it('asks trade_cal for the year with the token, and compares', async () => {
    const server = await HttpTestServer.start(() => ({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ code: 0, msg: '', data: { fields: ['exchange', 'cal_date', 'is_open', 'pretrade_date'], items: [['SSE', '20251009', 1, '20250930'], ['SSE', '20251010', 0, '20251009']] } }),
    }));
    try {
      expect(await checkCalendarWithTushare({ token: 'tk-SECRET', url: server.url, year: 2025 })).toEqual(['2025-10-10: Tushare (SSE) says closed, our calendar says open']);
      const body = JSON.parse(server.requests[0]!.body) as Record<string, unknown>;
      expect(body).toMatchObject({ api_name: 'trade_cal', token: 'tk-SECRET', params: { exchange: 'SSE', start_date: '20250101', end_date: '20251231' } });
    } finally {
      await server.close();
    }
  });
});
