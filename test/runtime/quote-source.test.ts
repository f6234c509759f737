/** The config's live quote source, built as the process builds it, against real local servers. */
import { describe, expect, it } from 'vitest';
import { openQuoteSource } from '../../src/runtime/quote-source.js';
import { parseConfig } from '../../src/config/load.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { AlpacaTestServer } from '../support/alpaca-server.js';
import { gbk, HttpTestServer, sinaFields } from '../streams/cn-quotes/helpers.js';
import { closesOn } from '../support/history.js';
import { eventually } from '../support/eventually.js';
import { DateTime } from 'luxon';
import type { QuoteSource } from '../../src/runtime/quote-source.js';

const model = { name: 'ew', signature: 'ew', agent: { kind: 'rules' } };

describe('openQuoteSource', () => {
  it('alpaca: key and secret from the variables the config names, trades of the symbols', async () => {
    const server = await AlpacaTestServer.start({ key: 'key-id', secret: 'the-secret' });
    try {
      const config = parseConfig(
        { mode: 'paper', market: 'us', frequency: 'hourly', data_source: { type: 'alpaca', alpaca_url: server.url, key_env: 'ALPACA_KEY', secret_env: 'ALPACA_SECRET', symbols: ['AAPL'] }, models: [model] },
        'test',
      );
      await expect(openQuoteSource(config, { symbols: ['AAPL'], env: {} })).rejects.toThrow('environment variable ALPACA_KEY is not set (named by data_source.key_env)');
      // A previous close to judge the first print by (without one it waits for confirmations: price-sanity.test.ts).
      const history = closesOn('us', '2025-11-06', { AAPL: '270.00' });
      const source = await openQuoteSource(config, { symbols: ['AAPL'], env: { ALPACA_KEY: 'key-id', ALPACA_SECRET: 'the-secret' }, history });
      try {
        expect([source.speed, source.until, source.describe]).toEqual([1, undefined, `Alpaca v2 trades of 1 symbol from ${server.url}`]);
        const got = new Promise((resolve) => source.feed.quotes.subscribe((q) => resolve(q)));
        server.pushTrades([{ S: 'AAPL', p: 271.0884, t: '2025-11-07T15:00:00Z' }]);
        expect(await got).toEqual({ symbol: 'AAPL', price: '271.0884', atMs: Date.parse('2025-11-07T15:00:00Z'), source: 'alpaca' });
      } finally {
        await source.close();
      }
    } finally {
      await server.close();
    }
  });

  it('sina with fallbacks: polled through the configured base URL, GBK decoded', async () => {
    const server = await HttpTestServer.start(() => ({
      status: 200,
      contentType: 'application/javascript; charset=GBK',
      body: gbk(`var hq_str_sh600519="${sinaFields({ name: '贵州茅台', open: '1436.00', prev: '1430.00', price: '1441.50', date: '2025-11-18', time: '10:05:03' })}";\n`),
    }));
    try {
      const config = parseConfig(
        { mode: 'paper', market: 'cn', data_source: { type: 'sina', fallback: ['tencent'], symbols: ['600519.SH'], source_urls: { sina: server.url, tencent: server.url } }, models: [model] },
        'test',
      );
      const wall = new EpochVirtualScheduler(Date.parse('2025-11-18T02:05:05Z'));
      const source = await openQuoteSource(config, { symbols: ['600519.SH'], wall, history: closesOn('cn', '2025-11-17', { '600519.SH': '1430.00' }) });
      expect(source.describe).toBe('sina -> tencent quotes of 1 symbol, polled every 3 s');
      expect(source.feed.last('600519.SH')).toMatchObject({ price: '1441.50', source: 'sina' });
      expect(server.requests[0]!.headers['referer']).toBe('https://finance.sina.com.cn');
      await source.close();
    } finally {
      await server.close();
    }
  });
});

describe('openQuoteSource when a polled source does not answer at start', () => {
  const sina = () => ({
    status: 200,
    contentType: 'application/javascript; charset=GBK',
    body: gbk(`var hq_str_sh600519="${sinaFields({ name: '贵州茅台', open: '1436.00', prev: '1430.00', price: '1441.50', date: '2025-11-18', time: '10:00:00' })}";\n`),
  });
  const cfg = (url: string) => parseConfig({ mode: 'paper', market: 'cn', data_source: { type: 'sina', symbols: ['600519.SH'], source_urls: { sina: url } }, models: [model] }, 'test');
  /** A port nothing listens on (connections refused), free to take back later. */
  const refusedPort = async () => {
    const s = await HttpTestServer.start();
    const port = Number(new URL(s.url).port);
    await s.close();
    return port;
  };
  /** Move virtual time to the next poll and wait (on real I/O) until it has ended and the one after is scheduled. */
  async function nextPoll(wall: EpochVirtualScheduler, source: QuoteSource): Promise<number> {
    const due = source.feed.health().nextPollMs!;
    wall.advanceTo(due);
    await eventually(() => expect(source.feed.health().nextPollMs).toBeGreaterThan(due));
    return due;
  }

  it('opens anyway at night, polls every 15 minutes while the market is closed, and says quotes are missing', async () => {
    const port = await refusedPort();
    const wall = new EpochVirtualScheduler(DateTime.fromISO('2025-11-18T02:00:00', { zone: 'Asia/Shanghai' }).toMillis());
    const problems: string[] = [];
    const source = await openQuoteSource(cfg(`http://127.0.0.1:${port}`), { symbols: ['600519.SH'], wall, onProblem: (t) => problems.push(t) });
    try {
      expect(problems).toEqual([expect.stringMatching(/^quotes missing: no quote source answered the first poll: .*ECONNREFUSED.*; polling goes on with back-off \(next poll 2025-11-18T02:15:00\.000\+08:00\)$/)]);
      expect(source.feed.health()).toMatchObject({ connected: false, unavailableSinceMs: wall.now(), consecutiveFailures: 1 });
      const polls: number[] = [];
      for (let i = 0; i < 4; i++) polls.push(await nextPoll(wall, source));
      const t0 = DateTime.fromISO('2025-11-18T02:00:00', { zone: 'Asia/Shanghai' }).toMillis();
      expect(polls.map((ms) => (ms - t0) / 60_000)).toEqual([15, 30, 45, 60]);
      expect(source.feed.health()).toMatchObject({ polls: 5, consecutiveFailures: 5, unavailableSinceMs: t0 });
    } finally {
      await source.close();
    }
    expect(wall.actions).toHaveLength(0); // no timer left behind
  });

  it('while open: refused, then HTTP 500, the waits double; once it answers, every 3 s again and no longer missing', async () => {
    const port = await refusedPort();
    const t0 = DateTime.fromISO('2025-11-18T10:00:00', { zone: 'Asia/Shanghai' }).toMillis();
    const wall = new EpochVirtualScheduler(t0);
    const source = await openQuoteSource(cfg(`http://127.0.0.1:${port}`), { symbols: ['600519.SH'], wall, history: closesOn('cn', '2025-11-17', { '600519.SH': '1430.00' }) });
    let server: HttpTestServer | undefined;
    try {
      const gaps: number[] = [];
      let last = t0;
      const poll = async () => {
        const at = await nextPoll(wall, source);
        gaps.push((at - last) / 1000);
        last = at;
      };
      await poll(); // refused
      await poll();
      server = await HttpTestServer.start(() => ({ status: 500, body: 'down' }), port);
      await poll(); // 500
      await poll();
      expect(source.feed.health().lastError).toMatch(/500/);
      expect(source.feed.health().unavailableSinceMs).toBe(t0);
      server.reply = sina;
      await poll(); // answers
      expect(source.feed.health()).toMatchObject({ connected: true, consecutiveFailures: 0 });
      expect(source.feed.health().unavailableSinceMs).toBeUndefined();
      expect(source.feed.last('600519.SH')).toMatchObject({ price: '1441.50' });
      await poll();
      expect(gaps).toEqual([6, 12, 24, 48, 96, 3]);
    } finally {
      await source.close();
      await server?.close();
    }
  });

  it('broker: refused for a broker that gives no quotes (the schema refuses it first; a config built otherwise is refused here), naming the one that does', async () => {
    const config = parseConfig({ mode: 'paper', market: 'cn', data_source: { type: 'broker', symbols: ['600519.SH'] }, broker: { type: 'futu', futu: { trd_market: 'CN' } }, models: [model] }, 'test');
    await expect(openQuoteSource({ ...config, broker: { ...config.broker, type: 'simulated' } }, { symbols: ['600519.SH'] })).rejects.toThrow(
      'data_source.type: broker gives quotes with broker.type futu only (Futu OpenD\'s pushes); broker.type simulated has none',
    );
    // futu: the key's variable is read before anything connects
    await expect(openQuoteSource({ ...config, broker: { ...config.broker, futu: { ...config.broker.futu!, websocket_key_env: 'QS_T_FUTU_KEY' } } }, { symbols: ['600519.SH'], env: {} })).rejects.toThrow(
      'environment variable QS_T_FUTU_KEY is not set (named by broker.futu.websocket_key_env)',
    );
  });
});
