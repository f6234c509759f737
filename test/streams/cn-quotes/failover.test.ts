import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/domain/errors.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { FailoverPlan, createFailoverFeed, type SourceSwitch } from '../../../src/streams/cn-quotes/failover.js';
import { createCnQuoteFeed } from '../../../src/streams/cn-quotes/index.js';
import type { PollingQuoteFeed } from '../../../src/streams/cn-quotes/polling.js';
import { sinaSource } from '../../../src/streams/cn-quotes/sina.js';
import type { CnQuoteSource, CnSourceName } from '../../../src/streams/cn-quotes/source.js';
import { tencentSource } from '../../../src/streams/cn-quotes/tencent.js';
import { HttpTestServer, gbk, record, shanghai, sinaFields, tencentFields, type Reply } from './helpers.js';

const START = shanghai('2025-06-13T10:00:00');
const SINA_OK: Reply = { body: gbk(`var hq_str_sh600519="${sinaFields({ name: '贵州茅台', open: '1429.000', prev: '1425.010', price: '1436.000', date: '2025-06-13', time: '10:00:00' })}";\n`) };
const tencentOk = (time: string): Reply => ({
  body: gbk(`v_sh600519="${tencentFields({ market: '1', name: '贵州茅台', code: '600519', price: '1436.10', prev: '1425.01', open: '1429.00', volume: '21064', time })}";\n`),
});

/** A source that is only a name: FailoverPlan never calls fetchBatch. */
const named = (name: CnSourceName): CnQuoteSource => ({ name, maxBatch: 50, fetchBatch: () => Promise.reject(new Error('not used')) });

describe('FailoverPlan', () => {
  const [a, b, c] = [named('sina'), named('tencent'), named('eastmoney')] as const;

  it('switches to the next source after K consecutive failed polls, and a success resets the count', () => {
    const switches: SourceSwitch[] = [];
    const plan = new FailoverPlan([a, b, c], { failuresBeforeSwitch: 2, onSwitch: (s) => switches.push(s) });
    expect(plan.pick(0)).toBe(a);
    expect(plan.report(a, { ok: false, error: 'x' }, 1, false)).toBe(false);
    plan.report(a, { ok: true }, 2, false);
    plan.report(a, { ok: false, error: 'x' }, 3, false);
    expect(plan.pick(4)).toBe(a);
    expect(plan.report(a, { ok: false, error: 'sina: HTTP 500' }, 5, false)).toBe(false);
    expect(plan.pick(6)).toBe(b);
    expect(plan.label()).toBe('failover:tencent');
    expect(switches).toEqual([{ from: 'sina', to: 'tencent', reason: 'sina failed 2 consecutive polls: sina: HTTP 500', atMs: 5 }]);
  });

  it('switches at once on an urgent (start / snapshot) failure and asks for a retry; wraps around at the end', () => {
    const plan = new FailoverPlan([a, b], { failuresBeforeSwitch: 5 });
    expect(plan.report(a, { ok: false }, 0, true)).toBe(true);
    expect(plan.current).toBe('tencent');
    expect(plan.report(b, { ok: false }, 0, true)).toBe(true);
    expect(plan.current).toBe('sina');
  });

  it('probes the primary after primaryRetryMs: back on success, another period on failure (retried on the fallback)', () => {
    const switches: string[] = [];
    const plan = new FailoverPlan([a, b, c], { failuresBeforeSwitch: 1, primaryRetryMs: 1_000, onSwitch: (s) => switches.push(`${s.from}->${s.to}@${s.atMs}`) });
    plan.report(a, { ok: false }, 100, false);
    expect(plan.pick(1_099)).toBe(b);
    expect(plan.pick(1_100)).toBe(a);
    expect(plan.report(a, { ok: false }, 1_100, false)).toBe(true);
    expect(plan.pick(1_100)).toBe(b);
    plan.report(b, { ok: true }, 1_100, false);
    expect(plan.pick(2_099)).toBe(b);
    expect(plan.pick(2_100)).toBe(a);
    expect(plan.report(a, { ok: true }, 2_100, false)).toBe(false);
    expect(plan.current).toBe('sina');
    expect(switches).toEqual(['sina->tencent@100', 'tencent->sina@2100']);
  });

  it('ignores an answer that raced a switch, and a throwing listener', () => {
    const plan = new FailoverPlan([a, b], {
      failuresBeforeSwitch: 1,
      onSwitch: () => {
        throw new Error('listener bug');
      },
    });
    plan.report(a, { ok: false }, 0, false);
    expect(plan.current).toBe('tencent');
    plan.report(c, { ok: false }, 0, false);
    expect(plan.current).toBe('tencent');
  });

  it('refuses an empty list, a source listed twice and K < 1', () => {
    expect(() => new FailoverPlan([])).toThrow(InputError);
    expect(() => new FailoverPlan([a, named('sina')])).toThrow('quote source "sina" is listed twice');
    expect(() => new FailoverPlan([a], { failuresBeforeSwitch: 0 })).toThrow(InputError);
  });
});

describe('failover between two real local servers', () => {
  let primary: HttpTestServer;
  let fallback: HttpTestServer;
  const feeds: PollingQuoteFeed[] = [];
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((f) => f.close()));
    await primary?.close();
    await fallback?.close();
  });

  async function setup(options: { failuresBeforeSwitch?: number; primaryRetryMs?: number } = {}) {
    const scheduler = new EpochVirtualScheduler(START);
    const switches: SourceSwitch[] = [];
    const feed = createFailoverFeed([sinaSource({ baseUrl: primary.url }), tencentSource({ baseUrl: fallback.url })], {
      symbols: ['600519.SH'],
      intervalMs: 3_000,
      timeoutMs: 2_000,
      scheduler,
      onSwitch: (s) => switches.push(s),
      ...options,
    });
    feeds.push(feed);
    return { scheduler, switches, feed, seen: record(feed) };
  }
  async function pollAt(s: { scheduler: EpochVirtualScheduler; feed: PollingQuoteFeed }, offsetMs: number) {
    s.scheduler.advanceTo(START + offsetMs);
    await s.feed.settled();
  }

  it('start(): the primary answers 500, so the fallback serves at once, and the switch is reported', async () => {
    primary = await HttpTestServer.start(() => ({ status: 500, body: 'internal error' }));
    fallback = await HttpTestServer.start(() => tencentOk('20250613100000'));
    const s = await setup();
    await s.feed.start();
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(1);
    expect(s.seen.quotes).toEqual([{ symbol: '600519.SH', price: '1436.10', atMs: START, source: 'tencent' }]);
    expect(s.switches).toEqual([{ from: 'sina', to: 'tencent', reason: 'sina failed: sina: HTTP 500', atMs: START }]);
    expect(s.feed.health()).toMatchObject({ source: 'failover:tencent', connected: true, failures: 1, lastError: 'sina: HTTP 500' });

    await pollAt(s, 3_000);
    expect(primary.requests).toHaveLength(1);
    expect(fallback.requests).toHaveLength(2);
  });

  it('switches after K consecutive failed polls, and comes back to the primary after the period', async () => {
    let primaryUp = true;
    primary = await HttpTestServer.start(() => (primaryUp ? SINA_OK : { status: 500 }));
    let tencentTime = '20250613100100';
    fallback = await HttpTestServer.start(() => tencentOk(tencentTime));
    const s = await setup({ failuresBeforeSwitch: 2, primaryRetryMs: 10_000 });
    await s.feed.start();
    expect(s.feed.health().source).toBe('failover:sina');

    primaryUp = false;
    await pollAt(s, 3_000);
    expect(s.switches).toEqual([]);
    await pollAt(s, 6_000);
    expect(s.switches.map((w) => `${w.from}->${w.to}@${w.atMs - START}`)).toEqual(['sina->tencent@6000']);
    expect(fallback.requests).toHaveLength(0); // the poll that failed waits for the next tick
    await pollAt(s, 9_000);
    expect(fallback.requests).toHaveLength(1);
    expect(s.feed.health()).toMatchObject({ source: 'failover:tencent', failures: 2, connected: true });

    // At 18 000 (18 000 - 6 000 >= 10 000) a poll probes the primary, still down, so the fallback answers it.
    tencentTime = '20250613100200';
    await pollAt(s, 12_000);
    await pollAt(s, 15_000);
    expect(primary.requests).toHaveLength(3);
    await pollAt(s, 18_000);
    expect(primary.requests).toHaveLength(4);
    expect(fallback.requests).toHaveLength(4);
    expect(s.feed.health()).toMatchObject({ source: 'failover:tencent', failures: 3 });
    expect(s.seen.quotes.map((q) => q.source)).toEqual(['sina', 'tencent', 'tencent']);

    // The next probe is a period after the failed one; this time the primary answers and serves again.
    primaryUp = true;
    await pollAt(s, 27_000);
    expect(primary.requests).toHaveLength(4);
    await pollAt(s, 30_000);
    expect(primary.requests).toHaveLength(5);
    expect(s.switches.map((w) => `${w.from}->${w.to}@${w.atMs - START}: ${w.reason}`)).toEqual([
      'sina->tencent@6000: sina failed 2 consecutive polls: sina: HTTP 500',
      'tencent->sina@30000: sina answers again',
    ]);
    expect(s.feed.health().source).toBe('failover:sina');
    await pollAt(s, 33_000);
    expect(primary.requests).toHaveLength(6);
  });

  it('snapshot() on a failing primary is answered by the fallback in the same call', async () => {
    primary = await HttpTestServer.start(() => ({ status: 500 }));
    fallback = await HttpTestServer.start(() => tencentOk('20250613100000'));
    const s = await setup({ failuresBeforeSwitch: 3 });
    const snap = await s.feed.snapshot(['600519.SH']);
    expect(snap.quotes.map((q) => q.source)).toEqual(['tencent']);
    expect(snap.status['600519.SH']).toMatchObject({ state: 'ok', source: 'tencent' });
    expect(s.feed.health().source).toBe('failover:tencent');
  });

  it('start() rejects when every source fails, and polling goes on', async () => {
    primary = await HttpTestServer.start(() => ({ status: 500 }));
    fallback = await HttpTestServer.start(() => ({ status: 503 }));
    const s = await setup();
    await expect(s.feed.start()).rejects.toThrow('no quote source answered the first poll: tencent: HTTP 503');
    expect(s.feed.health()).toMatchObject({ failures: 2, connected: false, source: 'failover:sina' });
    fallback.reply = () => tencentOk('20250613100000');
    await pollAt(s, 3_000);
    await pollAt(s, 6_000);
    await pollAt(s, 9_000);
    await pollAt(s, 12_000);
    expect(s.seen.quotes).toHaveLength(1);
    expect(s.feed.health().source).toBe('failover:tencent');
  });
});

describe('createCnQuoteFeed', () => {
  let server: HttpTestServer;
  afterEach(async () => server?.close());

  it('builds a plain feed for one source and a failover feed for several, on the URLs given', async () => {
    server = await HttpTestServer.start((req) => (req.url.startsWith('/list=') ? { status: 500 } : tencentOk('20250613100000')));
    const common = { symbols: ['600519.SH'], intervalMs: 3_000, timeoutMs: 2_000, useCache: true, cacheTtlMs: 60_000, scheduler: new EpochVirtualScheduler(START) };
    const single = createCnQuoteFeed({ ...common, sources: ['tencent'], urls: { tencent: server.url } });
    expect(single.health().source).toBe('tencent');
    await single.close();
    const switches: string[] = [];
    const chain = createCnQuoteFeed({ ...common, sources: ['sina', 'tencent', 'eastmoney'], urls: { sina: server.url, tencent: server.url, eastmoney: server.url }, onSwitch: (s) => switches.push(s.to) });
    expect(chain.health().source).toBe('failover:sina');
    await chain.start();
    expect(switches).toEqual(['tencent']);
    expect(chain.last('600519.SH')?.source).toBe('tencent');
    await chain.close();
  });

  it('refuses no source, an unknown one, tushare without a token, and bad symbols', () => {
    const common = { symbols: ['600519.SH'], intervalMs: 3_000, timeoutMs: 2_000, useCache: true, cacheTtlMs: 60_000 };
    expect(() => createCnQuoteFeed({ ...common, sources: [] })).toThrow(InputError);
    expect(() => createCnQuoteFeed({ ...common, sources: ['akshare' as CnSourceName] })).toThrow('unknown A-share quote source "akshare"');
    expect(() => createCnQuoteFeed({ ...common, sources: ['sina', 'tushare'] })).toThrow(/tushare quote source needs a token/);
    expect(() => createCnQuoteFeed({ ...common, sources: ['sina'], symbols: ['AAPL'] })).toThrow('not an A-share symbol: "AAPL"');
    expect(() => createCnQuoteFeed({ ...common, sources: ['sina', 'sina'] })).toThrow('listed twice');
  });
});
