import { afterEach, describe, expect, it } from 'vitest';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { PollingQuoteFeed } from '../../../src/streams/cn-quotes/polling.js';
import { parseTencentAnswer, tencentSource } from '../../../src/streams/cn-quotes/tencent.js';
import { parseCnSymbols } from '../../../src/streams/cn-quotes/symbols.js';
import { HttpTestServer, eventually, gbk, record, shanghai, tencentFields, type Reply } from './helpers.js';

const START = shanghai('2025-06-13T10:00:00');
const MOUTAI = tencentFields({ market: '1', name: '贵州茅台', code: '600519', price: '1459.88', prev: '1459.44', open: '1459.44', volume: '21064', time: '20250613100003' });
const PINGAN = tencentFields({ market: '51', name: '平安银行', code: '000001', price: '11.91', prev: '11.85', open: '11.88', volume: '800766', time: '20250613100001' });

function tencentBody(records: Readonly<Record<string, string>>): Buffer {
  return gbk(Object.entries(records).map(([code, body]) => `v_${code}="${body}";\n`).join(''));
}

let server: HttpTestServer;
const feeds: PollingQuoteFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  await server?.close();
});

function feed(symbols: string[], scheduler = new EpochVirtualScheduler(START)) {
  const f = new PollingQuoteFeed(tencentSource({ baseUrl: server.url }), { symbols, intervalMs: 3_000, timeoutMs: 2_000, scheduler });
  feeds.push(f);
  return f;
}

describe('Tencent quotes against a real local server', () => {
  it('asks /q=<codes>, decodes GBK and reads price (field 3) at the time in field 30', async () => {
    server = await HttpTestServer.start(() => ({ body: tencentBody({ sh600519: MOUTAI, sz000001: PINGAN }) }));
    const f = feed(['600519.SH', '000001.SZ']);
    const seen = record(f);
    await f.start();
    expect(server.requests.map((r) => r.url)).toEqual(['/q=sh600519,sz000001']);
    expect(seen.quotes).toEqual([
      { symbol: '600519.SH', price: '1459.88', atMs: shanghai('2025-06-13T10:00:03'), source: 'tencent' },
      { symbol: '000001.SZ', price: '11.91', atMs: shanghai('2025-06-13T10:00:01'), source: 'tencent' },
    ]);
    expect(f.status('600519.SH')).toMatchObject({ state: 'ok', name: '贵州茅台', source: 'tencent' });
    expect(f.status('000001.SZ')?.name).toBe('平安银行');
  });

  it('gives suspended (S, open 0, volume 0), delisted (D) and 0-price stocks no quote', async () => {
    const suspended = tencentFields({ market: '51', name: '万科Ａ', code: '000002', price: '7.08', prev: '7.08', open: '0.00', volume: '0', time: '20250613100000', flag: 'S' });
    const delisted = tencentFields({ market: '1', name: '平安银行', code: '600005', price: '3.71', prev: '3.71', open: '0.00', volume: '0', time: '20250613090000', flag: 'D' });
    const zero = tencentFields({ market: '1', name: '贵州茅台', code: '600000', price: '0.00', prev: '7.03', open: '0.00', volume: '0', time: '20250613100000' });
    server = await HttpTestServer.start(() => ({ body: tencentBody({ sh600519: MOUTAI, sz000002: suspended, sh600005: delisted, sh600000: zero }) }));
    const f = feed(['600519.SH', '000002.SZ', '600005.SH', '600000.SH']);
    const seen = record(f);
    await f.start();
    expect(seen.quotes.map((q) => q.symbol)).toEqual(['600519.SH']);
    expect(f.status('000002.SZ')).toMatchObject({ state: 'halted', name: '万科Ａ', reason: 'tencent: open 0 and volume 0, no trade today (suspended (status S))' });
    expect(f.status('600005.SH')).toMatchObject({ state: 'halted', reason: 'tencent: delisted (status D)' });
    expect(f.status('600000.SH')).toMatchObject({ state: 'halted', reason: expect.stringContaining('price 0') });
    expect(f.health()).toMatchObject({ halted: ['000002.SZ', '600005.SH', '600000.SH'], malformed: 0, failures: 0 });
  });

  it('reads v_pv_none_match as "unknown code", not as a failure', async () => {
    server = await HttpTestServer.start(() => ({ body: gbk('v_pv_none_match="1";\n') }));
    const f = feed(['688999.SH']);
    await f.start();
    expect(f.status('688999.SH')).toMatchObject({ state: 'unknown', reason: 'tencent: no such code (v_pv_none_match)' });
    expect(f.health()).toMatchObject({ connected: true, failures: 0, malformed: 0, quotes: 0 });
  });

  it('counts HTTP errors, empty answers and garbage as failures, malformed records as malformed', async () => {
    const answers: Reply[] = [
      { status: 502, body: 'bad gateway' },
      { body: '\n' },
      { body: gbk('<!DOCTYPE html><html>blocked</html>') },
      { body: tencentBody({ sh600519: MOUTAI.replace('~600519~', '~600518~'), sz000001: PINGAN }) },
    ];
    server = await HttpTestServer.start(() => answers.shift() ?? { status: 500 });
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH', '000001.SZ'], scheduler);
    const seen = record(f);
    await expect(f.start()).rejects.toThrow('tencent: HTTP 502');
    for (const t of [3_000, 6_000, 9_000]) {
      scheduler.advanceTo(START + t);
      await f.settled();
    }
    expect(f.health()).toMatchObject({ polls: 4, failures: 3, malformed: 2, lastError: 'tencent: no readable record in the answer' });
    expect(seen.quotes.map((q) => q.symbol)).toEqual(['000001.SZ']);
    expect(f.status('600519.SH')).toMatchObject({ state: 'unknown', reason: 'tencent: unreadable record (code (field 2) "600518" does not match 600519)' });
  });

  it('times out on the injected scheduler', async () => {
    server = await HttpTestServer.start(() => 'hang');
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler);
    const started = f.start();
    await eventually(() => expect(server.hanging).toBe(1));
    scheduler.advanceTo(START + 2_000);
    await expect(started).rejects.toThrow('tencent: no answer within 2000 ms');
  });
});

describe('parseTencentAnswer', () => {
  it('accepts the slash and dash time layouts seen on other markets', () => {
    for (const time of ['2025/06/13 10:00:03', '2025-06-13 10:00:03']) {
      const body = MOUTAI.replace('20250613100003', time);
      expect(parseTencentAnswer(`v_sh600519="${body}";`, parseCnSymbols(['600519.SH'])).results[0]?.quote?.atMs).toBe(shanghai('2025-06-13T10:00:03'));
    }
  });

  it('trusts S alone only with no trade today: a trading stock flagged S still quotes', () => {
    const flagged = MOUTAI.split('~');
    flagged[40] = 'S';
    const answer = parseTencentAnswer(`v_sh600519="${flagged.join('~')}";`, parseCnSymbols(['600519.SH']));
    expect(answer.results[0]).toMatchObject({ state: 'ok', quote: { price: '1459.88' } });
  });

  it('refuses a short record and an unreadable time', () => {
    const short = MOUTAI.split('~').slice(0, 20).join('~');
    const badTime = MOUTAI.replace('20250613100003', '2025061310');
    const answer = parseTencentAnswer(`v_sh600519="${short}";\nv_sz000001="${badTime.replace('~600519~', '~000001~')}";`, parseCnSymbols(['600519.SH', '000001.SZ']));
    expect(answer.malformed.map((m) => m.reason)).toEqual(['expected at least 31 fields, got 20', 'time (field 30) unreadable: "2025061310"']);
  });
});
