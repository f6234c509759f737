import { eventually } from '../support/eventually.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Quote } from '../../src/domain/quotes.js';
import { AlpacaQuoteStream, AlpacaStreamError, alpacaQuotes, priceText, type AlpacaControl } from '../../src/streams/alpaca-quotes.js';
import { AlpacaTestServer } from '../support/alpaca-server.js';


const KEY = 'PKTEST1234';
const SECRET = 'very-secret-value';

let server: AlpacaTestServer;
const streams: AlpacaQuoteStream[] = [];
afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
  await server?.close();
});

async function open(options: Partial<ConstructorParameters<typeof AlpacaQuoteStream>[0]> = {}) {
  server = await AlpacaTestServer.start({ key: KEY, secret: SECRET });
  const stream = new AlpacaQuoteStream({ url: server.url, key: KEY, secret: SECRET, trades: ['AAPL', 'TSLA'], ...options });
  streams.push(stream);
  const quotes: Quote[] = [];
  const control: AlpacaControl[] = [];
  let error: unknown;
  let completed = false;
  stream.quotes.subscribe({ next: (q) => quotes.push(q), error: (e) => (error = e), complete: () => (completed = true) });
  stream.control.subscribe((c) => control.push(c));
  return { stream, quotes, control, error: () => error, completed: () => completed };
}

describe('Alpaca v2 quote stream against a real local server', () => {
  it('authenticates, subscribes, and turns trades into exact quotes', async () => {
    const s = await open({ quotes: ['MSFT'] });
    await s.stream.connect();
    expect(s.stream.status).toBe('streaming');
    expect(server.frames).toEqual([
      { action: 'auth', key: KEY, secret: SECRET },
      { action: 'subscribe', trades: ['AAPL', 'TSLA'], quotes: ['MSFT'] },
    ]);
    expect(s.control).toEqual([
      { type: 'success', msg: 'connected' },
      { type: 'success', msg: 'authenticated' },
      { type: 'subscription', trades: ['AAPL', 'TSLA'], quotes: ['MSFT'] },
    ]);
    server.pushTrades([
      { S: 'AAPL', p: 126.55, t: '2021-02-22T15:51:44.208123456Z' },
      { S: 'TSLA', p: 0.1, t: '2021-02-22T10:51:45-05:00' },
    ]);
    server.pushQuotes([{ S: 'MSFT', bp: 87.66, ap: 87.69, t: '2021-02-22T15:51:46Z' }]);
    await eventually(() => expect(s.quotes).toHaveLength(3));
    expect(s.quotes).toEqual([
      { symbol: 'AAPL', price: '126.55', atMs: Date.UTC(2021, 1, 22, 15, 51, 44, 208), source: 'alpaca' },
      { symbol: 'TSLA', price: '0.1', atMs: Date.UTC(2021, 1, 22, 15, 51, 45), source: 'alpaca' },
      { symbol: 'MSFT', price: '87.675', atMs: Date.UTC(2021, 1, 22, 15, 51, 46), source: 'alpaca-mid' },
    ]);
    expect(s.stream.stats()).toMatchObject({ trades: 2, quoteEvents: 1, emitted: 3, malformed: 0 });
  });

  it('prices are the JSON number\'s shortest decimal, never an exponent', () => {
    expect(priceText(126.55)).toBe('126.55');
    expect(priceText(0.0000001)).toBe('0.0000001');
    expect(priceText(1e21)).toBe('1000000000000000000000');
    expect(priceText(271.0884)).toBe('271.0884');
  });

  it('counts and skips malformed messages without ending the stream', async () => {
    const seen: string[] = [];
    const s = await open({ onMalformed: (m) => seen.push(m.reason) });
    await s.stream.connect();
    server.sendRaw('{not json');
    server.sendRaw('{"T":"t"}');
    server.sendRaw(JSON.stringify([{ T: 't', S: 'AAPL', p: 'abc', t: '2021-02-22T15:51:44Z' }, { T: 't', S: 'AAPL', p: 1.5, t: 'yesterday' }, 42, { T: 'b', S: 'AAPL' }]));
    server.sendRaw(JSON.stringify([{ T: 'q', S: 'AAPL', bp: 0, ap: 10, t: '2021-02-22T15:51:44Z' }]));
    server.pushTrades([{ S: 'AAPL', p: 127 }]);
    await eventually(() => expect(s.quotes.map((q) => q.price)).toEqual(['127']));
    expect(s.stream.stats()).toMatchObject({ malformed: 5, ignored: 2, emitted: 1 });
    expect(seen).toEqual([
      'not JSON',
      'not an array of events',
      expect.stringMatching(/^bad "t" event: p: /),
      expect.stringMatching(/^bad "t" event: t: expected an RFC-3339 timestamp/),
      'event without a type T',
    ]);
    expect(s.error()).toBeUndefined();
    expect(s.stream.status).toBe('streaming');
  });

  it('a wrong key fails connect() and the stream with the server\'s error, and never echoes the secret', async () => {
    server = await AlpacaTestServer.start({ key: KEY, secret: SECRET });
    const stream = new AlpacaQuoteStream({ url: server.url, key: 'WRONG', secret: 'wrong-secret', trades: ['AAPL'] });
    streams.push(stream);
    let error: unknown;
    stream.quotes.subscribe({ error: (e) => (error = e) });
    const failure = await stream.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(AlpacaStreamError);
    expect(failure).toMatchObject({ code: 402, message: 'Alpaca stream refused the connection while authenticating: 402 auth failed' });
    expect(error).toBe(failure);
    expect(stream.status).toBe('failed');
    expect(JSON.stringify(failure) + String(failure) + (failure as Error).stack).not.toMatch(/wrong-secret|WRONG/);
    expect(server.frames).toEqual([{ action: 'auth', key: 'WRONG', secret: 'wrong-secret' }]); // no subscribe after a failed auth
  });

  it('a dropped connection errors the stream (DISCONNECTED); close() after it is clean', async () => {
    const s = await open();
    await s.stream.connect();
    server.dropConnections();
    await eventually(() => expect(s.error()).toBeInstanceOf(AlpacaStreamError));
    expect((s.error() as AlpacaStreamError).code).toBe('DISCONNECTED');
    await s.stream.close();
    expect(s.stream.status).toBe('failed');
  });

  it('close() closes the socket and completes the streams', async () => {
    const s = await open();
    await s.stream.connect();
    expect(server.connections).toBe(1);
    await s.stream.close();
    expect(s.completed()).toBe(true);
    expect(s.error()).toBeUndefined();
    expect(s.stream.status).toBe('closed');
    await eventually(() => expect(server.connections).toBe(0));
    await s.stream.close(); // idempotent
  });

  it('an unreachable server fails connect() with a SOCKET error', async () => {
    server = await AlpacaTestServer.start({ key: KEY, secret: SECRET });
    const url = server.url;
    await server.close();
    const stream = new AlpacaQuoteStream({ url, key: KEY, secret: SECRET, trades: ['AAPL'] });
    streams.push(stream);
    await expect(stream.connect()).rejects.toMatchObject({ code: 'SOCKET' });
  });

  it('alpacaQuotes() is cold: one connection per subscription, closed on unsubscribe', async () => {
    server = await AlpacaTestServer.start({ key: KEY, secret: SECRET });
    const got: Quote[] = [];
    const sub = alpacaQuotes({ url: server.url, key: KEY, secret: SECRET, trades: ['AAPL'] }).subscribe((q) => got.push(q));
    await server.subscribed();
    server.pushTrades([{ S: 'AAPL', p: 5 }]);
    await eventually(() => expect(got.map((q) => q.price)).toEqual(['5']));
    sub.unsubscribe();
    await eventually(() => expect(server.connections).toBe(0));
  });
});
