/** The config's live quote source, built as the process builds it, against real local servers. */
import { describe, expect, it } from 'vitest';
import { openQuoteSource } from '../../src/runtime/quote-source.js';
import { parseConfig } from '../../src/config/load.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { AlpacaTestServer } from '../support/alpaca-server.js';
import { gbk, HttpTestServer, sinaFields } from '../streams/cn-quotes/helpers.js';
import { closesOn } from '../support/history.js';

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

describe('openQuoteSource when the source fails at start', () => {
  it('rejects and closes the feed: no poll after the failure', async () => {
    const server = await HttpTestServer.start(() => ({ status: 500, body: 'down' }));
    try {
      const config = parseConfig({ mode: 'paper', market: 'cn', data_source: { type: 'sina', symbols: ['600519.SH'], source_urls: { sina: server.url } }, models: [model] }, 'test');
      const wall = new EpochVirtualScheduler(Date.parse('2025-11-18T02:05:05Z'));
      await expect(openQuoteSource(config, { symbols: ['600519.SH'], wall })).rejects.toThrow(/sina/);
      const asked = server.requests.length;
      expect(asked).toBeGreaterThan(0);
      wall.advanceTo(wall.now() + 60_000); // twenty poll intervals
      await new Promise((r) => setImmediate(r));
      expect(server.requests.length).toBe(asked);
      expect(wall.actions).toHaveLength(0); // no timer left behind
    } finally {
      await server.close();
    }
  });
});
