/**
 * FutuQuoteFeed against the fake OpenD in a child process, on virtual time: the subscription and
 * the first snapshot after the handshake, pushes of subscribed symbols only, exchange times (the
 * timestamp, else the text in the exchange's zone), exact prices, a resubscription on every
 * reconnect, a refused symbol named, and pushes that make no sense skipped without a crash.
 */
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { futuProtos } from '../../src/actors/brokers/futu/protos.js';
import { FutuQuoteFeed, type FutuQuoteEvent } from '../../src/actors/brokers/futu/quotes.js';
import { InputError } from '../../src/domain/errors.js';
import type { Quote } from '../../src/domain/quotes.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { eventually } from '../support/eventually.js';
import { cmds, startFake, T0, TIMEOUT_MS, until } from '../support/fake-futu/harness.js';
import type { FakeFutuProcess } from '../support/fake-futu/process.js';

interface QuoteWorld {
  readonly fake: FakeFutuProcess;
  readonly feed: FutuQuoteFeed;
  readonly scheduler: EpochVirtualScheduler;
  readonly quotes: Quote[];
  readonly events: FutuQuoteEvent[];
  readonly started: Promise<void>;
}

let opened: { feed?: FutuQuoteFeed; fake: FakeFutuProcess }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.feed?.close();
    await o.fake.stop();
  }
});

async function world(symbols: readonly string[] = ['600519.SH', '000001.SZ', 'AAPL'], fake?: FakeFutuProcess): Promise<QuoteWorld> {
  const f = fake ?? (await startFake());
  const entry: { feed?: FutuQuoteFeed; fake: FakeFutuProcess } = { fake: f };
  opened.push(entry);
  const scheduler = new EpochVirtualScheduler(T0);
  const feed = new FutuQuoteFeed({
    settings: { url: f.url, websocketKey: f.websocketKey, requestTimeoutMs: TIMEOUT_MS, keepAliveIntervalMs: false },
    symbols,
    scheduler,
    reconnect: { baseMs: 1_000, factor: 2, maxMs: 8_000, jitter: 0 },
  });
  entry.feed = feed;
  const quotes: Quote[] = [];
  const events: FutuQuoteEvent[] = [];
  feed.quotes.subscribe((q) => quotes.push(q));
  feed.events$.subscribe((e) => events.push(e));
  return { fake: f, feed, scheduler, quotes, events, started: feed.start() };
}

/** A Qot_UpdateBasicQot body (hex) with these BasicQot items, Futu's required fields filled in. */
function pushHex(items: readonly Record<string, unknown>[]): string {
  const basic = items.map((i) => ({ isSuspended: false, listTime: '', priceSpread: 0.01, updateTime: '', highPrice: 0, openPrice: 0, lowPrice: 0, curPrice: 0, lastClosePrice: 0, volume: '0', turnover: 0, turnoverRate: 0, amplitude: 0, ...i }));
  return Buffer.from(futuProtos().encodeResponse('Qot_UpdateBasicQot', { retType: 0, s2c: { basicQotList: basic } })).toString('hex');
}

const SH = (code: string) => ({ market: 21, code });
const skipped = (w: QuoteWorld) => w.events.flatMap((e) => (e.type === 'skipped' ? [e.reason] : []));

describe('FutuQuoteFeed', () => {
  it('after the handshake: Qot_Sub (Basic, pushes registered), the snapshot from GetBasicQot; then a push per trade of a subscribed symbol, none of another', async () => {
    const w = await world();
    await w.started;
    expect(await cmds(w.fake)).toEqual([1, 3001, 3004]);
    expect((await w.fake.state()).quote_subscriptions).toEqual([['000001.SZ', '600519.SH', 'AAPL']]);
    // startFake priced them at T0 on the fake's clock: the snapshot carries that time, not ours.
    expect(w.quotes).toEqual([
      { symbol: '600519.SH', price: '1500.5', atMs: T0, source: 'futu' },
      { symbol: '000001.SZ', price: '11.25', atMs: T0, source: 'futu' },
      { symbol: 'AAPL', price: '270.25', atMs: T0, source: 'futu' },
    ]);
    await w.fake.clock(T0 + 61_500);
    await w.fake.price('600519.SH', '1501.23');
    await w.fake.price('00700.HK', '613'); // not ours: OpenD pushes it to nobody
    await eventually(() => expect(w.quotes).toHaveLength(4));
    expect(w.quotes[3]).toEqual({ symbol: '600519.SH', price: '1501.23', atMs: T0 + 61_500, source: 'futu' });
    expect(w.feed.last('600519.SH')?.price).toBe('1501.23');
    const s = await w.fake.state();
    expect(s.quote_pushes_sent).toBe(1);
    expect(w.feed.health()).toMatchObject({ source: 'futu', connected: true, quotes: 4, malformed: 0, lastQuoteMs: T0 + 61_500 });
    expect(w.feed.isStale('600519.SH', T0 + 61_500 + 30_000, 30_000)).toBe(false);
    expect(w.feed.isStale('00700.HK', T0 + 61_500, 30_000)).toBe(true);
  });

  it('without updateTimestamp the time is updateTime read in the exchange zone: Shanghai for SH, New York for US', async () => {
    const w = await world();
    await w.started;
    await w.fake.mode({ quote_timestamps: false });
    const at = Date.UTC(2025, 10, 7, 15, 30, 7); // 23:30:07 in Shanghai, 10:30:07 in New York
    await w.fake.clock(at);
    await w.fake.price('600519.SH', '1502');
    await w.fake.price('AAPL', '271.5');
    await eventually(() => expect(w.quotes).toHaveLength(5));
    expect(w.quotes.slice(3).map((q) => [q.symbol, q.atMs])).toEqual([
      ['600519.SH', at],
      ['AAPL', at],
    ]);
    // the same instant in the wrong zone would be hours off: the fake wrote local wall times
    expect(DateTime.fromMillis(at, { zone: 'America/New_York' }).toFormat('HH:mm:ss')).toBe('10:30:07');
  });

  it('prices are the shortest decimal of the double, rounded to 3 decimals (arithmetic noise gone)', async () => {
    const w = await world();
    await w.started;
    await w.fake.push(3005, pushHex([{ security: SH('600519'), curPrice: 1500.3000000000002, updateTimestamp: (T0 + 1_000) / 1000 }]));
    await w.fake.push(3005, pushHex([{ security: SH('600519'), curPrice: 1500.12345, updateTimestamp: (T0 + 2_000) / 1000 }]));
    await eventually(() => expect(w.quotes).toHaveLength(5));
    expect(String(1500.3000000000002)).not.toBe('1500.3'); // a double of its own, not 1500.3's
    expect(w.quotes.slice(3).map((q) => q.price)).toEqual(['1500.3', '1500.123']);
  });

  it('every reconnect (an OpenD restart forgets subscriptions) subscribes again and reads a new snapshot; what traded meanwhile arrives', async () => {
    const w = await world();
    await w.started;
    await w.fake.restart();
    await eventually(() => expect(w.events.filter((e) => e.type === 'disconnected')).toHaveLength(1));
    expect(w.feed.health().connected).toBe(false);
    await w.fake.clock(T0 + 120_000);
    await w.fake.price('000001.SZ', '11.4'); // while we were away: pushed to nobody
    expect((await w.fake.state()).quote_pushes_sent).toBe(0);
    w.scheduler.advanceTo(w.scheduler.now() + 1_000);
    await eventually(() => expect(w.events.filter((e) => e.type === 'subscribed').map((e) => (e as { connection: number }).connection)).toEqual([1, 2]));
    expect(await cmds(w.fake)).toEqual([1, 3001, 3004, 1, 3001, 3004]);
    expect((await w.fake.state()).quote_subscriptions).toEqual([['000001.SZ', '600519.SH', 'AAPL']]);
    // the snapshot brings the missed trade, and only it: the unchanged ones are not sent again
    await eventually(() => expect(w.quotes).toHaveLength(4));
    expect(w.quotes[3]).toEqual({ symbol: '000001.SZ', price: '11.4', atMs: T0 + 120_000, source: 'futu' });
    await w.fake.price('600519.SH', '1503');
    await eventually(() => expect(w.quotes).toHaveLength(5));
    expect(w.feed.health()).toMatchObject({ connected: true, failures: 1 });
  });

  it('a symbol OpenD refuses: start fails naming it (and only it), and nothing reconnects', async () => {
    const w = await world(['600519.SH', '600000.SH']);
    const err = await w.started.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/refused to subscribe to the quotes of 600000\.SH \(.*Unknown stock 600000/);
    expect((err as Error).message).not.toMatch(/600519\.SH/);
    w.scheduler.advanceTo(w.scheduler.now() + 60_000);
    const s = await w.fake.state();
    expect(s.connections.total).toBe(1);
    expect(w.feed.health()).toMatchObject({ connected: false, lastError: expect.stringMatching(/600000\.SH/) });
  });

  it('a symbol with no Futu security fails at once, naming it', async () => {
    const fake = await startFake();
    opened.push({ fake });
    expect(() => new FutuQuoteFeed({ settings: { url: fake.url, websocketKey: undefined, requestTimeoutMs: 1, keepAliveIntervalMs: false }, symbols: ['600519.SH', 'BTC-USD'], scheduler: new EpochVirtualScheduler(T0) })).toThrow(/no Futu security for BTC-USD/);
  });

  it('a push sent twice is one quote; a push that does not decode, items without a price or a time, of a symbol not subscribed: skipped, no crash, the next push counts', async () => {
    const w = await world();
    await w.started;
    await w.fake.dupPushes(1);
    await w.fake.clock(T0 + 5_000);
    await w.fake.price('600519.SH', '1501');
    await until(async () => (await w.fake.state()).quote_pushes_sent === 2, 'the push sent twice');
    await w.fake.push(3005, 'ffffffff');
    await w.fake.push(
      3005,
      pushHex([
        { security: SH('600519'), curPrice: -1, updateTimestamp: (T0 + 6_000) / 1000 },
        { security: SH('600519'), curPrice: Number.NaN, updateTimestamp: (T0 + 6_000) / 1000 },
        { security: SH('600519'), curPrice: 1501.5, updateTime: 'yesterday' },
        { security: SH('600036'), curPrice: 40, updateTimestamp: (T0 + 6_000) / 1000 },
        { security: { market: 41, code: '7203' }, curPrice: 2500, updateTimestamp: (T0 + 6_000) / 1000 },
        { security: SH('600519'), curPrice: 1502, updateTimestamp: (T0 + 7_000) / 1000 },
      ]),
    );
    await eventually(() => expect(w.quotes.map((q) => q.price)).toEqual(['1500.5', '11.25', '270.25', '1501', '1502']));
    expect(w.feed.health().malformed).toBe(6);
    const reasons = skipped(w);
    expect(reasons[0]).toMatch(/600519\.SH has no price \(-1\)/);
    expect(reasons[1]).toMatch(/a BasicQot of Qot_UpdateBasicQot that does not parse: curPrice/);
    expect(reasons[2]).toMatch(/600519\.SH has no time/);
    expect(reasons[3]).toMatch(/600036\.SH, which is not subscribed/);
    expect(reasons[4]).toMatch(/41:7203, which is not subscribed/);
    expect(w.events.some((e) => e.type === 'malformed' && /Qot_UpdateBasicQot that does not decode/.test(e.reason))).toBe(true);
    expect(w.feed.health().connected).toBe(true);
  });
});
