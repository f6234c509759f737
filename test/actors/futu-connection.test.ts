/**
 * FutuConnection (through the adapter, which gives it its session) against the fake OpenD in a
 * child process, on virtual time: the handshake, a refused key, deadlines, drops and reconnects,
 * keep-alive, and frames that make no sense.
 */
import { describe, expect, it } from 'vitest';
import { VenueHalted, VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import { eventually } from '../support/eventually.js';
import { cmds, order, TIMEOUT_MS, until, worldsPerTest } from '../support/fake-futu/harness.js';

const world = worldsPerTest();

const rejection = async (p: Promise<unknown>): Promise<unknown> => p.then(() => new Error('resolved'), (e: unknown) => e);

describe('FutuConnection', () => {
  it('handshakes with the md5 of the key, then GetAccList and SubAccPush, and only then says listening (simulate: no unlock)', async () => {
    const w = await world();
    expect(await cmds(w.fake)).toEqual([1, 2001, 2008]);
    expect(w.connection).toEqual([{ type: 'listening' }]);
    expect(w.events).toContainEqual({ type: 'account', accID: '1001' });
    const s = await w.fake.state();
    expect(s.connections).toMatchObject({ open: 1, initialized: 1, subscribed: 1 });
    expect(s.unlocked).toBe(false);
  });

  it('a wrong websocket key is VenueHalted: connect() rejects, no reconnect ever', async () => {
    const w = await world({ websocketKey: 'not-the-key', connect: false });
    const e = await rejection(w.adapter.connect());
    expect(e).toBeInstanceOf(VenueHalted);
    expect((e as Error).message).toMatch(/InitWebSocket: websocket key is wrong.*trading stops/);
    expect((e as Error).message).not.toContain('not-the-key');
    w.advance(60_000);
    expect((await w.fake.state()).connections.total).toBe(1);
    expect(w.connection).toEqual([{ type: 'disconnected', message: expect.stringMatching(/websocket key is wrong/) }]);
    expect(await rejection(w.adapter.orders())).toBeInstanceOf(VenueHalted);
  });

  it('a reply that never comes is VenueUnavailable(outcomeKnown=false) at the deadline, while the order exists at the broker', async () => {
    const w = await world();
    await w.fake.mode({ fill: 'manual' }); // the limit rests: the test fills it
    await w.fake.fault(2202, { kind: 'hold' });
    let settled = false;
    const placed = rejection(w.adapter.place(order('ew.1', { type: 'limit', limitPrice: '1500.5' }))).finally(() => (settled = true));
    await until(async () => (await w.fake.state()).held === 1, 'the held reply');
    w.advance(TIMEOUT_MS - 1);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    w.advance(1);
    const e = await placed;
    expect(e).toBeInstanceOf(VenueUnavailable);
    expect(e).toMatchObject({ outcomeKnown: false, message: expect.stringMatching(/no reply to Trd_PlaceOrder within 10000 ms/) });
    const listed = (await w.adapter.orders()).filter((o) => o.clientOrderId === 'ew.1');
    expect(listed).toMatchObject([{ state: 'open', quantity: 100, limitPrice: '1500.5' }]);
    // the late reply finds nobody waiting: reported, not a crash, and the connection goes on
    await w.fake.release();
    await eventually(() => expect(w.events).toContainEqual({ type: 'malformed', reason: expect.stringMatching(/reply \(cmd 2202, section \d+\) to no request waiting/) }));
    expect(await w.adapter.orders()).toHaveLength(1);
  });

  it('a connection dropped after the order is placed: VenueUnavailable(false), then a reconnect after the back-off, the session again, listening again', async () => {
    const w = await world();
    await w.fake.fault(2202, { kind: 'drop' });
    const e = await rejection(w.adapter.place(order('ew.2')));
    expect(e).toBeInstanceOf(VenueUnavailable);
    expect(e).toMatchObject({ outcomeKnown: false, message: expect.stringMatching(/dropped/) });
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected']));
    // while down, nothing is sent: outcome known
    expect(await rejection(w.adapter.orders())).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: true });
    w.advance(1_000);
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected', 'listening']));
    expect(await cmds(w.fake)).toEqual([1, 2001, 2008, 2202, 1, 2008]);
    expect((await w.adapter.orders()).map((o) => o.clientOrderId)).toEqual(['ew.2']);
  });

  it('a drop fails every request waiting (outcome unknown); an OpenD restart relocks trading and the reconnect unlocks again (real env)', async () => {
    const w = await world({ paper: false });
    await w.fake.fault(2201, { kind: 'hold' }, 2);
    const a = rejection(w.adapter.orders());
    const b = rejection(w.adapter.orders());
    await until(async () => (await w.fake.state()).held === 2, 'two held replies');
    await w.fake.restart();
    expect(await a).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: false });
    expect(await b).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: false });
    expect((await w.fake.state()).unlocked).toBe(false);
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected']));
    w.advance(1_000);
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected', 'listening']));
    expect((await w.fake.state()).unlocked).toBe(true);
    expect((await cmds(w.fake)).slice(-3)).toEqual([1, 2005, 2008]);
  });

  it('an OpenD that is not there is retried with back-off (1 s, 2 s, 4 s) on the scheduler until it answers', async () => {
    const w = await world();
    await w.fake.refuse(true);
    await w.fake.restart();
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected']));
    const retries = () => w.events.flatMap((e) => (e.type === 'retrying' ? [e.delayMs] : []));
    expect(retries()).toEqual([1_000]);
    w.advance(999);
    expect((await w.fake.state()).refused).toBe(0);
    w.advance(1);
    await eventually(() => expect(retries()).toEqual([1_000, 2_000]));
    w.advance(2_000);
    await eventually(() => expect(retries()).toEqual([1_000, 2_000, 4_000]));
    expect((await w.fake.state()).refused).toBe(2);
    await w.fake.refuse(false);
    w.advance(4_000);
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected', 'disconnected', 'disconnected', 'listening']));
    // consecutive failures are counted from the last listening: the next drop waits 1 s again
    await w.fake.restart();
    await eventually(() => expect(retries()).toEqual([1_000, 2_000, 4_000, 1_000]));
  });

  it('keep-alive: a KeepAlive every interval; one unanswered by its deadline means a dead link: dropped and reconnected', async () => {
    const w = await world({ keepAliveIntervalMs: 5_000 });
    w.advance(5_000);
    await until(async () => (await cmds(w.fake)).includes(1004), 'a KeepAlive');
    expect(w.connection.map((c) => c.type)).toEqual(['listening']);
    await w.fake.fault(1004, { kind: 'hold' });
    w.advance(5_000);
    await until(async () => (await w.fake.state()).held === 1, 'the held KeepAlive');
    w.advance(TIMEOUT_MS);
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected']));
    w.advance(1_000);
    await eventually(() => expect(w.connection.map((c) => c.type)).toEqual(['listening', 'disconnected', 'listening']));
  });

  it('garbage frames, a push of a cmd we do not speak, a push that does not decode: reported as malformed, no crash, requests still work', async () => {
    const w = await world();
    await w.fake.raw('00112233');
    await w.fake.raw(Buffer.from('not-a-frame-at-all-but-long-enough-for-a-header-of-44-bytes').toString('hex'));
    await w.fake.push(9999, '0801');
    await w.fake.push(2208, 'ffffffff'); // a known push whose body does not decode
    await eventually(() => expect(w.events.filter((e) => e.type === 'malformed')).toHaveLength(4));
    const reasons = w.events.flatMap((e) => (e.type === 'malformed' ? [e.reason] : []));
    expect(reasons[0]).toMatch(/4 bytes/);
    expect(reasons[1]).toMatch(/does not start with "ft-v1.0\\0"/);
    expect(reasons[2]).toMatch(/cmd 9999, which this client does not speak/);
    expect(reasons[3]).toMatch(/Trd_UpdateOrder that does not decode/);
    expect(await w.adapter.orders()).toEqual([]);
    expect(w.connection.map((c) => c.type)).toEqual(['listening']);
  });

  it("a reply whose body does not decode is VenueUnavailable(false) on a write, a header error too; the connection stays up", async () => {
    const w = await world();
    await w.fake.fault(2202, { kind: 'garbage' });
    expect(await rejection(w.adapter.place(order('ew.3')))).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: false, message: expect.stringMatching(/does not decode/) });
    await w.fake.fault(2201, { kind: 'header_error', error: 5, errmsg: 'busy' });
    expect(await rejection(w.adapter.orders())).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: false, message: expect.stringMatching(/header error 5 "busy"/) });
    expect(w.connection.map((c) => c.type)).toEqual(['listening']);
  });

  it('a request before connect() is not sent: VenueUnavailable(outcomeKnown=true)', async () => {
    const w = await world({ connect: false });
    expect(await rejection(w.adapter.orders())).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: true });
    expect(await rejection(w.adapter.place(order('ew.4')))).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: true });
    expect((await w.fake.state()).requests).toEqual([]);
  });
});
