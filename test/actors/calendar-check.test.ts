import { afterEach, describe, expect, it } from 'vitest';
import { calendarCheckYears, calendarDifferences, checkCalendarWithTushare } from '../../src/actors/market-data/calendar-check.js';
import { CLOSURE_TABLES, ClosureFileSchema, installClosureTables, mergeClosureFile } from '../../src/domain/calendar/index.js';
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

/** A trade_cal server: the rows of the asked year from `years`, none for a year it lacks. */
function tradeCalServer(years: Record<string, (string | number)[][]>) {
  return HttpTestServer.start((req) => {
    const body = JSON.parse(req.body) as { params: { start_date: string } };
    const items = years[body.params.start_date.slice(0, 4)] ?? [];
    return { status: 200, contentType: 'application/json', body: JSON.stringify({ code: 0, msg: '', data: { fields: ['exchange', 'cal_date', 'is_open', 'pretrade_date'], items } }) };
  });
}

afterEach(() => installClosureTables(CLOSURE_TABLES));

describe('checkCalendarWithTushare', () => {
  it('asks trade_cal for the year with the token, and compares', async () => {
    const server = await tradeCalServer({ '2025': [['SSE', '20251009', 1, '20250930'], ['SSE', '20251010', 0, '20251009']] });
    try {
      expect(await checkCalendarWithTushare({ token: 'tk-SECRET', url: server.url, years: [2025] })).toEqual({
        differences: ['2025-10-10: Tushare (SSE) says closed, our calendar says open'],
        unchecked: [],
      });
      const body = JSON.parse(server.requests[0]!.body) as Record<string, unknown>;
      expect(body).toMatchObject({ api_name: 'trade_cal', token: 'tk-SECRET', params: { exchange: 'SSE', start_date: '20250101', end_date: '20251231' } });
    } finally {
      await server.close();
    }
  });

  it("checks a year that came from the user's closures file, and names a year Tushare does not have yet", async () => {
    // A test-only closures file adding 2027 (one made-up closure, not the real notice).
    const file = ClosureFileSchema.parse({ cn: { from_year: 2027, to_year: 2027, version: 't', source: 'test', closures: { '2027-01-01': 'test closure' } } });
    const merged = mergeClosureFile(CLOSURE_TABLES, file, 'closures.json');
    installClosureTables(merged.tables);
    const years = calendarCheckYears(2026, merged.addedYears.cn);
    expect(years).toEqual([2026, 2027]);

    const server = await tradeCalServer({
      '2026': [['SSE', '20261230', 1, '20261229']],
      '2027': [['SSE', '20270101', 1, '20261231'], ['SSE', '20270104', 1, '20261231']],
    });
    try {
      expect(await checkCalendarWithTushare({ token: 't', url: server.url, years })).toEqual({
        differences: ['2027-01-01: Tushare (SSE) says open, our calendar says closed'],
        unchecked: [],
      });
      expect(server.requests.map((r) => (JSON.parse(r.body) as { params: { start_date: string } }).params.start_date)).toEqual(['20260101', '20270101']);
      expect(await checkCalendarWithTushare({ token: 't', url: server.url, years: [2026, 2028] })).toEqual({ differences: [], unchecked: [2028] });
    } finally {
      await server.close();
    }
  });

  it('checks the current year alone without a closures file, each year once', () => {
    expect(calendarCheckYears(2026, [])).toEqual([2026]);
    expect(calendarCheckYears(2027, [2027, 2028])).toEqual([2027, 2028]);
  });
});
