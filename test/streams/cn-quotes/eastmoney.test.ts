import { afterEach, describe, expect, it } from 'vitest';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { PollingQuoteFeed } from '../../../src/streams/cn-quotes/polling.js';
import { eastmoneySource, parseEastmoneyAnswer } from '../../../src/streams/cn-quotes/eastmoney.js';
import { parseCnSymbols } from '../../../src/streams/cn-quotes/symbols.js';
import { HttpTestServer, eventually, record, shanghai, type Reply } from './helpers.js';

const START = shanghai('2025-06-13T10:00:00');
const T1 = Math.floor(shanghai('2025-06-13T10:00:03') / 1000);
const MOUTAI = { f2: 1436.0, f3: 0.77, f4: 10.99, f12: '600519', f13: 1, f14: '贵州茅台', f18: 1425.01, f124: T1 };
const PINGAN = { f2: 11.91, f3: 0.51, f4: 0.06, f12: '000001', f13: 0, f14: '平安银行', f18: 11.85, f124: T1 - 2 };

/** Eastmoney's envelope around `data` (UTF-8 JSON, as the real endpoint answers). */
function answer(data: unknown, rc = 0): Reply {
  return { contentType: 'application/json; charset=UTF-8', body: JSON.stringify({ rc, rt: 11, svr: 181669435, lt: 1, full: 1, dlmkts: '', data }) };
}

let server: HttpTestServer;
const feeds: PollingQuoteFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  await server?.close();
});

function feed(symbols: string[], scheduler = new EpochVirtualScheduler(START)) {
  const f = new PollingQuoteFeed(eastmoneySource({ baseUrl: server.url }), { symbols, intervalMs: 3_000, timeoutMs: 2_000, scheduler });
  feeds.push(f);
  return f;
}

describe('Eastmoney push2 quotes against a real local server', () => {
  it('asks ulist.np with fltt=2 and the secids, and reads f2 at f124', async () => {
    server = await HttpTestServer.start(() => answer({ total: 2, diff: [MOUTAI, PINGAN] }));
    const f = feed(['600519.SH', '000001.SZ']);
    const seen = record(f);
    await f.start();
    const url = new URL(server.requests[0]?.url ?? '', server.url);
    expect(url.pathname).toBe('/api/qt/ulist.np/get');
    expect(url.searchParams.get('fltt')).toBe('2');
    expect(url.searchParams.get('secids')).toBe('1.600519,0.000001');
    expect(url.searchParams.get('fields')?.split(',')).toEqual(expect.arrayContaining(['f2', 'f12', 'f13', 'f14', 'f124']));
    expect(seen.quotes).toEqual([
      { symbol: '600519.SH', price: '1436', atMs: T1 * 1000, source: 'eastmoney' },
      { symbol: '000001.SZ', price: '11.91', atMs: (T1 - 2) * 1000, source: 'eastmoney' },
    ]);
    expect(f.status('600519.SH')).toMatchObject({ state: 'ok', name: '贵州茅台' });
  });

  it('gives "-" and 0 prices no quote (halted), and reads data:null as unknown codes', async () => {
    server = await HttpTestServer.start(() => answer({ total: 2, diff: [{ ...PINGAN, f2: '-', f3: '-', f4: '-' }, { ...MOUTAI, f2: 0 }] }));
    const f = feed(['600519.SH', '000001.SZ', '688999.SH']);
    const seen = record(f);
    await f.start();
    expect(seen.quotes).toEqual([]);
    expect(f.status('000001.SZ')).toMatchObject({ state: 'halted', name: '平安银行', reason: 'eastmoney: no price ("-"), halted' });
    expect(f.status('600519.SH')).toMatchObject({ state: 'halted', reason: expect.stringContaining('price 0') });
    expect(f.status('688999.SH')).toMatchObject({ state: 'unknown' });

    server.reply = () => answer(null);
    const scheduler = new EpochVirtualScheduler(START);
    const g = feed(['688999.SH'], scheduler);
    await g.start();
    expect(g.status('688999.SH')).toMatchObject({ state: 'unknown', reason: 'eastmoney: no such secid (no record in the answer)' });
    expect(g.health()).toMatchObject({ failures: 0, malformed: 0, connected: true });
  });

  it('accepts diff as an object keyed by index (the clist shape)', async () => {
    server = await HttpTestServer.start(() => answer({ total: 1, diff: { '0': MOUTAI } }));
    const f = feed(['600519.SH']);
    const seen = record(f);
    await f.start();
    expect(seen.quotes.map((q) => q.price)).toEqual(['1436']);
  });

  it('counts a malformed record and skips it; rc != 0, non-JSON and HTTP errors are failed polls', async () => {
    const answers: Reply[] = [
      answer({ total: 2, diff: [{ ...MOUTAI, f2: 'abc' }, { ...PINGAN, f124: '-' }, { ...PINGAN, f12: '000002', f13: 0 }] }),
      answer(null, 102),
      { body: '<html>busy</html>' },
      { status: 503 },
    ];
    server = await HttpTestServer.start(() => answers.shift() ?? { status: 500 });
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH', '000001.SZ', '000002.SZ'], scheduler);
    const seen = record(f);
    await f.start();
    expect(seen.quotes.map((q) => q.symbol)).toEqual(['000002.SZ']);
    expect(f.health()).toMatchObject({ malformed: 2, failures: 0 });
    expect(f.status('000001.SZ')).toMatchObject({ state: 'unknown', reason: 'eastmoney: unreadable record (a price without a time (f124))' });
    const errors: string[] = [];
    for (const t of [3_000, 6_000, 9_000]) {
      scheduler.advanceTo(START + t);
      await f.settled();
      errors.push(f.health().lastError ?? '');
    }
    expect(errors).toEqual(['eastmoney: rc 102', 'eastmoney: no readable record in the answer', 'eastmoney: HTTP 503']);
    expect(f.health()).toMatchObject({ failures: 3, malformed: 3 });
  });

  it('times out on the injected scheduler', async () => {
    server = await HttpTestServer.start(() => 'hang');
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler);
    const started = f.start();
    await eventually(() => expect(server.hanging).toBe(1));
    scheduler.advanceTo(START + 2_000);
    await expect(started).rejects.toThrow('eastmoney: no answer within 2000 ms');
  });
});

describe('parseEastmoneyAnswer', () => {
  it('maps records back by market and code, so a Shenzhen 600519 is not Shanghai 600519', () => {
    const a = parseEastmoneyAnswer(JSON.stringify({ rc: 0, data: { diff: [{ ...MOUTAI, f13: 0 }] } }), parseCnSymbols(['600519.SH']));
    expect(a.results).toEqual([{ symbol: '600519.SH', state: 'unknown', reason: 'eastmoney: no such secid (no record in the answer)' }]);
  });
});
