import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import type { KillRequest, KillResetRequest } from '../../src/server/event-feed.js';
import { EPOCH, FeedClient, TOKEN, closeAll, event, refusedStatus, startHarness } from './helpers.js';

afterEach(closeAll);

const isType = (type: FeedEvent['type']) => (e: FeedEvent) => e.type === type;
const rawSocket = (c: FeedClient) => (c.ws as unknown as { _socket: Socket })._socket;

describe('event feed: hello and filters', () => {
  it('greets each client first with the server time, its filter and how it got in', async () => {
    const h = await startHarness();
    const c = await FeedClient.connect(h.feedUrl);
    const hello = await c.next();
    expect(hello).toEqual({
      type: 'hello',
      time: new Date(EPOCH).toISOString(),
      payload: { auth: 'loopback', canKill: false, filter: { types: 'all except quote', signatures: 'all' }, heartbeatMs: 1_000, clients: 1 },
    });
    expect(h.server.feed.stats()).toMatchObject({ clients: 1, sent: 1, rejected: 0 });
  });

  it('sends every type but quote by default, and quotes only to a client that names them', async () => {
    const h = await startHarness();
    const all = await FeedClient.connect(h.feedUrl);
    const quotes = await FeedClient.connect(h.feedUrl);
    await all.next(isType('hello'));
    await quotes.next(isType('hello'));
    quotes.send({ action: 'subscribe', types: ['quote', 'tick'] });
    const ack = await quotes.next(isType('notice'));
    expect(ack.payload).toEqual({ reason: 'subscribed', filter: { types: ['quote', 'tick'], signatures: 'all' } });

    h.events.next(event('quote', { symbol: 'AAPL', price: '224.1', atMs: EPOCH, source: 'replay' }));
    h.events.next(event('order', { clientOrderId: 'a-1', status: 'accepted' }, 'alpha'));
    h.events.next(event('tick', { market: 'us', seq: 'end' }));

    await all.next((e) => e.type === 'tick');
    await quotes.next((e) => e.type === 'tick');
    expect(all.frames.map((e) => e.type)).toEqual(['hello', 'order', 'tick']);
    expect(quotes.frames.map((e) => e.type)).toEqual(['hello', 'notice', 'quote', 'tick']);
  });

  it('filters by signature; events without one (ticks, heartbeats, global alerts) always pass', async () => {
    const h = await startHarness();
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));
    c.send({ action: 'subscribe', signatures: ['alpha'] });
    await c.next(isType('notice'));
    h.events.next(event('fill', { clientOrderId: 'b-1' }, 'beta'));
    h.events.next(event('fill', { clientOrderId: 'a-1' }, 'alpha'));
    h.events.next(event('alert', { level: 'warning', code: 'QUOTES_STALE' }));
    await c.next(isType('alert'));
    expect(c.frames.slice(2).map((e) => [e.type, e.signature])).toEqual([
      ['fill', 'alpha'],
      ['alert', undefined],
    ]);
  });

  it('a new subscribe replaces the filter; an empty type list leaves only direct messages', async () => {
    const h = await startHarness();
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));
    c.send({ action: 'subscribe', types: [] });
    await c.next(isType('notice'));
    h.events.next(event('tick', { n: 1 }));
    c.send({ action: 'subscribe', types: ['tick'] });
    await c.next(isType('notice'));
    h.events.next(event('tick', { n: 2 }));
    const tick = await c.next(isType('tick'));
    expect(tick.payload).toEqual({ n: 2 });
  });
});

describe('event feed: heartbeats and liveness on virtual time', () => {
  it('sends a heartbeat every heartbeatMs of the injected scheduler, with the client count and the caller payload', async () => {
    const h = await startHarness({ heartbeatPayload: () => ({ quotes: { fresh: true, source: 'replay' } }) });
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));

    h.scheduler.advanceTo(EPOCH + 999);
    h.events.next(event('tick', { seq: 'before' }));
    await c.next(isType('tick'));
    expect(c.frames.some((e) => e.type === 'heartbeat')).toBe(false);

    h.scheduler.advanceTo(EPOCH + 1_000);
    const first = await c.next(isType('heartbeat'));
    // Let the client's pong reach the server (a round trip after it), or the next beat drops it as dead.
    c.send({ action: 'subscribe' });
    await c.next(isType('notice'));
    h.scheduler.advanceTo(EPOCH + 2_000);
    const second = await c.next(isType('heartbeat'));
    expect(first).toEqual({ type: 'heartbeat', time: new Date(EPOCH + 1_000).toISOString(), payload: { quotes: { fresh: true, source: 'replay' }, clients: 1 } });
    expect(second.time).toBe(new Date(EPOCH + 2_000).toISOString());
  });

  it('a failing heartbeatPayload does not stop the heartbeat', async () => {
    const h = await startHarness({
      heartbeatPayload: () => {
        throw new Error('boom');
      },
    });
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));
    h.scheduler.advanceTo(EPOCH + 1_000);
    expect((await c.next(isType('heartbeat'))).payload).toEqual({ heartbeatPayloadFailed: true, clients: 1 });
  });

  it('drops a client that has not answered the previous ping by the next heartbeat', async () => {
    const h = await startHarness();
    const healthy = await FeedClient.connect(h.feedUrl);
    const dead = await FeedClient.connect(h.feedUrl, { autoPong: false });
    await healthy.next(isType('hello'));
    await dead.next(isType('hello'));
    const pinged = new Promise<void>((resolve) => healthy.ws.once('ping', () => resolve()));

    h.scheduler.advanceTo(EPOCH + 1_000);
    await pinged; // ws answers the ping before it emits 'ping'
    // A round trip after the pong: the server has read the pong once it answers this.
    healthy.send({ action: 'subscribe' });
    await healthy.next(isType('notice'));

    h.scheduler.advanceTo(EPOCH + 2_000);
    expect((await dead.closed).code).toBe(1006);
    expect(h.server.feed.stats()).toMatchObject({ clients: 1, timedOut: 1, dropped: 0 });
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
  });
});

describe('event feed: slow clients', () => {
  it('drops a client that stopped reading, and its buffer never grows past the limit plus one frame', async () => {
    const maxBufferedBytes = 256 * 1024;
    const h = await startHarness({ maxBufferedBytes });
    const healthy = await FeedClient.connect(h.feedUrl);
    const stalled = await FeedClient.connect(h.feedUrl);
    await healthy.next(isType('hello'));
    await stalled.next(isType('hello'));
    rawSocket(stalled).pause();

    const blob = 'x'.repeat(8 * 1024);
    let seq = 0;
    while (h.server.feed.stats().dropped === 0) {
      // Small batches, each read by the healthy client before the next: only the stalled one falls behind.
      for (let i = 0; i < 10; i++) h.events.next(event('order', { seq: seq++, blob }, 'alpha'));
      const last = seq - 1;
      await healthy.next((e) => e.payload['seq'] === last);
      if (seq > 20_000) throw new Error('the stalled client was never dropped');
    }
    const frameBytes = JSON.stringify(event('order', { seq, blob }, 'alpha')).length + 16;
    const stats = h.server.feed.stats();
    expect(stats).toMatchObject({ clients: 1, dropped: 1, timedOut: 0 });
    expect(stats.peakBufferedBytes).toBeGreaterThan(0);
    expect(stats.peakBufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + frameBytes);

    // Pushing on costs the dropped client nothing, and the healthy one gets everything.
    for (let i = 0; i < 10; i++) h.events.next(event('order', { seq: seq++, blob }, 'alpha'));
    await healthy.next((e) => e.payload['seq'] === seq - 1);
    expect(healthy.frames.filter(isType('order'))).toHaveLength(seq);
    expect(h.server.feed.stats().peakBufferedBytes).toBe(stats.peakBufferedBytes);

    rawSocket(stalled).resume();
    expect((await stalled.closed).code).toBe(1006);
    expect(stalled.frames.filter(isType('order')).length).toBeLessThan(seq);
  });

  it('drops a client with too many unflushed messages even when they are small', async () => {
    const h = await startHarness({ maxBufferedBytes: 512 * 1024 * 1024, maxQueuedMessages: 200 });
    const healthy = await FeedClient.connect(h.feedUrl);
    const stalled = await FeedClient.connect(h.feedUrl);
    await healthy.next(isType('hello'));
    await stalled.next(isType('hello'));
    rawSocket(stalled).pause();
    const blob = 'y'.repeat(1024);
    let seq = 0;
    while (h.server.feed.stats().dropped === 0) {
      for (let i = 0; i < 50; i++) h.events.next(event('order', { seq: seq++, blob }));
      const last = seq - 1;
      await healthy.next((e) => e.payload['seq'] === last);
      if (seq > 200_000) throw new Error('the stalled client was never dropped');
    }
    expect(h.server.feed.stats()).toMatchObject({ clients: 1, dropped: 1 });
    rawSocket(stalled).resume();
    await stalled.closed;
  });
});

describe('event feed: auth', () => {
  it('with trustLoopback off, refuses a client without the token (401) and counts it', async () => {
    const h = await startHarness({ token: TOKEN, trustLoopback: false });
    expect(await refusedStatus(h.feedUrl)).toBe(401);
    expect(await refusedStatus(h.feedUrl, { headers: { Authorization: 'Bearer wrong-token-0000000' } })).toBe(401);
    expect(await refusedStatus(`${h.feedUrl}?token=wrong`)).toBe(401);
    expect(h.server.feed.stats()).toMatchObject({ clients: 0, rejected: 3 });
  });

  it('with trustLoopback off, lets in a client with the bearer token or ?token=', async () => {
    const h = await startHarness({ token: TOKEN, trustLoopback: false });
    const bearer = await FeedClient.connect(h.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const query = await FeedClient.connect(`${h.feedUrl}?token=${encodeURIComponent(TOKEN)}`);
    expect((await bearer.next()).payload).toMatchObject({ auth: 'token', canKill: false }); // no kill handler on this server
    expect((await query.next()).payload).toMatchObject({ auth: 'token', canKill: false });
  });

  it('with no token configured, only loopback gets in', async () => {
    const h = await startHarness({ trustLoopback: false });
    expect(await refusedStatus(h.feedUrl)).toBe(401);
    expect(await refusedStatus(`${h.feedUrl}?token=anything-at-all`)).toBe(401);
  });

  it('a wrong token from loopback is refused rather than treated as loopback', async () => {
    const h = await startHarness({ token: TOKEN });
    expect(await refusedStatus(`${h.feedUrl}?token=not-the-token`)).toBe(401);
  });

  it('refuses a tokenless loopback upgrade from a foreign web origin or host name (403)', async () => {
    const h = await startHarness({ token: TOKEN });
    expect(await refusedStatus(h.feedUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await refusedStatus(h.feedUrl, { headers: { Host: 'rebound.example:80' } })).toBe(403);
    const sameOrigin = await FeedClient.connect(h.feedUrl, { origin: h.server.url });
    expect((await sameOrigin.next()).payload).toMatchObject({ auth: 'loopback' });
  });

  it('404s an upgrade on another path', async () => {
    const h = await startHarness();
    expect(await refusedStatus(h.feedUrl.replace('/feed', '/other'))).toBe(404);
  });
});

describe('event feed: kill switch messages', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function withKillSwitch() {
    const dir = mkdtempSync(join(tmpdir(), 'feed-kill-'));
    dirs.push(dir);
    const calls: { kill: KillRequest[]; reset: KillResetRequest[] } = { kill: [], reset: [] };
    let h: Awaited<ReturnType<typeof startHarness>> | undefined;
    const killSwitch = new KillSwitch(dir, () => h!.scheduler.now());
    h = await startHarness({
      token: TOKEN,
      onKill: (r) => {
        calls.kill.push(r);
        return killSwitch.activate(r);
      },
      onKillReset: (r) => {
        calls.reset.push(r);
        return killSwitch.reset(r);
      },
    });
    return { h, calls, killSwitch };
  }

  it('refuses kill from a loopback connection that did not present the token', async () => {
    const { h, calls, killSwitch } = await withKillSwitch();
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));
    c.send({ action: 'kill', reason: 'nope' });
    c.send({ action: 'kill.reset' });
    expect((await c.next(isType('notice'))).payload).toEqual({ reason: 'forbidden', action: 'kill', message: 'kill needs a connection authenticated with the feed token' });
    expect((await c.next(isType('notice'))).payload).toMatchObject({ reason: 'forbidden', action: 'kill.reset' });
    expect(calls).toEqual({ kill: [], reset: [] });
    expect(killSwitch.state().active).toBe(false);
  });

  it('a token connection throws the switch once with its arguments and is told the result', async () => {
    const { h, calls, killSwitch } = await withKillSwitch();
    const c = await FeedClient.connect(h.feedUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect((await c.next(isType('hello'))).payload).toMatchObject({ auth: 'token', canKill: true });
    c.send({ action: 'kill', signature: 'alpha', reason: 'runaway agent' });
    const done = await c.next(isType('notice'));
    expect(calls.kill).toEqual([{ signature: 'alpha', reason: 'runaway agent' }]);
    expect(done.payload).toEqual({
      reason: 'done',
      action: 'kill',
      signature: 'alpha',
      result: { active: true, signatures: ['alpha'], reason: 'runaway agent', at: new Date(EPOCH).toISOString() },
    });
    expect(killSwitch.isHalted('alpha')).toBe(true);

    c.send({ action: 'kill.reset', signature: 'alpha' });
    expect((await c.next(isType('notice'))).payload).toMatchObject({ reason: 'done', action: 'kill.reset', result: { active: false } });
    expect(calls.reset).toEqual([{ signature: 'alpha' }]);
  });

  it('a kill without signature or reason halts everything with a default reason', async () => {
    const { h, calls } = await withKillSwitch();
    const c = await FeedClient.connect(`${h.feedUrl}?token=${TOKEN}`);
    await c.next(isType('hello'));
    c.send({ action: 'kill' });
    expect((await c.next(isType('notice'))).payload).toMatchObject({ reason: 'done', result: { active: true, signatures: 'all' } });
    expect(calls.kill).toEqual([{ signature: undefined, reason: 'halted from the event feed' }]);
  });

  it('a handler that fails is reported as failed, and the connection stays up', async () => {
    const { h } = await withKillSwitch();
    const c = await FeedClient.connect(`${h.feedUrl}?token=${TOKEN}`);
    await c.next(isType('hello'));
    c.send({ action: 'kill' });
    await c.next(isType('notice'));
    c.send({ action: 'kill.reset', signature: 'alpha' }); // one signature while all are halted: refused by the switch
    const failed = await c.next(isType('notice'));
    expect(failed.payload).toMatchObject({ reason: 'failed', action: 'kill.reset', signature: 'alpha' });
    expect(String(failed.payload['message'])).toContain('cannot release only alpha');
    c.send({ action: 'subscribe' });
    expect((await c.next(isType('notice'))).payload['reason']).toBe('subscribed');
  });

  it('without handlers, kill is answered as unavailable', async () => {
    const h = await startHarness({ token: TOKEN });
    const c = await FeedClient.connect(`${h.feedUrl}?token=${TOKEN}`);
    await c.next(isType('hello'));
    c.send({ action: 'kill' });
    expect((await c.next(isType('notice'))).payload).toMatchObject({ reason: 'unavailable', action: 'kill' });
  });
});

describe('event feed: malformed client messages', () => {
  it('answers each with a bad_request notice naming the zod path, and keeps serving', async () => {
    const h = await startHarness();
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));
    c.send('not json {');
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    c.send({ action: 'subscribe', types: ['tick', 'nope'] });
    c.send({ action: 'dance' });
    c.send({ action: 'kill', reason: 42 });
    c.send([1, 2]);
    const notices = [];
    for (let i = 0; i < 6; i++) notices.push((await c.next(isType('notice'))).payload);
    expect(notices.map((n) => n['reason'])).toEqual(Array(6).fill('bad_request'));
    expect(notices[0]).toEqual({ reason: 'bad_request', message: 'expected a JSON text message' });
    expect(notices[1]).toEqual({ reason: 'bad_request', message: 'expected a JSON text message' });
    expect(notices[2]).toMatchObject({ issues: [{ path: 'types.1' }] });
    expect(notices[3]).toMatchObject({ issues: [{ path: 'action' }] });
    expect(notices[4]).toMatchObject({ issues: [{ path: 'reason' }] });
    expect(h.server.feed.stats()).toMatchObject({ badMessages: 6, clients: 1 });

    h.events.next(event('tick', { still: 'here' }));
    expect((await c.next(isType('tick'))).payload).toEqual({ still: 'here' });
  });
});

describe('event feed: secrets', () => {
  it('redacts credential-looking keys at any depth and blanks the token inside any string', async () => {
    const h = await startHarness({ token: TOKEN });
    const c = await FeedClient.connect(h.feedUrl);
    await c.next(isType('hello'));
    h.events.next(
      event('alert', {
        message: `broker said: bad auth ${TOKEN}`,
        apiKey: 'PK123',
        nested: { password: 'hunter2', list: [{ token: 't', keep: 1 }], Authorization: 'Bearer x', clientSecret: 's' },
        symbol: 'AAPL',
      }),
    );
    const alert = await c.next(isType('alert'));
    expect(alert.payload).toEqual({
      message: 'broker said: bad auth [redacted]',
      apiKey: '[redacted]',
      nested: { password: '[redacted]', list: [{ token: '[redacted]', keep: 1 }], Authorization: '[redacted]', clientSecret: '[redacted]' },
      symbol: 'AAPL',
    });
    expect(JSON.stringify(c.frames)).not.toContain(TOKEN);
  });
});
