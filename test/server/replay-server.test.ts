import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { MAX_TIMER_MS } from '../../src/domain/clock-events.js';
import { InputError } from '../../src/domain/errors.js';
import { dec } from '../../src/domain/money.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import type { Quote } from '../../src/domain/quotes.js';
import { planReplayDay, startReplayServer, type ReplayServer, type ReplayServerOptions } from '../../src/server/replay-server.js';
import { AlpacaQuoteStream } from '../../src/streams/alpaca-quotes.js';
import { ReplayClock } from '../../src/streams/replay-clock.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';

const US_FILE = fileURLToPath(new URL('../../data/sample/us_hourly.jsonl', import.meta.url));
const CN_FILE = fileURLToPath(new URL('../../data/sample/cn_hourly.jsonl', import.meta.url));
/** Wall time of the tests' virtual scheduler: any instant, unrelated to the replayed day. */
const WALL0 = Date.UTC(2030, 0, 1);
const NY = 'America/New_York';
const ny = (s: string) => DateTime.fromISO(s, { zone: NY }).toMillis();

type Event = Record<string, unknown> & { T: string };

/** A raw WebSocket client that records every event; `barrier()` waits until all the server sent so far has arrived. */
class RawClient {
  readonly events: Event[] = [];
  readonly texts: string[] = [];
  closed: { code: number; reason: string } | undefined;
  #waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      this.texts.push(text);
      this.events.push(...(JSON.parse(text) as Event[]));
      this.#wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.#wake();
    });
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.until(() => client.events.length > 0);
    return client;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `check()` holds, re-checked on every frame and on close. */
  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((r) => this.#waiters.push(r));
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Send, and wait for the next event of type T. */
  async request(message: object, T: string): Promise<Event> {
    const from = this.events.length;
    this.send(message);
    await this.until(() => this.events.slice(from).some((e) => e.T === T));
    return this.events.slice(from).find((e) => e.T === T)!;
  }

  /** A ping's pong comes after every frame the server sent before it: nothing sent so far is still in flight. */
  barrier(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('pong', () => resolve());
      this.ws.ping();
    });
  }

  of(T: string): Event[] {
    return this.events.filter((e) => e.T === T);
  }
}

let us: PriceStore;
let cn: PriceStore;
beforeAll(async () => {
  us = await loadPriceStore(US_FILE);
  cn = await loadPriceStore(CN_FILE);
});

const servers: ReplayServer[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: Partial<ReplayServerOptions> & { prices: PriceStore }) {
  const scheduler = new EpochVirtualScheduler(WALL0);
  const server = await startReplayServer({ speed: 60, scheduler, ...options });
  servers.push(server);
  const client = async () => {
    const c = await RawClient.connect(server.url);
    clients.push(c);
    return c;
  };
  return { server, scheduler, client, advance: (wallMs: number) => scheduler.advanceTo(scheduler.now() + wallMs) };
}

async function subscribed(c: RawClient, subscription: object, auth: object = { action: 'auth', key: 'any', secret: 'thing' }) {
  expect(await c.request(auth, 'success')).toEqual({ T: 'success', msg: 'authenticated' });
  return c.request({ action: 'subscribe', ...subscription }, 'subscription');
}

/** The file's own text for a symbol's bars of one day: label -> [open, high, low, close, volume]. */
function fileBars(file: string, symbol: string, day: string): [string, string[]][] {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.includes(`"2. Symbol": "${symbol}"`))!;
  const doc = JSON.parse(line) as Record<string, unknown>;
  const series = Object.entries(doc).find(([k]) => k.startsWith('Time Series'))![1] as Record<string, Record<string, string>>;
  return Object.entries(series)
    .filter(([label]) => label.startsWith(day))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([label, v]) => [label, [v['1. buy price']!, v['2. high']!, v['3. low']!, v['4. sell price']!, v['5. volume']!]]);
}

describe('replay server: a day of bars as an Alpaca v2 feed on a market clock', () => {
  it('greets with the market clock 5 market minutes before the open, in the exchange zone', async () => {
    const { server, client } = await serve({ prices: us, date: '2025-10-30' });
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v2\/replay$/);
    expect([server.market, server.day, server.speed, server.symbols.length]).toEqual(['us', '2025-10-30', 60, 6]);
    expect(server.marketNow().toISO()).toBe('2025-10-30T09:25:00.000-04:00');
    expect(server.state()).toBe('pre');
    const c = await client();
    expect(c.events).toEqual([
      { T: 'success', msg: 'connected' },
      { T: 'replay_clock', t: '2025-10-30T09:25:00.000-04:00', speed: 60, day: '2025-10-30', state: 'pre' },
    ]);
  });

  it('sends subscribed trades in market-time order, each in the step its instant is reached (never before), with the file\'s exact prices', async () => {
    const { server, client, advance } = await serve({ prices: us, date: '2025-10-30' });
    const c = await client();
    expect(await subscribed(c, { trades: ['AAPL', 'MSFT'], bars: ['AAPL'] })).toEqual({ T: 'subscription', trades: ['AAPL', 'MSFT'], quotes: [], bars: ['AAPL'] });
    let done = false;
    void server.done.then(() => (done = true));
    // Step 5 market minutes (5 wall seconds at 60x) at a time through the whole day.
    let seen = 0;
    let before = server.marketNow().toMillis();
    let steps = 0;
    while (!done) {
      advance(5_000);
      await c.barrier();
      const now = server.marketNow().toMillis();
      for (const e of c.events.slice(seen)) {
        if (e.T !== 't' && e.T !== 'b') continue;
        // A trade is stamped with its instant; a bar (stamped with its start) is sent at its end.
        const at = Date.parse(e.t as string) + (e.T === 'b' ? 3_600_000 : 0);
        expect(at, JSON.stringify(e)).toBeGreaterThan(before);
        expect(at, JSON.stringify(e)).toBeLessThanOrEqual(now);
      }
      seen = c.events.length;
      before = now;
      expect(++steps).toBeLessThan(100);
    }
    const trades = c.of('t');
    expect(new Set(trades.map((t) => t.S))).toEqual(new Set(['AAPL', 'MSFT']));
    expect(trades.map((t) => Date.parse(t.t as string))).toEqual([...trades.map((t) => Date.parse(t.t as string))].sort((a, b) => a - b));
    expect(trades.map((t) => t.i)).toEqual([...trades.map((t) => t.i as number)].sort((a, b) => a - b));

    // AAPL: per bar, open at its start, the extreme nearer the open at +20 min, the other at +40, the close at its end.
    const expected: { t: number; p: string }[] = [];
    for (const [label, [o, h, l, cl]] of fileBars(US_FILE, 'AAPL', '2025-10-30')) {
      const start = ny(label.replace(' ', 'T'));
      const highFirst = dec(h!).minus(o!).abs().lte(dec(o!).minus(l!).abs());
      expected.push({ t: start, p: o! }, { t: start + 1_200_000, p: highFirst ? h! : l! }, { t: start + 2_400_000, p: highFirst ? l! : h! }, { t: start + 3_600_000, p: cl! });
    }
    const aapl = trades.filter((t) => t.S === 'AAPL');
    expect(aapl).toHaveLength(24);
    aapl.forEach((t, i) => {
      expect(Date.parse(t.t as string)).toBe(expected[i]!.t);
      expect(dec(t.p as number).eq(dec(expected[i]!.p)), `${String(t.p)} vs ${expected[i]!.p}`).toBe(true);
    });
    // Written digit for digit in the frame.
    expect(c.texts.join('')).toContain('"S":"AAPL","p":271.0884,');
    // Bars: the file's OHLCV, stamped with the bar's start.
    const bars = c.of('b');
    expect(bars.every((b) => b.S === 'AAPL')).toBe(true);
    expect(bars.map((b) => [b.t, ...[b.o, b.h, b.l, b.c, b.v].map((x) => dec(x as number).toFixed())])).toEqual(
      fileBars(US_FILE, 'AAPL', '2025-10-30').map(([label, v]) => [new Date(ny(label.replace(' ', 'T'))).toISOString(), ...v.map((x) => dec(x).toFixed())]),
    );
    // The clock: announced every market minute, pre -> open -> closed.
    const clock = c.of('replay_clock');
    const states = clock.map((e) => e.state);
    expect([...new Set(states)]).toEqual(['pre', 'open', 'closed']);
    expect(clock.find((e) => e.state === 'open')!.t).toBe('2025-10-30T09:30:00.000-04:00');
    expect(clock.find((e) => e.state === 'closed')!.t).toBe('2025-10-30T16:00:00.000-04:00');
    expect(clock.filter((e) => e.state === 'open').length).toBeGreaterThanOrEqual(389);
    expect(server.state()).toBe('closed');
  });

  it('market time ends with the replayed day: the clock stops at its last millisecond, announced once, and the server goes quiet', async () => {
    const { server, client, advance, scheduler } = await serve({ prices: us, date: '2025-10-30', speed: 3_600 });
    const c = await client();
    await subscribed(c, { trades: ['AAPL'] });
    advance(48 * 1_000); // 48 market hours: two days on without the stop
    await c.barrier();
    expect(server.marketNow().toISO()).toBe('2025-10-30T23:59:59.999-04:00');
    const clock = c.of('replay_clock');
    expect(clock.at(-1)).toMatchObject({ t: '2025-10-30T23:59:59.999-04:00', state: 'closed' });
    expect(clock.filter((e) => String(e.t) > '2025-10-30T23:59:59.999-04:00')).toEqual([]);
    expect(scheduler.actions).toHaveLength(0); // no wake-up left: nothing more to announce
    const late = await client(); // a client that comes now reads the day's end
    expect(late.events[1]).toMatchObject({ T: 'replay_clock', t: '2025-10-30T23:59:59.999-04:00', state: 'closed' });
  });

  it('one market millisecond before 10:00 nothing has been sent; at 10:00 the opens arrive', async () => {
    const { server, client, scheduler } = await serve({ prices: us, date: '2025-10-30', speed: 1 });
    const c = await client();
    await subscribed(c, { trades: ['*'] });
    scheduler.advanceTo(WALL0 + 35 * 60_000 - 1);
    await c.barrier();
    expect(server.marketNow().toISO()).toBe('2025-10-30T09:59:59.999-04:00');
    expect(c.of('t')).toEqual([]);
    scheduler.advanceTo(WALL0 + 35 * 60_000);
    await c.barrier();
    expect(c.of('t').map((t) => `${String(t.S)} ${String(t.t)}`)).toEqual(
      ['AAPL', 'AMZN', 'GOOGL', 'MSFT', 'NVDA', 'TSLA'].map((s) => `${s} 2025-10-30T14:00:00.000Z`),
    );
    expect(c.of('t')[0]).toEqual({ T: 't', S: 'AAPL', p: 270.848, s: 1505365, t: '2025-10-30T14:00:00.000Z', i: 1, x: 'V', c: [], z: 'C' });
  });

  it('replays A-shares in Shanghai time, with nothing during the lunch break', async () => {
    const { server, client, advance } = await serve({ prices: cn, date: '2025-10-09', symbols: ['600519.SH'], speed: 600 });
    expect(server.market).toBe('cn');
    expect(server.marketNow().toISO()).toBe('2025-10-09T09:25:00.000+08:00');
    const c = await client();
    await subscribed(c, { trades: ['600519.SH'] });
    advance(60_000); // 10 market hours
    await c.barrier();
    await server.done;
    const trades = c.of('t');
    expect(trades).toHaveLength(16);
    expect(trades[0]).toMatchObject({ S: '600519.SH', p: 1436, t: '2025-10-09T01:30:00.000Z' });
    const local = trades.map((t) => DateTime.fromISO(t.t as string, { zone: 'Asia/Shanghai' }).toFormat('HH:mm'));
    expect(local.filter((hm) => hm > '11:30' && hm < '13:00')).toEqual([]);
    expect(local.at(-1)).toBe('15:00');
    const [, [o, , , close]] = fileBars(CN_FILE, '600519.SH', '2025-10-09')[3]!;
    expect(dec(trades.at(-4)!.p as number).eq(dec(o!))).toBe(true);
    expect(dec(trades.at(-1)!.p as number).eq(dec(close!))).toBe(true);
  });

  it('sends nothing of unsubscribed symbols, and stops on unsubscribe', async () => {
    const { client, scheduler } = await serve({ prices: us, date: '2025-10-30' });
    const c = await client();
    const idle = await client(); // connected and authenticated, subscribed to nothing
    await idle.request({ action: 'auth', key: 'k', secret: 's' }, 'success');
    await subscribed(c, { trades: ['NVDA'] });
    scheduler.advanceTo(WALL0 + 36_000); // 10:01
    await c.barrier();
    expect(c.of('t').map((t) => t.S)).toEqual(['NVDA']);
    expect(await c.request({ action: 'unsubscribe', trades: ['NVDA'] }, 'subscription')).toEqual({ T: 'subscription', trades: [], quotes: [], bars: [] });
    scheduler.advanceTo(WALL0 + 400_000);
    await c.barrier();
    await idle.barrier();
    expect(c.of('t')).toHaveLength(1);
    expect(idle.of('t')).toEqual([]);
    expect(idle.of('replay_clock').length).toBeGreaterThan(300); // the clock goes to every authenticated client
  });

  it('accepts any key unless one is configured; then a wrong one is refused (402) and the socket closed', async () => {
    const { client } = await serve({ prices: us, date: '2025-10-30', key: 'PKREPLAY', secret: 'replay-secret' });
    const early = await client();
    expect(await early.request({ action: 'subscribe', trades: ['AAPL'] }, 'error')).toEqual({ T: 'error', code: 401, msg: 'not authenticated' });
    const wrong = await client();
    expect(await wrong.request({ action: 'auth', key: 'PKREPLAY', secret: 'nope' }, 'error')).toEqual({ T: 'error', code: 402, msg: 'auth failed' });
    await wrong.until(() => wrong.closed !== undefined);
    expect(wrong.closed).toEqual({ code: 1008, reason: 'auth failed' });
    const right = await client();
    await subscribed(right, { trades: ['AAPL'] }, { action: 'auth', key: 'PKREPLAY', secret: 'replay-secret' });
    expect(await right.request({ action: 'auth', key: 'PKREPLAY', secret: 'replay-secret' }, 'error')).toMatchObject({ code: 403 });
    expect(await right.request({ action: 'subscribe', trades: 'AAPL' }, 'error')).toEqual({ T: 'error', code: 400, msg: 'invalid syntax' });
    right.ws.send('{oops');
    await right.until(() => right.of('error').length === 3);
  });

  it('feeds the real client: exact quotes, and the market time a ReplayClock follows', async () => {
    const { server, scheduler, advance } = await serve({ prices: us, date: '2025-10-30', symbols: ['AAPL', 'TSLA'] });
    const stream = new AlpacaQuoteStream({ url: server.url, key: 'k', secret: 's', trades: ['AAPL'], heartbeat: false, scheduler, name: 'replay' });
    const quotes: Quote[] = [];
    stream.quotes.subscribe((q) => quotes.push(q));
    await stream.connect();
    const clock = await ReplayClock.follow(stream.marketTime, scheduler);
    expect(clock.now()).toBe(ny('2025-10-30T09:25'));
    const until = async (check: () => boolean) => {
      while (!check()) await new Promise((r) => setImmediate(r));
    };
    advance(40_000); // to 10:05 market
    await until(() => quotes.length === 1);
    expect(quotes).toEqual([{ symbol: 'AAPL', price: '270.848', atMs: ny('2025-10-30T10:00'), source: 'alpaca' }]);
    advance(15_000); // to 10:20
    await until(() => quotes.length === 2);
    expect(quotes[1]).toEqual({ symbol: 'AAPL', price: '271.6179', atMs: ny('2025-10-30T10:20'), source: 'alpaca' });
    await until(() => stream.stats().clockEvents >= 56); // 09:25 .. 10:20, one a market minute
    expect(clock.now()).toBe(server.marketNow().toMillis());
    expect(stream.isStale('AAPL', clock.now(), 60_000)).toBe(false);
    expect(stream.stats().malformed).toBe(0);
    await stream.close();
  });

  it('at a very slow speed never asks its scheduler for a wait beyond what a Node timer holds', async () => {
    // Beyond 2^31-1 ms a Node timer fires after 1 ms: at 1e-6x the next replay_clock (a market
    // minute, 6e10 wall ms) woke the server every millisecond instead.
    const wall = new EpochVirtualScheduler(WALL0);
    const asked: number[] = [];
    const scheduler = { now: () => wall.now(), schedule: (work: () => void, delay?: number) => (asked.push(delay ?? 0), wall.schedule(work, delay)) };
    const server = await startReplayServer({ prices: us, date: '2025-10-30', speed: 1e-6, scheduler: scheduler as never });
    servers.push(server);
    wall.advanceTo(WALL0 + 3 * 2 ** 31);
    expect(asked.length).toBeGreaterThan(1);
    expect(Math.max(...asked)).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect(server.marketNow().toMillis()).toBe(ny('2025-10-30T09:25') + Math.floor(3 * 2 ** 31 * 1e-6));
  });

  it('holds the clock until a client subscribes, when asked to', async () => {
    const { server, client, advance } = await serve({ prices: us, date: '2025-10-30', waitForSubscriber: true });
    const c = await client();
    expect(c.of('replay_clock')).toEqual([{ T: 'replay_clock', t: '2025-10-30T09:25:00.000-04:00', speed: 60, day: '2025-10-30', state: 'pre', held: true }]);
    advance(3_600_000);
    expect(server.marketNow().toISO()).toBe('2025-10-30T09:25:00.000-04:00');
    await subscribed(c, { trades: ['AAPL'] });
    advance(0);
    await c.barrier();
    expect(c.of('replay_clock').at(-1)).toEqual({ T: 'replay_clock', t: '2025-10-30T09:25:00.000-04:00', speed: 60, day: '2025-10-30', state: 'pre' });
    advance(60_000);
    expect(server.marketNow().toISO()).toBe('2025-10-30T10:25:00.000-04:00');
  });

  it('with exitAtEnd, closes its clients (1001) once the day is over', async () => {
    const { client, advance, server } = await serve({ prices: us, date: '2025-10-30', exitAtEnd: true, speed: 3_600 });
    const c = await client();
    await subscribed(c, { trades: ['AAPL'] });
    advance(7 * 1_000); // 7 market hours
    await server.done;
    await c.until(() => c.closed !== undefined);
    expect(c.closed).toEqual({ code: 1001, reason: 'replay server closing' });
    expect(c.of('t')).toHaveLength(24);
    expect(c.of('replay_clock').at(-1)).toMatchObject({ state: 'closed' });
  });
});

describe('replay server: which day, which symbols', () => {
  it('defaults to the last day whose bars are all complete', () => {
    expect(planReplayDay(us).day).toBe('2025-11-07'); // 2025-11-10 ends with an open-only bar
    expect(planReplayDay(cn).day).toBe('2025-11-18');
    const day = planReplayDay(us, { date: '2025-11-10', symbols: ['AAPL'] });
    expect(day.events.filter((e) => e.kind === 'bar')).toHaveLength(5);
    expect(day.events.at(-1)!.json).toMatch(/^\{"T":"t","S":"AAPL","p":[\d.]+,"s":0,"t":"2025-11-10T20:00:00.000Z"/);
    expect(day.endMs).toBe(ny('2025-11-10T16:00'));
  });

  it('refuses what it cannot replay, with a precise InputError', async () => {
    expect(() => planReplayDay(us, { symbols: ['AAPL', 'IBM'] })).toThrow(new InputError('no bars for IBM; the price file has AAPL, AMZN, GOOGL, MSFT, NVDA, TSLA'));
    expect(() => planReplayDay(us, { date: '2025-10-32' })).toThrow('invalid date "2025-10-32": expected YYYY-MM-DD');
    expect(() => planReplayDay(us, { date: '2025-10-04' })).toThrow('no bars on 2025-10-04 (America/New_York); the price file covers 2025-10-01 .. 2025-11-10');
    const both = await loadPriceStore([US_FILE, CN_FILE]);
    expect(() => planReplayDay(both, { symbols: ['AAPL', '600519.SH'] })).toThrow(/two markets/);
    await expect(startReplayServer({ prices: us, speed: 0 })).rejects.toThrow('speed must be a positive number, got 0');
    await expect(startReplayServer({ prices: us, speed: 1, key: 'k' })).rejects.toThrow(InputError);
    const { server } = await serve({ prices: us });
    await expect(startReplayServer({ prices: us, speed: 1, port: server.port })).rejects.toThrow(`port ${server.port} on 127.0.0.1 is in use`);
  });
});
