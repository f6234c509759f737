/**
 * A paper run when its quote feed fails for good: one QUOTE_FEED_FAILED alert on the feed,
 * no unhandled error (it would take the process down), and a clean stop afterwards.
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
