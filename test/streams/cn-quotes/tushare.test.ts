import { afterEach, describe, expect, it } from 'vitest';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { PollingQuoteFeed } from '../../../src/streams/cn-quotes/polling.js';
import { CnQuoteError } from '../../../src/streams/cn-quotes/source.js';
import { tushareDaily, tushareSource, tushareTradeCal } from '../../../src/streams/cn-quotes/tushare.js';
import { HttpTestServer, eventually, record, shanghai, type RecordedRequest, type Reply } from './helpers.js';

const TOKEN = 'ts-secret-token-0123456789abcdef';
const START = shanghai('2025-06-16T16:30:00');
const DAILY_FIELDS = ['ts_code', 'trade_date', 'open', 'high', 'low', 'close', 'vol', 'amount'];

/** Tushare's envelope: `{"request_id","code","msg","data":{"fields","items","has_more"}}`. */
function ok(fields: string[], items: unknown[][]): Reply {
  return { contentType: 'application/json', body: JSON.stringify({ request_id: 'a1b2c3', code: 0, msg: '', data: { fields, items, has_more: false } }) };
}
function refused(code: number, msg: string): Reply {
  return { contentType: 'application/json', body: JSON.stringify({ request_id: 'a1b2c3', code, msg, data: null }) };
}
const sent = (r: RecordedRequest | undefined) => JSON.parse(r?.body ?? '{}') as Record<string, unknown>;

let server: HttpTestServer;
const feeds: PollingQuoteFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  await server?.close();
});

describe('tushareDaily / tushareTradeCal against a real local server', () => {
  it('POSTs api_name, token, params and fields as JSON and reads the table into exact bars', async () => {
    server = await HttpTestServer.start(() =>
      ok(DAILY_FIELDS, [
        ['600519.SH', '20250613', 1429.0, 1440.0, 1420.5, 1436.0, 25641.27, 3672395.021],
        ['000001.SZ', '20250613', 11.88, 11.95, 11.82, 11.91, 987654.0, 1172345.678],
      ]),
    );
    const bars = await tushareDaily({ token: TOKEN, url: server.url, symbols: ['600519.SH', '000001.SZ'], startDate: '20250601', endDate: '20250613' });
    const req = server.requests[0];
    expect(req?.method).toBe('POST');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(sent(req)).toEqual({
      api_name: 'daily',
      token: TOKEN,
      params: { ts_code: '600519.SH,000001.SZ', start_date: '20250601', end_date: '20250613' },
      fields: 'ts_code,trade_date,open,high,low,close,vol,amount',
    });
    expect(bars).toEqual([
      { symbol: '600519.SH', tradeDate: '20250613', open: '1429', high: '1440', low: '1420.5', close: '1436', volume: '25641.27', amount: '3672395.021' },
      { symbol: '000001.SZ', tradeDate: '20250613', open: '11.88', high: '11.95', low: '11.82', close: '11.91', volume: '987654', amount: '1172345.678' },
    ]);
  });

  it('skips and reports a row that does not fit', async () => {
    server = await HttpTestServer.start(() => ok(DAILY_FIELDS, [['600519.SH', '20250613', 1429.0, 1440.0, 1420.5, null, 1, 1], ['600519.SH', '20250612', 1, 1, 1, 1425.01, 1, 1]]));
    const malformed: string[] = [];
    const bars = await tushareDaily({ token: TOKEN, url: server.url, symbols: ['600519.SH'], onMalformed: (m) => malformed.push(m.reason) });
    expect(bars.map((b) => b.close)).toEqual(['1425.01']);
    expect(malformed).toHaveLength(1);
    expect(malformed[0]).toMatch(/^close: /);
  });

  it('reads trade_cal into sorted days', async () => {
    server = await HttpTestServer.start(() =>
      ok(
        ['exchange', 'cal_date', 'is_open', 'pretrade_date'],
        [
          ['SSE', '20250602', 0, '20250530'],
          ['SSE', '20250601', 0, '20250530'],
          ['SSE', '20250603', 1, '20250530'],
        ],
      ),
    );
    const days = await tushareTradeCal({ token: TOKEN, url: server.url, startDate: '20250601', endDate: '20250603' });
    expect(sent(server.requests[0])).toMatchObject({ api_name: 'trade_cal', params: { exchange: 'SSE', start_date: '20250601', end_date: '20250603' }, fields: 'exchange,cal_date,is_open,pretrade_date' });
    expect(days).toEqual([
      { exchange: 'SSE', calDate: '20250601', isOpen: false, pretradeDate: '20250530' },
      { exchange: 'SSE', calDate: '20250602', isOpen: false, pretradeDate: '20250530' },
      { exchange: 'SSE', calDate: '20250603', isOpen: true, pretradeDate: '20250530' },
    ]);
  });

  it('turns code != 0 into a CnQuoteError with Tushare\'s code and msg, and never shows the token', async () => {
    server = await HttpTestServer.start(() => refused(40101, `抱歉，您输入的TOKEN无效！(${TOKEN})`));
    const err = await tushareDaily({ token: TOKEN, url: server.url, symbols: ['600519.SH'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CnQuoteError);
    expect(err).toMatchObject({ kind: 'refused', code: 40101 });
    expect((err as Error).message).toBe('tushare: daily refused, code 40101 (token invalid): 抱歉，您输入的TOKEN无效！(***)');
    expect(JSON.stringify(err)).not.toContain(TOKEN);

    server.reply = () => refused(40203, '抱歉，您每分钟最多访问该接口500次');
    await expect(tushareTradeCal({ token: TOKEN, url: server.url, startDate: '20250601', endDate: '20250630' })).rejects.toMatchObject({
      code: 40203,
      message: 'tushare: trade_cal refused, code 40203 (rate limit): 抱歉，您每分钟最多访问该接口500次',
    });
  });

  it('refuses bad dates and an empty token before sending anything', async () => {
    server = await HttpTestServer.start(() => ok(DAILY_FIELDS, []));
    await expect(tushareDaily({ token: TOKEN, url: server.url, tradeDate: '2025-06-13' })).rejects.toThrow('Tushare trade_date must be YYYYMMDD');
    await expect(tushareDaily({ token: '', url: server.url })).rejects.toThrow(/needs a token/);
    expect(server.requests).toEqual([]);
  });

  it('times out on the injected scheduler', async () => {
    server = await HttpTestServer.start(() => 'hang');
    const scheduler = new EpochVirtualScheduler(START);
    const pending = tushareDaily({ token: TOKEN, url: server.url, symbols: ['600519.SH'], timeoutMs: 5_000, scheduler });
    await eventually(() => expect(server.hanging).toBe(1));
    scheduler.advanceTo(START + 5_000);
    await expect(pending).rejects.toMatchObject({ kind: 'timeout', message: 'tushare: no answer within 5000 ms' });
  });
});

describe('the Tushare daily-close quote feed', () => {
  it('asks a window of days ending today (Shanghai) and delivers each symbol\'s latest close at 15:00 of its date', async () => {
    server = await HttpTestServer.start(() =>
      ok(DAILY_FIELDS, [
        ['600519.SH', '20250616', 1436.0, 1450.0, 1430.0, 1448.88, 1, 1],
        ['600519.SH', '20250613', 1429.0, 1440.0, 1420.5, 1436.0, 1, 1],
        ['000001.SZ', '20250613', 11.88, 11.95, 11.82, 11.91, 1, 1],
      ]),
    );
    const scheduler = new EpochVirtualScheduler(START);
    const f = new PollingQuoteFeed(tushareSource({ token: TOKEN, url: server.url }), { symbols: ['600519.SH', '000001.SZ', '000002.SZ'], intervalMs: 1_800_000, timeoutMs: 10_000, scheduler });
    feeds.push(f);
    const seen = record(f);
    await f.start();
    expect(sent(server.requests[0])).toMatchObject({ api_name: 'daily', params: { ts_code: '600519.SH,000001.SZ,000002.SZ', start_date: '20250606', end_date: '20250616' } });
    expect(seen.quotes).toEqual([
      { symbol: '600519.SH', price: '1448.88', atMs: shanghai('2025-06-16T15:00:00'), source: 'tushare-close' },
      { symbol: '000001.SZ', price: '11.91', atMs: shanghai('2025-06-13T15:00:00'), source: 'tushare-close' },
    ]);
    expect(f.status('000002.SZ')).toMatchObject({ state: 'unknown', reason: expect.stringContaining('no daily bar in the last 10 days') });

    // The same closes on the next poll are not delivered again.
    scheduler.advanceTo(START + 1_800_000);
    await f.settled();
    expect(seen.quotes).toHaveLength(2);
    expect(f.health()).toMatchObject({ source: 'tushare', polls: 2, duplicates: 2 });
  });

  it('keeps the token out of health() when Tushare refuses', async () => {
    server = await HttpTestServer.start(() => refused(40101, `token ${TOKEN} invalid`));
    const f = new PollingQuoteFeed(tushareSource({ token: TOKEN, url: server.url }), { symbols: ['600519.SH'], intervalMs: 60_000, timeoutMs: 10_000, scheduler: new EpochVirtualScheduler(START) });
    feeds.push(f);
    const err = await f.start().catch((e: unknown) => e);
    expect(String(err)).not.toContain(TOKEN);
    expect(f.health().lastError).toBe('tushare: daily refused, code 40101 (token invalid): token *** invalid');
    expect(JSON.stringify(f.health())).not.toContain(TOKEN);
    expect(JSON.stringify(f.status('600519.SH'))).not.toContain(TOKEN);
  });
});
