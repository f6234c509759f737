import { eventually } from '../support/eventually.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Quote } from '../../src/domain/quotes.js';
import {
  AlpacaQuoteStream,
  AlpacaStreamError,
  backoffDelay,
  type AlpacaConnectionEvent,
  type AlpacaQuoteStreamOptions,
} from '../../src/streams/alpaca-quotes.js';
import type { QuoteFeed } from '../../src/streams/quote-feed.js';
import type { MarketTimeReading } from '../../src/streams/replay-clock.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { AlpacaTestServer } from '../support/alpaca-server.js';


const KEY = 'PKTEST1234';
const SECRET = 'very-secret-value';
const T0 = Date.UTC(2025, 9, 9, 14, 0, 0); // 10:00 New York
const BACKOFF = { baseMs: 1_000, factor: 2, maxMs: 8_000, jitter: 0 } as const;

let server: AlpacaTestServer | undefined;
const streams: AlpacaQuoteStream[] = [];
afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
  await server?.close();
  server = undefined;
});

async function setup(options: Partial<AlpacaQuoteStreamOptions> = {}) {
  const srv = (server = await AlpacaTestServer.start({ key: KEY, secret: SECRET }));
  const scheduler = new EpochVirtualScheduler(T0);
  const stream = new AlpacaQuoteStream({
    url: srv.url,
    key: KEY,
    secret: SECRET,
    trades: ['AAPL', 'TSLA'],
    quotes: ['MSFT'],
    scheduler,
    reconnect: BACKOFF,
    heartbeat: false,
    ...options,
  });
  streams.push(stream);
  const quotes: Quote[] = [];
  const events: AlpacaConnectionEvent[] = [];
  let error: unknown;
  let completed = false;
  stream.quotes.subscribe({ next: (q) => quotes.push(q), error: (e) => (error = e), complete: () => (completed = true) });
  stream.connection.subscribe((e) => events.push(e));
  return {
    server: srv,
    stream,
    scheduler,
    quotes,
    events,
    retries: () => events.filter((e) => e.type === 'retrying'),
    error: () => error,
    completed: () => completed,
    /** Move virtual time forward; timers due by then run synchronously. */
    advance: (ms: number) => scheduler.advanceTo(scheduler.now() + ms),
  };
}

const AUTH = { action: 'auth', key: KEY, secret: SECRET };
const SUBSCRIBE = { action: 'subscribe', trades: ['AAPL', 'TSLA'], quotes: ['MSFT'] };

describe('Alpaca stream: reconnection', () => {
  it('reconnects after the server drops the connection, resubscribes to the same symbols, and quotes go on', async () => {
    const s = await setup();
    await s.stream.connect();
    s.server.pushTrades([{ S: 'AAPL', p: 1 }]);
    await eventually(() => expect(s.quotes).toHaveLength(1));
    for (let i = 1; i <= 3; i++) {
      s.server.dropConnections();
      await eventually(() => expect(s.stream.status).toBe('reconnecting'));
      // Back-off starts over after every acknowledged subscription.
      expect(s.retries().at(-1)).toEqual({ type: 'retrying', attempt: 1, delayMs: 1_000 });
      s.advance(1_000);
      await s.server.until((c) => c.subscriptions === i + 1);
      await eventually(() => expect(s.stream.status).toBe('streaming'));
      s.server.pushTrades([{ S: 'AAPL', p: i + 1 }]);
    }
    await eventually(() => expect(s.quotes.map((q) => q.price)).toEqual(['1', '2', '3', '4']));
    // The exact frames: every connection authenticates and subscribes to the same lists.
    expect(s.server.frames).toEqual([AUTH, SUBSCRIBE, AUTH, SUBSCRIBE, AUTH, SUBSCRIBE, AUTH, SUBSCRIBE]);
    expect(s.error()).toBeUndefined();
    expect(s.stream.stats()).toMatchObject({ reconnects: 3, emitted: 4, malformed: 0 });
    expect(s.stream.health()).toMatchObject({ source: 'alpaca', connected: true, quotes: 4, failures: 3 });
    expect(s.events.map((e) => `${e.type}${'connection' in e ? ` #${e.connection}` : ''}`)).toEqual([
      'streaming #1',
      'disconnected #1',
      'retrying',
      'streaming #2',
      'disconnected #2',
      'retrying',
      'streaming #3',
      'disconnected #3',
      'retrying',
      'streaming #4',
    ]);
  });

  it('waits base * 2^(n-1) ms, capped at max, between failed attempts, stepped in virtual time', async () => {
    const s = await setup();
    await s.stream.connect();
    s.server.refuseConnections = true;
    s.server.dropConnections();
    const delays = [1_000, 2_000, 4_000, 8_000, 8_000];
    for (const [n, delay] of delays.entries()) {
      await eventually(() => expect(s.retries()).toHaveLength(n + 1));
      expect(s.retries()[n]).toEqual({ type: 'retrying', attempt: n + 1, delayMs: delay });
      s.advance(delay - 1);
      expect(s.stream.status).toBe('reconnecting');
      expect(s.stream.stats().reconnects).toBe(n);
      s.advance(1);
      expect(s.stream.status).toBe('connecting');
      expect(s.stream.stats().reconnects).toBe(n + 1);
    }
    await eventually(() => expect(s.retries()).toHaveLength(6));
    expect(s.events.filter((e) => e.type === 'disconnected').at(-1)).toMatchObject({ reason: expect.stringMatching(/cannot connect.*503/) });
    s.server.refuseConnections = false;
    s.advance(8_000);
    await eventually(() => expect(s.stream.status).toBe('streaming'));
    expect(s.server.counts.accepted).toBe(2);
    expect(s.server.frames.slice(2)).toEqual([AUTH, SUBSCRIBE]);
    // Streaming again: the next drop starts from the base delay.
    s.server.dropConnections();
    await eventually(() => expect(s.retries()).toHaveLength(7));
    expect(s.retries()[6]).toMatchObject({ attempt: 1, delayMs: 1_000 });
    expect(s.error()).toBeUndefined();
  });

  it('takes an injected random share off each delay (jitter)', async () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, BACKOFF))).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(backoffDelay(3, { ...BACKOFF, jitter: 0.5, random: () => 0.5 })).toBe(3_000);
    expect(backoffDelay(1, { baseMs: 500, jitter: 0.2, random: () => 0.999 })).toBe(400);
    expect(() => backoffDelay(1, { factor: 0.5 })).toThrow(RangeError);
    const s = await setup({ reconnect: { ...BACKOFF, jitter: 0.5, random: () => 0.5 } });
    await s.stream.connect();
    s.server.dropConnections();
    await eventually(() => expect(s.retries()).toEqual([{ type: 'retrying', attempt: 1, delayMs: 750 }]));
  });

  it('retries a first connection that cannot be opened, and gives up after maxAttempts', async () => {
    const s = await setup({ reconnect: { ...BACKOFF, maxAttempts: 2 } });
    s.server.refuseConnections = true;
    const outcome = s.stream.connect().then(
      () => 'connected',
      (e: unknown) => e,
    );
    await eventually(() => expect(s.retries()).toHaveLength(1));
    s.advance(1_000);
    await eventually(() => expect(s.retries()).toHaveLength(2));
    s.advance(2_000);
    const failure = await outcome;
    expect(failure).toBeInstanceOf(AlpacaStreamError);
    expect(failure).toMatchObject({ code: 'SOCKET', message: expect.stringMatching(/503.*gave up after 2 reconnect attempt\(s\)$/) });
    expect(s.error()).toBe(failure);
    expect(s.stream.status).toBe('failed');
    expect(s.events.at(-1)).toMatchObject({ type: 'failed' });
  });

  it('a first connection that fails once then succeeds resolves start()', async () => {
    const s = await setup();
    s.server.refuseConnections = true;
    const started = s.stream.start();
    await eventually(() => expect(s.retries()).toHaveLength(1));
    s.server.refuseConnections = false;
    s.advance(1_000);
    await started;
    expect(s.stream.status).toBe('streaming');
    expect(s.server.frames).toEqual([AUTH, SUBSCRIBE]);
  });

  it('close() while waiting to reconnect cancels the retry and completes the quotes', async () => {
    const s = await setup();
    await s.stream.connect();
    s.server.dropConnections();
    await eventually(() => expect(s.stream.status).toBe('reconnecting'));
    await s.stream.close();
    expect(s.stream.status).toBe('closed');
    expect(s.completed()).toBe(true);
    s.advance(60_000);
    expect(s.stream.stats().reconnects).toBe(0);
    expect(s.server.counts.accepted).toBe(1);
  });
});

describe('Alpaca stream: auth failures are fatal', () => {
  it('a wrong key is refused once and never retried', async () => {
    const s = await setup({ key: 'WRONG', secret: 'wrong-secret' });
    const failure = await s.stream.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toMatchObject({ code: 402, message: 'Alpaca stream refused the connection while authenticating: 402 auth failed' });
    expect(s.error()).toBe(failure);
    s.advance(3_600_000);
    expect(s.server.counts.accepted).toBe(1);
    expect(s.stream.stats().reconnects).toBe(0);
    expect(s.events).toEqual([{ type: 'failed', reason: 'Alpaca stream refused the connection while authenticating: 402 auth failed' }]);
    const visible = JSON.stringify([s.events, s.stream.health(), String(failure), (failure as Error).stack]);
    expect(visible).not.toMatch(/wrong-secret|WRONG/);
  });

  it('a key that stops working between connections fails the reconnect, which is not retried', async () => {
    const s = await setup();
    await s.stream.connect();
    s.server.setCredentials({ key: 'ROTATED', secret: 'rotated-secret' });
    s.server.dropConnections();
    await eventually(() => expect(s.stream.status).toBe('reconnecting'));
    s.advance(1_000);
    await eventually(() => expect(s.stream.status).toBe('failed'));
    expect(s.error()).toMatchObject({ code: 402 });
    s.advance(3_600_000);
    expect(s.server.counts.accepted).toBe(2);
    expect(s.retries()).toHaveLength(1);
    expect(s.server.frames).toEqual([AUTH, SUBSCRIBE, AUTH]);
  });
});

describe('Alpaca stream: heartbeat', () => {
  it('pings every interval; a pong or any frame keeps the connection, silence past the timeout kills it and it reconnects', async () => {
    const s = await setup({ heartbeat: { pingIntervalMs: 10_000, pongTimeoutMs: 5_000 } });
    await s.stream.connect();
    s.advance(10_000);
    expect(s.stream.stats().pings).toBe(1);
    await s.server.until((c) => c.pings === 1);
    await eventually(() => expect(s.stream.stats().pongs).toBe(1));
    s.advance(5_000); // the pong came: nothing happens at the deadline
    expect(s.stream.status).toBe('streaming');

    s.server.answerPings = false;
    s.advance(5_000); // ping 2 at +20 s; no pong, but a trade arrives in time
    await s.server.until((c) => c.pings === 2);
    s.server.pushTrades([{ S: 'AAPL', p: 5 }]);
    await eventually(() => expect(s.quotes).toHaveLength(1));
    s.advance(5_000);
    expect(s.stream.status).toBe('streaming');

    s.advance(5_000); // ping 3 at +30 s, and then silence
    await s.server.until((c) => c.pings === 3);
    s.advance(4_999);
    expect(s.stream.status).toBe('streaming');
    s.advance(1);
    expect(s.stream.status).toBe('reconnecting');
    expect(s.stream.stats().heartbeatTimeouts).toBe(1);
    expect(s.events.find((e) => e.type === 'disconnected')).toEqual({
      type: 'disconnected',
      connection: 1,
      reason: 'no pong nor any frame within 5000 ms of a ping while streaming: the connection is dead',
    });
    await s.server.until((c) => c.closed === 1); // the client terminated the dead socket

    s.server.answerPings = true;
    s.advance(1_000);
    await s.server.until((c) => c.subscriptions === 2);
    await eventually(() => expect(s.stream.status).toBe('streaming'));
    expect(s.server.frames).toEqual([AUTH, SUBSCRIBE, AUTH, SUBSCRIBE]);
    expect(s.error()).toBeUndefined();
  });

  it('without reconnect, a dead connection errors the quotes as DISCONNECTED', async () => {
    const s = await setup({ reconnect: false, heartbeat: { pingIntervalMs: 1_000, pongTimeoutMs: 500 } });
    await s.stream.connect();
    s.server.answerPings = false;
    s.advance(1_000);
    await s.server.until((c) => c.pings === 1);
    s.advance(500);
    expect(s.stream.status).toBe('failed');
    expect(s.error()).toMatchObject({ code: 'DISCONNECTED', message: expect.stringContaining('the connection is dead') });
  });

  it('heartbeat: false sends no pings', async () => {
    const s = await setup({ heartbeat: false });
    await s.stream.connect();
    s.advance(3_600_000);
    expect(s.stream.stats().pings).toBe(0);
    expect(s.stream.status).toBe('streaming');
  });
});

describe('Alpaca stream: bad messages, staleness, market time', () => {
  it('counts malformed frames and goes on, across a reconnect', async () => {
    const reasons: string[] = [];
    const s = await setup({ onMalformed: (m) => reasons.push(m.reason) });
    await s.stream.connect();
    s.server.sendRaw('{not json');
    s.server.sendRaw(JSON.stringify([{ T: 't', S: 'AAPL', p: -1, t: '2025-10-09T14:00:00Z' }]));
    s.server.dropConnections();
    await eventually(() => expect(s.stream.status).toBe('reconnecting'));
    s.advance(1_000);
    await s.server.until((c) => c.subscriptions === 2);
    s.server.sendRaw('"a string"');
    s.server.pushTrades([{ S: 'TSLA', p: 250.5 }]);
    await eventually(() => expect(s.quotes.map((q) => q.price)).toEqual(['250.5']));
    expect(reasons).toEqual(['not JSON', expect.stringMatching(/^bad "t" event: p: /), 'not an array of events']);
    expect(s.stream.stats()).toMatchObject({ malformed: 3, emitted: 1, reconnects: 1 });
    expect(s.stream.health().malformed).toBe(3);
    expect(s.error()).toBeUndefined();
    expect(s.stream.status).toBe('streaming');
  });

  it('keeps the last quote per symbol; a symbol is stale when its last quote is older than the limit, or absent', async () => {
    const s = await setup({ trades: ['AAPL', 'TSLA', 'NVDA'], quotes: [] });
    await s.stream.connect();
    const iso = (ms: number) => new Date(ms).toISOString();
    s.server.pushTrades([
      { S: 'AAPL', p: 271.0884, t: iso(T0) },
      { S: 'TSLA', p: 440.1, t: iso(T0 + 10_000) },
    ]);
    await eventually(() => expect(s.quotes).toHaveLength(2));
    expect(s.stream.last('AAPL')).toEqual({ symbol: 'AAPL', price: '271.0884', atMs: T0, source: 'alpaca' });
    expect(s.stream.last('NVDA')).toBeUndefined();
    expect(s.stream.isStale('AAPL', T0 + 30_000, 30_000)).toBe(false);
    expect(s.stream.isStale('AAPL', T0 + 30_001, 30_000)).toBe(true);
    expect(s.stream.isStale('NVDA', T0, 30_000)).toBe(true);
    // Defaults: the scheduler's now and staleAfterMs (30 s).
    expect(s.stream.staleSymbols()).toEqual(['NVDA']);
    s.advance(30_001);
    expect(s.stream.isStale('AAPL')).toBe(true);
    expect(s.stream.isStale('TSLA')).toBe(false);
    expect(s.stream.staleSymbols()).toEqual(['AAPL', 'NVDA']);
    expect(s.stream.health()).toMatchObject({ lastQuoteMs: T0 + 10_000, quotes: 2 });
  });

  it('publishes the replay server\'s clock announcements on marketTime, replaying the latest', async () => {
    const s = await setup();
    await s.stream.connect();
    s.server.sendEvents([
      { T: 'replay_clock', t: '2025-11-07T09:25:00.000-05:00', speed: 60, day: '2025-11-07', state: 'pre' },
      { T: 'replay_clock', t: 'soon', speed: 60 },
      { T: 'replay_clock', t: '2025-11-07T09:26:00-05:00', speed: 60, day: '2025-11-07', state: 'pre' },
    ]);
    await eventually(() => expect(s.stream.stats().clockEvents).toBe(2));
    const seen: MarketTimeReading[] = [];
    s.stream.marketTime.subscribe((r) => seen.push(r));
    expect(seen).toEqual([{ atMs: Date.UTC(2025, 10, 7, 14, 26), speed: 60, day: '2025-11-07', state: 'pre' }]);
    expect(s.stream.stats()).toMatchObject({ malformed: 1, ignored: 0 });
    let done = false;
    s.stream.marketTime.subscribe({ complete: () => (done = true) });
    await s.stream.close();
    expect(done).toBe(true);
  });

  it('is a QuoteFeed: start() connects, close() completes the quotes', async () => {
    const s = await setup({ name: 'replay' });
    const feed: QuoteFeed = s.stream;
    await feed.start();
    expect(feed.health()).toEqual({ source: 'replay', connected: true, quotes: 0, malformed: 0, failures: 0 });
    await feed.close();
    expect(s.completed()).toBe(true);
    expect(feed.health().connected).toBe(false);
    await expect(s.stream.connect()).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });
});
