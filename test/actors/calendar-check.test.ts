import { DateTime } from 'luxon';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  alpacaCalendarDifferences,
  calendarCheckYears,
  calendarDifferences,
  checkCalendarWithTushare,
  startupAlpacaCalendarCheck,
} from '../../src/actors/market-data/calendar-check.js';
import { parseConfig } from '../../src/config/load.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';
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

describe("calendar check against Alpaca's /v2/calendar (NYSE)", () => {
  const day = (date: string, open = '09:30', close = '16:00') => ({ date, open, close });

  it('names days Alpaca has closed, days it has open, and hours that differ; nothing when they agree', () => {
    // Thanksgiving week 2025: our calendar closes on the 27th and closes early (13:00) on the 28th.
    const agree = [day('2025-11-24'), day('2025-11-25'), day('2025-11-26'), day('2025-11-28', '09:30', '13:00')];
    expect(alpacaCalendarDifferences(agree, '2025-11-24', '2025-11-30')).toEqual([]);
    expect(alpacaCalendarDifferences([day('2025-11-24'), day('2025-11-26'), day('2025-11-27'), day('2025-11-28')], '2025-11-24', '2025-11-30')).toEqual([
      '2025-11-25: Alpaca says closed, our calendar says open 09:30-16:00',
      '2025-11-27: Alpaca says open 09:30-16:00, our calendar says closed',
      '2025-11-28: Alpaca says open 09:30-16:00, our calendar says open 09:30-13:00',
    ]);
    // Beyond our tables: not compared.
    expect(alpacaCalendarDifferences([day('2030-01-02')], '2030-01-01', '2030-01-03')).toEqual([]);
  });

  describe('at start, against the fake Alpaca (its own process; it knows no holidays)', () => {
    let fake: FakeAlpacaProcess;
    beforeAll(async () => {
      fake = await FakeAlpacaProcess.start();
    });
    afterAll(() => fake.stop());

    const config = (raw: Record<string, unknown> = {}) =>
      parseConfig(
        {
          mode: 'live',
          market: 'us',
          data_source: { type: 'replay', replay_url: 'ws://127.0.0.1:9/v2/replay' },
          broker: { type: 'alpaca', base_url: fake.baseUrl, api_key_env: 'CC_KEY', api_secret_env: 'CC_SECRET' },
          models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules' } }],
          ...raw,
        },
        'test',
      );
    const env = () => ({ CC_KEY: fake.key, CC_SECRET: fake.secret });
    const alerts: { level: string; code: string; message: string }[] = [];
    const notify = (level: string, code: string, message: string) => alerts.push({ level, code, message });
    afterEach(() => void alerts.splice(0));

    it('alerts CALENDAR_MISMATCH for each coming day that differs, asking /v2/calendar for today and the days after', async () => {
      const now = DateTime.fromISO('2025-11-24T10:00:00', { zone: 'America/New_York' });
      const diffs = await startupAlpacaCalendarCheck({ config: config(), env: env(), now, notify, days: 7 });
      expect(diffs).toEqual([
        '2025-11-27: Alpaca says open 09:30-16:00, our calendar says closed',
        '2025-11-28: Alpaca says open 09:30-16:00, our calendar says open 09:30-13:00',
      ]);
      expect(alerts).toEqual([
        {
          level: 'warning',
          code: 'CALENDAR_MISMATCH',
          message: `Alpaca's calendar differs from ours on 2 day(s) from 2025-11-24 to 2025-11-30: ${diffs.join('; ')}`,
        },
      ]);
      const asked = (await fake.state()).requests.filter((r) => r.path === '/v2/calendar').at(-1);
      expect(asked).toMatchObject({ method: 'GET', query: { start: '2025-11-24', end: '2025-11-30' }, status: 200 });
    });

    it('is quiet when the days agree (a week without holidays), in paper mode too', async () => {
      const now = DateTime.fromISO('2025-11-03T08:00:00', { zone: 'America/New_York' });
      expect(await startupAlpacaCalendarCheck({ config: config({ mode: 'paper' }), env: env(), now, notify, days: 7 })).toEqual([]);
      expect(alerts).toEqual([]);
    });

    it('says CALENDAR_CHECK_FAILED (info) when Alpaca refuses, never showing the keys', async () => {
      const now = DateTime.fromISO('2025-11-24T10:00:00', { zone: 'America/New_York' });
      expect(await startupAlpacaCalendarCheck({ config: config(), env: { CC_KEY: 'PKWRONG', CC_SECRET: 'wrong-secret' }, now, notify, days: 7 })).toEqual([]);
      expect(alerts).toEqual([{ level: 'info', code: 'CALENDAR_CHECK_FAILED', message: `could not check the calendar with Alpaca (${fake.baseUrl}): GET /v2/calendar: 401 request is not authorized` }]);
      expect(JSON.stringify(alerts)).not.toMatch(/PKWRONG|wrong-secret/);
    });

    it('does not run without Alpaca keys, for A-shares, or in a backtest', async () => {
      const before = (await fake.state()).requests.length;
      const now = DateTime.fromISO('2025-11-24T10:00:00', { zone: 'America/New_York' });
      const noAlpaca = config({ broker: { type: 'simulated' }, mode: 'paper' });
      expect(await startupAlpacaCalendarCheck({ config: noAlpaca, env: env(), now, notify })).toEqual([]);
      expect(await startupAlpacaCalendarCheck({ config: { ...config(), mode: 'backtest' }, env: env(), now, notify })).toEqual([]);
      expect(await startupAlpacaCalendarCheck({ config: { ...config(), market: 'cn' }, env: env(), now, notify })).toEqual([]);
      expect(alerts).toEqual([]);
      expect((await fake.state()).requests.length).toBe(before);
    });
  });
});
