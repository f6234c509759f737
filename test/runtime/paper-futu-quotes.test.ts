/**
 * A paper run (the simulated venue) on Futu OpenD's quotes: `data_source.type: broker` with
 * `broker.type: futu` (paper mode trades no broker account: the broker block only says where OpenD
 * is). The fake OpenD runs in its own process and stamps its pushes with its own clock; the run's
 * wall clock is virtual. Quotes reach the run through the price sanity gate, a restarted OpenD is
 * subscribed to again, pushes sent twice or that make no sense cost nothing, and prices the gate
 * refuses never become the last price.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { dec } from '../../src/domain/money.js';
import type { PrintVerdict } from '../../src/domain/price-sanity.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { startPaper } from '../../src/runtime/paper.js';
import { openQuoteSource } from '../../src/runtime/quote-source.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { eventually } from '../support/eventually.js';
import { until } from '../support/fake-futu/harness.js';
import { FakeFutuProcess } from '../support/fake-futu/process.js';
import { cleanupsPerTest, stop, turn, type Rig } from '../support/live-rig.js';

const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
/** 2025-10-16 09:45 Shanghai: before the first session, the day before in the bars gives the previous close. */
const T0 = Date.parse('2025-10-16T01:45:00Z');
const A = '600519.SH';
const B = '601318.SH';
const ENV_KEY = 'PAPER_T_FUTU_KEY';

const cleanup = cleanupsPerTest();

const paperOnFutu = (fake: FakeFutuProcess): Config =>
  parseConfig(
    {
      mode: 'paper',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'broker', bars_file: CN, symbols: [A, B], stale_quote_seconds: 600 },
      broker: { type: 'futu', paper: true, futu: { host: '127.0.0.1', websocket_port: Number(new URL(fake.url).port), websocket_key_env: ENV_KEY, trd_market: 'CN', keep_alive_seconds: 0 } },
      models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      agent_config: { initial_cash: 100_000 },
    },
    'test',
  );

interface World extends Rig {
  readonly fake: FakeFutuProcess;
  readonly history: PriceStore;
  readonly verdicts: PrintVerdict[];
  /** The previous close of `symbol` in the bars (the gate's reference). */
  close(symbol: string): string;
}

async function world(): Promise<World> {
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-paper-futu-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));
  const history = await loadPriceStore(CN, { market: 'cn' });
  const close = (s: string) => history.previousClose(s, DateTime.fromMillis(T0, { zone: 'Asia/Shanghai' }))!.price.toString();
  const fake = await FakeFutuProcess.start({ startMs: T0 });
  cleanup.push(() => fake.stop());
  for (const s of [A, B]) await fake.price(s, close(s));
  const config = paperOnFutu(fake);
  const wall = new EpochVirtualScheduler(T0);
  const source = await openQuoteSource(config, { history, symbols: [A, B], wall, env: { [ENV_KEY]: fake.websocketKey! } });
  const verdicts: PrintVerdict[] = [];
  source.verdicts.subscribe((v) => verdicts.push(v));
  const killSwitch = new KillSwitch(out, () => wall.now(), { pollMs: 60_000 });
  const codes: string[] = [];
  const run = await startPaper({
    config,
    outDir: out,
    scheduler: source.scheduler,
    wall,
    timeScale: source.speed,
    quotes: source.feed,
    history,
    universe: [A, B],
    killSwitch,
    stopGraceMs: 0,
    monitor: { syncEveryMs: 7 * 86_400_000 },
    onAlert: (a) => codes.push(a.code),
  });
  const w: World = { source, run, wall, killSwitch, events: [], codes, fake, history, verdicts, close };
  run.events.subscribe((e) => w.events.push(e));
  cleanup.push(() => stop(w));
  return w;
}

/** Move the fake's clock and the run's wall together (the fake stamps its pushes with its own). */
async function clocks(w: World, ms: number): Promise<void> {
  await w.fake.clock(ms);
  w.wall.advanceTo(ms);
  await turn();
}

describe('paper on Futu OpenD quotes (data_source.type broker)', () => {
  it('the snapshot at start, then each push, reach the run at the exchange time; a restarted OpenD is subscribed to again and its quotes flow on', async () => {
    const w = await world();
    expect(w.source.describe).toBe(`Futu OpenD basic quotes of 2 symbols from ${w.fake.url}`);
    // The snapshot read at start: the previous closes the fake holds, stamped with its clock.
    expect(w.source.feed.last(A)).toEqual({ symbol: A, price: w.close(A), atMs: T0, source: 'futu' });
    expect(w.source.feed.last(B)?.price).toBe(w.close(B));
    await clocks(w, T0 + 60_000);
    const a1 = dec(w.close(A)).plus('1.5').toFixed();
    await w.fake.price(A, a1);
    await eventually(() => expect(w.source.feed.last(A)).toEqual({ symbol: A, price: a1, atMs: T0 + 60_000, source: 'futu' }));
    expect(w.run.health().quotes).toMatchObject({ source: 'futu', connected: true, lastQuoteAt: expect.stringMatching(/^2025-10-16T09:46:00/) });

    await w.fake.restart();
    await eventually(() => expect(w.run.health().quotes.connected).toBe(false));
    // The back-off (at most 1 s on the first retry) runs on the run's wall clock.
    await clocks(w, T0 + 61_000);
    await until(async () => JSON.stringify((await w.fake.state()).quote_subscriptions) === JSON.stringify([[A, B].sort()]), 'the subscription on the new connection');
    expect((await w.fake.state()).connections.total).toBe(2);
    await clocks(w, T0 + 120_000);
    const b1 = dec(w.close(B)).plus('0.25').toFixed();
    await w.fake.price(B, b1);
    await eventually(() => expect(w.source.feed.last(B)).toEqual({ symbol: B, price: b1, atMs: T0 + 120_000, source: 'futu' }));
    expect(w.run.health().quotes.connected).toBe(true);
  });

  it('a push sent twice is judged once, garbage costs nothing; a price far off its close and one stamped ahead of now never become the last price', async () => {
    const w = await world();
    await clocks(w, T0 + 60_000);
    const before = w.verdicts.length;
    await w.fake.dupPushes(1);
    const a1 = dec(w.close(A)).plus(1).toFixed();
    await w.fake.price(A, a1);
    await w.fake.push(3005, 'ffffffff');
    await eventually(() => expect(w.source.feed.last(A)?.price).toBe(a1));
    expect((await w.fake.state()).quote_pushes_sent).toBe(2);
    expect(w.verdicts.slice(before).map((v) => [v.print.symbol, v.outcome])).toEqual([[A, 'accepted']]);

    // Twice the previous close: out of the ±10% band and 100% off the last price, quarantined.
    const far = dec(w.close(A)).times(2).toFixed();
    await w.fake.price(A, far);
    await eventually(() => expect(w.verdicts.at(-1)).toMatchObject({ print: { symbol: A }, outcome: 'quarantined' }));
    expect(w.source.feed.last(A)?.price).toBe(a1);
    // Stamped a minute ahead of the run's clock (beyond future_tolerance_seconds 5): dropped.
    await w.fake.clock(T0 + 120_000);
    await w.fake.price(B, w.close(B));
    await eventually(() => expect(w.verdicts.at(-1)).toMatchObject({ print: { symbol: B }, outcome: 'dropped', rule: 'future' }));
    expect(w.source.feed.last(B)?.atMs).toBe(T0);
    await eventually(() => expect(w.codes).toEqual(expect.arrayContaining(['PRICE_QUARANTINED', 'PRICE_DROPPED'])));
    expect(w.source.feed.health()).toMatchObject({ source: 'futu', connected: true, malformed: 1 });
  });
});
