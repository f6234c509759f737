import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/domain/errors.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { PollingQuoteFeed, type PollingFeedOptions } from '../../../src/streams/cn-quotes/polling.js';
import { sinaSource } from '../../../src/streams/cn-quotes/sina.js';
import { CnQuoteError } from '../../../src/streams/cn-quotes/source.js';
import { HttpTestServer, eventually, gbk, record, shanghai, sinaFields, type RecordedRequest } from './helpers.js';

const START = shanghai('2025-06-13T10:00:00');

/** A Sina-format server that quotes every code it is asked for, at `time`, price `price(code)`. */
function quoting(state: { time: string; price?: (code: string) => string }) {
  return (req: RecordedRequest) => {
    const codes = req.url.slice('/list='.length).split(',');
    const lines = codes.map((c) => `var hq_str_${c}="${sinaFields({ name: '平安银行', open: '1.000', prev: '1.000', price: state.price?.(c) ?? '1.010', date: '2025-06-13', time: state.time })}";\n`);
    return { body: gbk(lines.join('')) };
  };
}
const asked = (server: HttpTestServer) => server.requests.map((r) => r.url.slice('/list='.length));

let server: HttpTestServer;
const feeds: PollingQuoteFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  await server?.close();
});

function feed(options: Partial<PollingFeedOptions> & { symbols: string[] }) {
  const f = new PollingQuoteFeed(sinaSource({ baseUrl: server.url }), { intervalMs: 3_000, timeoutMs: 2_000, ...options });
  feeds.push(f);
  return f;
}

describe('snapshot cache (use_cache / cache_ttl_seconds)', () => {
  it('answers a second snapshot within the TTL from the cache, without a request', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed({ symbols: [], scheduler, cacheTtlMs: 60_000 });
    const first = await f.snapshot(['600519.SH', '000001.SZ']);
    expect(first.fromCache).toEqual([]);
    expect(first.quotes.map((q) => q.symbol)).toEqual(['600519.SH', '000001.SZ']);
    scheduler.advanceTo(START + 59_999);
    const second = await f.snapshot(['000001.SZ', '600519.SH']);
    expect(server.requests).toHaveLength(1);
    expect(second.fromCache).toEqual(['000001.SZ', '600519.SH']);
    expect(second.quotes).toEqual([first.quotes[1], first.quotes[0]]);
    expect(second.status['600519.SH']).toMatchObject({ state: 'ok', source: 'sina', atMs: START });
    expect(f.health().cacheHits).toBe(2);
  });

  it('fetches again once the TTL has passed, and only the symbols not cached', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed({ symbols: [], scheduler, cacheTtlMs: 60_000 });
    await f.snapshot(['600519.SH']);
    scheduler.advanceTo(START + 30_000);
    await f.snapshot(['600519.SH', '000001.SZ']);
    scheduler.advanceTo(START + 60_000);
    await f.snapshot(['600519.SH', '000001.SZ']);
    expect(asked(server)).toEqual(['sh600519', 'sz000001', 'sh600519']);
  });

  it('reads the TTL from the injected now(), not from the scheduler, when one is given', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    let now = START;
    const f = feed({ symbols: [], scheduler: new EpochVirtualScheduler(START), now: () => now, cacheTtlMs: 1_000 });
    await f.fetchQuotes(['600519.SH']);
    await f.fetchQuotes(['600519.SH']);
    now += 1_000;
    await f.fetchQuotes(['600519.SH']);
    expect(server.requests).toHaveLength(2);
  });

  it('always fetches with useCache: false (and with a TTL of 0)', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    const noCache = feed({ symbols: [], scheduler: new EpochVirtualScheduler(START), useCache: false });
    await noCache.snapshot(['600519.SH']);
    const again = await noCache.snapshot(['600519.SH']);
    expect(again.fromCache).toEqual([]);
    expect(server.requests).toHaveLength(2);
    const zeroTtl = feed({ symbols: [], scheduler: new EpochVirtualScheduler(START), cacheTtlMs: 0 });
    await zeroTtl.snapshot(['600519.SH']);
    await zeroTtl.snapshot(['600519.SH']);
    expect(server.requests).toHaveLength(4);
  });

  it('is filled by polls, so a snapshot right after a poll needs no request', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    const f = feed({ symbols: ['600519.SH'], scheduler: new EpochVirtualScheduler(START) });
    await f.start();
    const snap = await f.snapshot(['600519.SH']);
    expect(snap.fromCache).toEqual(['600519.SH']);
    expect(server.requests).toHaveLength(1);
  });

  it('caches halted and unknown answers too, but never a failed request', async () => {
    let fail = true;
    server = await HttpTestServer.start((req) => (fail ? { status: 500 } : quoting({ time: '10:00:00', price: () => '0.000' })(req)));
    const f = feed({ symbols: [], scheduler: new EpochVirtualScheduler(START) });
    const failed = await f.snapshot(['600519.SH']);
    expect(failed).toMatchObject({ quotes: [], status: { '600519.SH': { state: 'error', reason: 'sina: HTTP 500' } } });
    fail = false;
    const halted = await f.snapshot(['600519.SH']);
    expect(halted.status['600519.SH']?.state).toBe('halted');
    await f.snapshot(['600519.SH']);
    expect(server.requests).toHaveLength(2);
  });
});

describe('the polling core', () => {
  it('polls the subscribed symbols every intervalMs on the scheduler, and setSymbols changes them', async () => {
    const state = { time: '10:00:00' };
    server = await HttpTestServer.start(quoting(state));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed({ symbols: ['600519.SH'], scheduler });
    await f.start();
    scheduler.advanceTo(START + 2_999);
    expect(server.requests).toHaveLength(1);
    f.setSymbols(['000001.SZ', '600519.SH']);
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(asked(server)).toEqual(['sh600519', 'sz000001,sh600519']);
  });

  it('does not let an older quote replace a newer one', async () => {
    const state = { time: '10:00:05' };
    server = await HttpTestServer.start(quoting(state));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed({ symbols: ['600519.SH'], scheduler });
    const seen = record(f);
    await f.start();
    state.time = '10:00:02';
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    expect(seen.quotes.map((q) => q.atMs)).toEqual([shanghai('2025-06-13T10:00:05')]);
    expect(f.last('600519.SH')?.atMs).toBe(shanghai('2025-06-13T10:00:05'));
    expect(f.health().duplicates).toBe(1);
  });

  it('delivers a corrected price at the same time, compared as decimals', async () => {
    const state = { time: '10:00:05', price: () => '1.010' };
    server = await HttpTestServer.start(quoting(state));
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed({ symbols: ['600519.SH'], scheduler });
    const seen = record(f);
    await f.start();
    state.price = () => '1.01';
    scheduler.advanceTo(START + 3_000);
    await f.settled();
    state.price = () => '1.02';
    scheduler.advanceTo(START + 6_000);
    await f.settled();
    expect(seen.quotes.map((q) => q.price)).toEqual(['1.010', '1.02']);
  });

  it('is stale for a symbol without a quote, or whose quote is older than maxAgeMs (by the quote\'s own time)', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    const f = feed({ symbols: ['600519.SH'], scheduler: new EpochVirtualScheduler(START) });
    await f.start();
    expect(f.isStale('600519.SH', START + 30_000, 30_000)).toBe(false);
    expect(f.isStale('600519.SH', START + 30_001, 30_000)).toBe(true);
    expect(f.isStale('000001.SZ', START, 30_000)).toBe(true);
  });

  it('close() completes the stream, stops polling, aborts the request in flight, and is idempotent', async () => {
    server = await HttpTestServer.start(() => 'hang');
    const scheduler = new EpochVirtualScheduler(START);
    const f = feed({ symbols: ['600519.SH'], scheduler, timeoutMs: 60_000 });
    const seen = record(f);
    const started = f.start().catch((e: unknown) => e);
    await eventually(() => expect(server.hanging).toBe(1));
    await Promise.all([f.close(), f.close()]);
    expect(seen.completed()).toBe(true);
    expect(await started).toMatchObject({ kind: 'closed' });
    expect(f.health().failures).toBe(0);
    scheduler.advanceTo(START + 30_000);
    expect(server.requests).toHaveLength(1);
    await expect(f.snapshot(['600519.SH'])).rejects.toBeInstanceOf(CnQuoteError);
    await expect(f.start()).rejects.toMatchObject({ kind: 'closed' });
  });

  it('counts a refused connection as a failure, naming the socket error', async () => {
    server = await HttpTestServer.start(quoting({ time: '10:00:00' }));
    const url = server.url;
    await server.close();
    const f = new PollingQuoteFeed(sinaSource({ baseUrl: url }), { symbols: ['600519.SH'], intervalMs: 3_000, timeoutMs: 2_000, scheduler: new EpochVirtualScheduler(START) });
    feeds.push(f);
    await expect(f.start()).rejects.toMatchObject({ kind: 'unavailable' });
    expect(f.health()).toMatchObject({ failures: 1, connected: false, lastError: expect.stringMatching(/^sina: request failed: ECONNREFUSED/) });
  });

  it('refuses bad symbols and bad timings with an InputError', () => {
    const source = sinaSource();
    expect(() => new PollingQuoteFeed(source, { symbols: ['600519'], intervalMs: 1_000, timeoutMs: 1_000 })).toThrow(InputError);
    expect(() => new PollingQuoteFeed(source, { symbols: [], intervalMs: 0, timeoutMs: 1_000 })).toThrow('polling interval must be > 0 ms');
    expect(() => new PollingQuoteFeed(source, { symbols: [], intervalMs: 1_000, timeoutMs: -1 })).toThrow('request timeout must be > 0 ms');
  });
});
