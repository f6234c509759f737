/**
 * A paper run when its quote feed fails for good: one QUOTE_FEED_FAILED alert on the feed,
 * no unhandled error (it would take the process down), and a clean stop afterwards. And an
 * A-share run whose polled source is down from the start: it runs, says so, and recovers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { startPaper } from '../../src/runtime/paper.js';
import { openStore } from '../../src/actors/store/store.js';
import { parseConfig } from '../../src/config/load.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import { AlpacaQuoteStream } from '../../src/streams/alpaca-quotes.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { AlpacaTestServer } from '../support/alpaca-server.js';
import { eventually } from '../support/eventually.js';
import { gbk, HttpTestServer, sinaFields } from '../streams/cn-quotes/helpers.js';
import { openQuoteSource } from '../../src/runtime/quote-source.js';
import { assessHealth } from '../../src/domain/health.js';
import { DashboardStateSchema } from '../../src/domain/dashboard-state.js';

const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;

describe('paper run with a quote feed that fails for good', () => {
  it('alerts QUOTE_FEED_FAILED once and stops cleanly', async () => {
    const server = await AlpacaTestServer.start({ key: 'k', secret: 's' });
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-fail-'));
    try {
      const history = await loadPriceStore(SAMPLE, { market: 'us' });
      const config = parseConfig(
        { mode: 'paper', market: 'us', frequency: 'hourly', data_source: { type: 'replay', bars_file: SAMPLE }, models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules' } }] },
        'test',
      );
      const wall = new EpochVirtualScheduler(DateTime.fromISO('2025-11-07T10:30', { zone: 'America/New_York' }));
      const feed = new AlpacaQuoteStream({ url: server.url, key: 'k', secret: 's', trades: ['AAPL'], reconnect: { baseMs: 1000, jitter: 0 }, heartbeat: false, scheduler: wall });
      await feed.start();
      const run = await startPaper({ config, outDir: dir, scheduler: wall, wall, quotes: feed, history, killSwitch: new KillSwitch(dir, () => wall.now(), { pollMs: 60_000 }) });
      const events: FeedEvent[] = [];
      run.events.subscribe((e) => events.push(e));

      // The key is revoked: the reconnect's auth is refused, which is fatal for the stream.
      server.setCredentials({ key: 'other', secret: 'other' });
      server.dropConnections();
      const failed = () => events.filter((e) => e.type === 'alert' && e.payload['code'] === 'QUOTE_FEED_FAILED');
      for (let i = 0; i < 50 && failed().length === 0; i++) {
        wall.advanceTo(wall.now() + 500);
        await new Promise((r) => setImmediate(r));
        await run.runtime.flush(); // the feed hears of the alert once its step is committed
      }
      expect(failed()).toHaveLength(1);
      expect(failed()[0]!.payload['level']).toBe('critical');
      expect(JSON.stringify(failed())).not.toContain('"s"');

      await run.stop();
      const store = await openStore(join(dir, 'state')); // released
      await store.close();
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('A-share paper run with no network', () => {
  const CN_HOURLY = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
  const at = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' }).toMillis();

  it('starts, alerts QUOTE_SOURCE_DOWN, shows the missing quotes and the next session on /health and the dashboard, and recovers', async () => {
    // Connections to this port are refused until the server takes it back.
    const probe = await HttpTestServer.start();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-offline-'));
    let server: HttpTestServer | undefined;
    try {
      const config = parseConfig(
        {
          mode: 'paper',
          market: 'cn',
          frequency: 'hourly',
          data_source: { type: 'sina', symbols: ['600519.SH'], source_urls: { sina: `http://127.0.0.1:${port}` }, bars_file: CN_HOURLY },
          models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules' } }],
        },
        'test',
      );
      const wall = new EpochVirtualScheduler(at('2025-11-18T02:00:00'));
      const history = await loadPriceStore(CN_HOURLY, { market: 'cn' });
      const source = await openQuoteSource(config, { symbols: ['600519.SH'], wall, history });
      const run = await startPaper({ config, outDir: dir, scheduler: source.scheduler, wall, quotes: source.feed, history, universe: ['600519.SH'], killSwitch: new KillSwitch(dir, () => wall.now(), { pollMs: 60_000 }) });
      const events: FeedEvent[] = [];
      run.events.subscribe((e) => events.push(e));
      const alerts = (code: string) => events.filter((e) => e.type === 'alert' && e.payload['code'] === code);
      /** Virtual time `ms` on, one scheduled action at a time; a poll's real request ends before time moves again. */
      const advance = async (ms: number) => {
        const target = wall.now() + ms;
        while (wall.now() < target) {
          wall.advanceTo(Math.min(wall.actions[0]?.delay ?? target, target));
          await eventually(() => expect(source.feed.health().nextPollMs).toBeGreaterThan(wall.now()));
          await run.runtime.flush();
        }
      };

      await advance(5_000); // the monitor's first look
      expect(alerts('QUOTE_SOURCE_DOWN')).toHaveLength(1);
      expect(alerts('QUOTE_SOURCE_DOWN')[0]!.payload).toMatchObject({ level: 'warning', message: expect.stringMatching(/^quotes are missing: sina has not answered for 5 s \(1 poll failed in a row; last: .*ECONNREFUSED.*\); polling goes on with back-off, next poll in 895 s$/) });
      const health = run.health();
      expect(health.clock).toMatchObject({ running: true, nextSessionAt: '2025-11-18T10:35:00.000+08:00' });
      expect(health.quotes).toMatchObject({ missing: true, missingSince: '2025-11-18T02:00:00.000+08:00', lastError: expect.stringContaining('ECONNREFUSED'), nextPollAt: '2025-11-18T02:15:00.000+08:00', fresh: true });
      expect(health['heartbeats']).toMatchObject({ quoteSource: { ok: false, code: 'QUOTE_SOURCE_DOWN' } });
      expect(assessHealth(health)).toMatchObject({ status: 'degraded', httpStatus: 503, problems: [expect.stringMatching(/^quotes are missing: sina is not answering \(.*ECONNREFUSED.*\)$/)] });
      const state = DashboardStateSchema.parse(await run.state());
      expect(state).toMatchObject({ quotes: { source: 'sina', missing: true, nextPollAt: '2025-11-18T02:15:00.000+08:00' }, nextSessionAt: '2025-11-18T10:35:00.000+08:00' });

      // An hour at night: four polls, one alert.
      await advance(60 * 60_000);
      expect(source.feed.health()).toMatchObject({ polls: 5, consecutiveFailures: 5 });
      expect(alerts('QUOTE_SOURCE_DOWN')).toHaveLength(1);

      // The network is back: the next poll answers, the monitor says so.
      server = await HttpTestServer.start(
        () => ({ status: 200, contentType: 'application/javascript; charset=GBK', body: gbk(`var hq_str_sh600519="${sinaFields({ name: '贵州茅台', open: '1436.00', prev: '1430.00', price: '1441.50', date: '2025-11-17', time: '15:00:00' })}";\n`) }),
        port,
      );
      await advance(15 * 60_000);
      await advance(5_000);
      expect(alerts('QUOTE_SOURCE_DOWN_RECOVERED')).toHaveLength(1);
      expect(run.health().quotes).toMatchObject({ missing: false, connected: true, lastQuoteAt: '2025-11-17T15:00:00.000+08:00' });
      expect(assessHealth(run.health()).httpStatus).toBe(200);
      expect((await run.state()).quotes).toMatchObject({ missing: false });

      await run.stop();
      await source.close();
    } finally {
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
