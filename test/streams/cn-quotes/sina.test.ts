import { afterEach, describe, expect, it } from 'vitest';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { PollingQuoteFeed } from '../../../src/streams/cn-quotes/polling.js';
import { parseSinaAnswer, sinaSource } from '../../../src/streams/cn-quotes/sina.js';
import { parseCnSymbols } from '../../../src/streams/cn-quotes/symbols.js';
import { HttpTestServer, eventually, gbk, record, shanghai, sinaFields, type RecordedRequest, type Reply } from './helpers.js';

const START = shanghai('2025-06-13T14:59:00');
const MOUTAI = sinaFields({ name: '贵州茅台', open: '1429.000', prev: '1425.010', price: '1436.000', date: '2025-06-13', time: '15:00:03' });
const PINGAN = sinaFields({ name: '平安银行', open: '11.880', prev: '11.850', price: '11.910', date: '2025-06-13', time: '15:00:00' });

/** Sina's answer: GBK, one statement per code, in the order asked. */
function sinaBody(records: Readonly<Record<string, string>>): Buffer {
  return gbk(Object.entries(records).map(([code, body]) => `var hq_str_${code}="${body}";\n`).join(''));
}

/** Sina refuses a request without its Referer with 403, as the real one does since 2022. */
function sinaLike(answer: (req: RecordedRequest) => Reply): (req: RecordedRequest) => Reply {
  return (req) => (req.headers['referer'] === 'https://finance.sina.com.cn' ? answer(req) : { status: 403, body: 'Kinsoku jikou desu!' });
}

let server: HttpTestServer;
const feeds: PollingQuoteFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  await server?.close();
});

function feed(symbols: string[], scheduler: EpochVirtualScheduler, extra: { timeoutMs?: number } = {}) {
  const f = new PollingQuoteFeed(sinaSource({ baseUrl: server.url }), {
    symbols,
    intervalMs: 3_000,
    timeoutMs: extra.timeoutMs ?? 2_000,
    scheduler,
  });
  feeds.push(f);
  return f;
}

describe('Sina quotes against a real local server', () => {
  it('asks /list=<codes> with the Referer, decodes GBK and delivers exact prices at the exchange time', async () => {
    server = await HttpTestServer.start(sinaLike(() => ({ body: sinaBody({ sh600519: MOUTAI, sz000001: PINGAN }) })));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH', '000001.SZ'], scheduler);
    const seen = record(f);
    await f.start();
    expect(server.requests.map((r) => r.url)).toEqual(['/list=sh600519,sz000001']);
    expect(server.requests[0]?.headers['referer']).toBe('https://finance.sina.com.cn');
    expect(seen.quotes).toEqual([
      { symbol: '600519.SH', price: '1436.000', atMs: Date.UTC(2025, 5, 13, 7, 0, 3), source: 'sina' },
      { symbol: '000001.SZ', price: '11.910', atMs: Date.UTC(2025, 5, 13, 7, 0, 0), source: 'sina' },
    ]);
    expect(f.status('600519.SH')).toMatchObject({ state: 'ok', name: '贵州茅台', source: 'sina', atMs: START });
    expect(f.status('000001.SZ')?.name).toBe('平安银行');
    expect(f.health()).toMatchObject({ source: 'sina', connected: true, quotes: 2, malformed: 0, failures: 0, lastQuoteMs: Date.UTC(2025, 5, 13, 7, 0, 3) });
    expect(f.last('600519.SH')?.price).toBe('1436.000');
  });

  it('gives a halted stock (status 03) and a 0 price no quote and reports them halted', async () => {
    const halted = sinaFields({ name: '万科Ａ', open: '0.000', prev: '7.080', price: '0.000', date: '2025-06-13', time: '15:00:00', status: '03' });
    const noTrade = sinaFields({ name: '平安银行', open: '0.000', prev: '11.850', price: '0.000', date: '2025-06-13', time: '09:20:00' });
    server = await HttpTestServer.start(sinaLike(() => ({ body: sinaBody({ sh600519: MOUTAI, sz000002: halted, sz000001: noTrade }) })));
    const f = feed(['600519.SH', '000002.SZ', '000001.SZ'], new EpochVirtualScheduler(START));
    const seen = record(f);
    await f.start();
    expect(seen.quotes.map((q) => q.symbol)).toEqual(['600519.SH']);
    expect(f.status('000002.SZ')).toMatchObject({ state: 'halted', name: '万科Ａ', reason: 'sina: status 03, halted (continuing suspension)' });
    expect(f.status('000001.SZ')).toMatchObject({ state: 'halted', reason: expect.stringContaining('price 0') });
    expect(f.health()).toMatchObject({ halted: ['000002.SZ', '000001.SZ'], malformed: 0, failures: 0 });
    expect(f.last('000002.SZ')).toBeUndefined();
  });

  it('reports an empty record as an unknown code, not as malformed', async () => {
    server = await HttpTestServer.start(sinaLike(() => ({ body: sinaBody({ sh600519: MOUTAI, sh688999: '' }) })));
    const f = feed(['600519.SH', '688999.SH'], new EpochVirtualScheduler(START));
    await f.start();
    expect(f.status('688999.SH')).toMatchObject({ state: 'unknown', reason: 'sina: no such code (empty record)' });
    expect(f.health()).toMatchObject({ quotes: 1, malformed: 0, failures: 0 });
  });

  it('counts a 403 (what Sina answers without the Referer) as a failed poll, and the next poll recovers', async () => {
    let refuse = true;
    server = await HttpTestServer.start((req) => (refuse ? { status: 403, body: 'Kinsoku jikou desu!' } : sinaLike(() => ({ body: sinaBody({ sh600519: MOUTAI }) }))(req)));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler);
    const seen = record(f);
    await expect(f.start()).rejects.toThrow(/HTTP 403.*Referer/);
    expect(f.health()).toMatchObject({ connected: false, failures: 1, lastError: expect.stringContaining('sina: HTTP 403') });
    expect(f.status('600519.SH')).toMatchObject({ state: 'error' });
    refuse = false;
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(seen.quotes).toHaveLength(1);
    expect(f.health()).toMatchObject({ connected: true, failures: 1, polls: 2 });
    expect(seen.completed()).toBe(false);
  });

  it('counts HTTP 500 and an empty body as failures and keeps polling', async () => {
    const answers: Reply[] = [{ status: 500, body: 'oops' }, { body: '' }, { body: sinaBody({ sh600519: MOUTAI }) }];
    server = await HttpTestServer.start(sinaLike(() => answers.shift() ?? { status: 500 }));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler);
    const seen = record(f);
    await expect(f.start()).rejects.toThrow(/HTTP 500/);
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(f.health()).toMatchObject({ failures: 2, lastError: 'sina: empty answer' });
    scheduler.advanceTo(START + 6_000);
    await f.settled();
    expect(seen.quotes).toHaveLength(1);
    expect(f.health()).toMatchObject({ failures: 2, polls: 3, connected: true });
  });

  it('counts and skips a malformed line, keeping the good ones; an answer with no readable line is a failure', async () => {
    const malformed: string[] = [];
    let body: Buffer = Buffer.concat([gbk('var hq_str_sh600519="贵州茅台,1,2,3";\n'), gbk('<html>oops</html>\n'), sinaBody({ sz000001: PINGAN })]);
    server = await HttpTestServer.start(sinaLike(() => ({ body })));
    const scheduler = new EpochVirtualScheduler(START);
    const f = new PollingQuoteFeed(sinaSource({ baseUrl: server.url }), {
      symbols: ['600519.SH', '000001.SZ'],
      intervalMs: 3_000,
      timeoutMs: 2_000,
      scheduler,
      onMalformed: (m) => malformed.push(`${m.source}: ${m.reason}`),
    });
    feeds.push(f);
    const seen = record(f);
    await f.start();
    expect(seen.quotes.map((q) => q.symbol)).toEqual(['000001.SZ']);
    expect(malformed).toEqual(['sina: expected at least 32 fields, got 4', 'sina: not a "var hq_str_<code>=...;" line']);
    expect(f.health()).toMatchObject({ malformed: 2, failures: 0 });
    expect(f.status('600519.SH')).toMatchObject({ state: 'unknown', reason: 'sina: unreadable record (expected at least 32 fields, got 4)' });

    body = gbk('<html><body>502 Bad Gateway</body></html>');
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(f.health()).toMatchObject({ malformed: 3, failures: 1, lastError: 'sina: no readable record in the answer' });
  });

  it('times out a slow answer on the injected scheduler, then carries on', async () => {
    let slow = true;
    server = await HttpTestServer.start(sinaLike(() => (slow ? 'hang' : { body: sinaBody({ sh600519: MOUTAI }) })));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler, { timeoutMs: 2_000 });
    const seen = record(f);
    const started = f.start();
    await eventually(() => expect(server.hanging).toBe(1));
    scheduler.advanceTo(START + 1_999);
    expect(f.health().failures).toBe(0);
    scheduler.advanceTo(START + 2_000);
    await expect(started).rejects.toThrow('sina: no answer within 2000 ms');
    expect(f.health()).toMatchObject({ failures: 1, lastError: 'sina: no answer within 2000 ms' });
    slow = false;
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(seen.quotes).toHaveLength(1);
  });

  it('skips a tick while the previous poll is still waiting for its answer', async () => {
    server = await HttpTestServer.start(sinaLike(() => 'hang'));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler, { timeoutMs: 10_000 });
    const started = f.start().catch((e: unknown) => e);
    await eventually(() => expect(server.hanging).toBe(1));
    scheduler.advanceTo(START + 6_000);
    expect(f.health()).toMatchObject({ polls: 1, skippedPolls: 2 });
    expect(server.requests).toHaveLength(1);
    scheduler.advanceTo(START + 10_000);
    expect(await started).toBeInstanceOf(Error);
  });

  it('does not deliver the same quote twice, but does deliver a new time', async () => {
    let time = '15:00:03';
    server = await HttpTestServer.start(sinaLike(() => ({ body: sinaBody({ sh600519: sinaFields({ name: '贵州茅台', open: '1429.000', prev: '1425.010', price: '1436.000', date: '2025-06-13', time }) }) })));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed(['600519.SH'], scheduler);
    const seen = record(f);
    await f.start();
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(seen.quotes).toHaveLength(1);
    expect(f.health()).toMatchObject({ quotes: 1, duplicates: 1, polls: 2 });
    time = '15:00:06';
    scheduler.advanceTo(START + 6_000);
    await f.settled();
    expect(seen.quotes.map((q) => q.atMs)).toEqual([Date.UTC(2025, 5, 13, 7, 0, 3), Date.UTC(2025, 5, 13, 7, 0, 6)]);
  });

  it('asks at most maxBatch codes per request', async () => {
    const symbols = Array.from({ length: 120 }, (_, i) => `${String(600000 + i)}.SH`);
    server = await HttpTestServer.start(
      sinaLike((req) => {
        const codes = req.url.slice('/list='.length).split(',');
        return { body: sinaBody(Object.fromEntries(codes.map((c) => [c, sinaFields({ name: c, open: '1.000', prev: '1.000', price: '1.010', date: '2025-06-13', time: '10:00:00' })]))) };
      }),
    );
    const f = feed(symbols, new EpochVirtualScheduler(START));
    const seen = record(f);
    await f.start();
    expect(server.requests.map((r) => r.url.split(',').length)).toEqual([50, 50, 20]);
    expect(seen.quotes).toHaveLength(120);
    expect(f.health().requests).toBe(3);
  });
});

describe('parseSinaAnswer', () => {
  it('reads the documented layout (fields 0, 3, 30, 31, 32) and ignores codes nobody asked for', () => {
    const text = `var hq_str_sh600519="${MOUTAI}";\nvar hq_str_sh600000="${PINGAN}";\n`;
    const answer = parseSinaAnswer(text, parseCnSymbols(['600519.SH']));
    expect(answer).toEqual({
      results: [{ symbol: '600519.SH', state: 'ok', name: '贵州茅台', quote: { symbol: '600519.SH', price: '1436.000', atMs: Date.UTC(2025, 5, 13, 7, 0, 3), source: 'sina' } }],
      malformed: [],
      recognised: 2,
    });
  });

  it('accepts the older 32-field layout without a status, and refuses a price that is not a decimal', () => {
    const old = MOUTAI.split(',').slice(0, 32).join(',');
    const bad = MOUTAI.replace('1436.000', '1,436').split(',').slice(0, 33).join(',');
    expect(parseSinaAnswer(`var hq_str_sh600519="${old}";`, parseCnSymbols(['600519.SH'])).results[0]?.state).toBe('ok');
    expect(parseSinaAnswer(`var hq_str_sh600519="${bad.replace(',436', 'x')}";`, parseCnSymbols(['600519.SH'])).malformed[0]?.reason).toMatch(/price \(field 3\)/);
  });
});
