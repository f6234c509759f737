/**
 * The real AlpacaBroker against the fake Alpaca in its own process: what the trade_updates
 * stream can do to it. Held updates (`fake.stream({ hold: true })`, then `release([...])` in any
 * order, repeats allowed) play late, reordered and duplicated frames; `dropStream` and `refuse`
 * play a lost connection while Alpaca goes on filling.
 * Each fill must come out of `updates$` exactly once, acceptance first and at most once, the end
 * last and never followed by an acceptance.
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { fillsOf, kinds, order, requests, worldsPerTest, until, type BrokerWorld } from '../support/fake-alpaca/harness.js';

const { start: world } = worldsPerTest();

/** Release the held updates in `sequence`, then wait until the broker has handled them all. */
async function release(w: BrokerWorld, sequence: readonly number[], expectedUpdates: number): Promise<void> {
  await w.fake.release(sequence);
  await eventually(() => expect(w.updates.length).toBeGreaterThanOrEqual(expectedUpdates));
  await w.broker.settled();
}

const total = (fills: readonly { quantity: number }[]) => fills.reduce((s, f) => s + f.quantity, 0);

describe('AlpacaBroker: the trade_updates stream', () => {
  it('a fill before its `new`: accepted comes first, once; the late `new` changes nothing', async () => {
    const w = await world();
    await w.fake.stream({ hold: true });
    await w.fake.mode('manual');
    await w.broker.submit(order('ew.20251107T1100.0', { quantity: 5 })); // the POST answer accepts it
    await w.fake.fill('ew.20251107T1100.0');
    // held: 0 new, 1 fill
    const cid = 'ew.20251107T1100.0';
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted']);
    await release(w, [1, 0], 2);
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill']);
  });

  it('a fill before its `new` with no answer to the submit yet (it hangs): the stream alone accepts, then fills', async () => {
    const w = await world();
    await w.fake.stream({ hold: true });
    await w.fake.fault('POST', '/v2/orders', { kind: 'hang', commit: true });
    const cid = 'ew.20251107T1100.1';
    void w.broker.submit(order(cid, { quantity: 5 })).catch(() => undefined);
    await until(async () => (await w.fake.state()).held === 2, 'the held new + fill');
    await release(w, [1, 0, 1], 2);
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill']);
    expect(fillsOf(w.updates, cid)).toMatchObject([{ quantity: 5 }]);
  });

  it('duplicate and out-of-order partial fills: each execution once, totals right, whatever the order', async () => {
    const w = await world();
    await w.fake.mode('manual');
    await w.fake.stream({ hold: true });
    const cid = 'mom.20251107T1100.0';
    await w.broker.submit(order(cid, { quantity: 10 }));
    await w.fake.fill(cid, 4, '270');
    await w.fake.fill(cid, 6, '271');
    // held: 0 new, 1 partial_fill (4), 2 fill (6); the last first, twice, the partial twice, the new last
    await release(w, [2, 1, 2, 1, 0], 3);
    const fills = fillsOf(w.updates, cid);
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill', 'broker.fill']);
    expect(total(fills)).toBe(10);
    expect(new Set(fills.map((f) => f.fillId)).size).toBe(2);
    expect(fills.map((f) => [f.quantity, f.price]).sort()).toEqual([
      [4, '270'],
      [6, '271'],
    ]);
    // the status answer has the same two fills, so the order machine takes none twice
    const status = await w.broker.status(cid);
    expect(status.status).toBe('filled');
    expect(status.fills.map((f) => f.fillId).sort()).toEqual(fills.map((f) => f.fillId).sort());
  });

  it('partial fills then a cancel: every fill before the cancellation, even when the `canceled` frame comes first; no acceptance after it', async () => {
    const w = await world();
    await w.fake.mode('manual');
    const cid = 'ew.20251107T1100.2';
    await w.broker.submit(order(cid, { quantity: 10, type: 'limit', limitPrice: '269' }));
    await eventually(() => expect(kinds(w.updates, cid)).toEqual(['broker.accepted']));
    await w.fake.stream({ hold: true });
    await w.fake.fill(cid, 3, '269');
    await w.fake.fill(cid, 2, '268.5');
    await w.broker.cancel(cid); // DELETE 204; the `canceled` update follows
    // held: 0 partial (3), 1 partial (2), 2 canceled: the cancellation first, then the partials, the first one twice
    await release(w, [2, 1, 0, 0], 4);
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill', 'broker.fill', 'broker.cancelled']);
    expect(total(fillsOf(w.updates, cid))).toBe(5);
    expect(requests(await w.fake.state(), 'DELETE', `/v2/orders/${(await w.broker.status(cid)).brokerOrderId}`)).toHaveLength(1);
    expect((await w.broker.status(cid)).status).toBe('cancelled');
  });

  it('a cancel that comes too late (the order filled) gives the fill, never a cancellation', async () => {
    const w = await world();
    await w.fake.mode('manual');
    await w.fake.stream({ hold: true });
    const cid = 'ew.20251107T1100.3';
    await w.broker.submit(order(cid, { quantity: 2 }));
    await w.fake.fill(cid);
    await w.broker.cancel(cid); // 422: not cancelable -> what it is now: filled
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill']);
    await release(w, [0, 1], 2);
    expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill']);
  });

  it('the stream dropped mid-order: it reconnects with back-off, asks REST about open orders, and the fill sent while it was away comes once', async () => {
    const w = await world();
    await w.fake.mode('manual');
    const cid = 'mom.20251107T1100.1';
    await w.broker.submit(order(cid, { quantity: 7 }));
    await eventually(() => expect(kinds(w.updates, cid)).toEqual(['broker.accepted']));
    await w.fake.stream({ refuse: true });
    await w.fake.dropStream();
    await eventually(() => expect(w.connection.filter((e) => e.type === 'retrying')).toHaveLength(1));
    // filled while nobody listens: Alpaca does not replay it
    await w.fake.fill(cid, 7, '270.5');
    w.advance(1_000); // the first retry is refused
    await eventually(() => expect(w.connection.filter((e) => e.type === 'retrying')).toHaveLength(2));
    expect(w.connection.filter((e) => e.type === 'retrying').map((e) => (e as { delayMs: number }).delayMs)).toEqual([1_000, 2_000]);
    await w.fake.stream({ refuse: false });
    w.advance(2_000);
    await eventually(() => expect(w.connection.filter((e) => e.type === 'listening')).toEqual([{ type: 'listening', connection: 1 }, { type: 'listening', connection: 3 }]));
    await eventually(() => expect(kinds(w.updates, cid)).toEqual(['broker.accepted', 'broker.fill']));
    const [fill] = fillsOf(w.updates, cid);
    expect(fill).toMatchObject({ quantity: 7, price: '270.5' });
    // the id is the execution's: the same the stream would have given
    expect(fill!.fillId).toMatch(/^e0ec0000-/);
    await w.broker.settled();
    expect(kinds(w.updates, cid)).toHaveLength(2);
  });

  it('a half-open stream (pings unanswered) is found dead by the heartbeat, dropped and reconnected; every order of ours is asked in one listing', async () => {
    const w = await world({ heartbeat: { pingIntervalMs: 5_000, pongTimeoutMs: 2_000 } });
    await w.fake.mode('manual');
    await w.broker.submit(order('ew.20251107T1100.7', { quantity: 2 }));
    await w.broker.submit(order('ew.20251107T1100.8', { quantity: 3 }));
    await w.fake.stream({ answer_pings: false, hold: true });
    await w.fake.fill('ew.20251107T1100.8'); // held: never sent on this connection
    w.advance(5_000); // ping
    await until(async () => (await w.fake.state()).stream.pings === 1, 'the ping');
    expect(w.connection.filter((e) => e.type === 'disconnected')).toEqual([]);
    w.advance(2_000); // no pong: dead
    await eventually(() => expect(w.connection.filter((e) => e.type === 'retrying')).toHaveLength(1));
    await w.fake.stream({ answer_pings: true, hold: false });
    const before = requests(await w.fake.state(), 'GET', '/v2/orders').length;
    w.advance(1_000);
    await eventually(() => expect(kinds(w.updates, 'ew.20251107T1100.8')).toEqual(['broker.accepted', 'broker.fill']));
    await w.broker.settled();
    const s = await w.fake.state();
    expect(requests(s, 'GET', '/v2/orders').length - before).toBe(1);
    // one listing of every order since the earliest of ours answers both, the open one and the one that ended: no lookup each
    expect(requests(s, 'GET', '/v2/orders').at(-1)!.query['status']).toBe('all');
    expect(requests(s, 'GET', '/v2/orders:by_client_order_id')).toEqual([]);
    expect(kinds(w.updates, 'ew.20251107T1100.7')).toEqual(['broker.accepted']);
  });

  it("an external order (a client id without our prefix) goes to external$, never to updates$", async () => {
    const w = await world();
    const placed = await w.fake.externalOrder({ symbol: 'NVDA', side: 'buy', qty: 3 });
    await eventually(() => expect(w.external.map((e) => e.event)).toEqual(['new', 'fill']));
    expect(w.external[1]).toMatchObject({ clientOrderId: placed['client_order_id'], orderId: placed['id'], symbol: 'NVDA', side: 'buy', qty: 3, price: '190.5' });
    // ours still flow, and the external one never appears there
    await w.broker.submit(order('ew.20251107T1100.4', { quantity: 1 }));
    await eventually(() => expect(kinds(w.updates, 'ew.20251107T1100.4')).toEqual(['broker.accepted', 'broker.fill']));
    expect(w.updates.every((u) => u.clientOrderId === 'ew.20251107T1100.4')).toBe(true);
    expect(await w.broker.positions('')).toEqual([
      { symbol: 'AAPL', quantity: 1, sellable: 1 },
      { symbol: 'NVDA', quantity: 3, sellable: 3 },
    ]);
  });

  it('an external position change (shares with no order) shows in positions() and nowhere in updates$ or external$', async () => {
    const w = await world();
    await w.broker.submit(order('ew.20251107T1100.5', { quantity: 2, symbol: 'MSFT' }));
    await eventually(() => expect(kinds(w.updates, 'ew.20251107T1100.5')).toEqual(['broker.accepted', 'broker.fill']));
    const before = await w.broker.balance('');
    await w.fake.positionChange('MSFT', 5);
    await w.fake.positionChange('NVDA', 4);
    expect(await w.broker.positions('')).toEqual([
      { symbol: 'MSFT', quantity: 7, sellable: 7 },
      { symbol: 'NVDA', quantity: 4, sellable: 4 },
    ]);
    expect(await w.broker.balance('')).toEqual(before);
    expect(w.updates).toHaveLength(2);
    expect(w.external).toEqual([]);
  });

  it('a stream that refuses the key halts (no reconnect), as a 401 does', async () => {
    const w = await world();
    await w.fake.credentials('PKROTATED', 'rotated-secret');
    await w.fake.dropStream();
    await eventually(() => expect(w.connection.filter((e) => e.type === 'retrying')).toHaveLength(1));
    w.advance(1_000);
    await eventually(() => expect(w.halts).toMatchObject([{ source: 'stream' }]));
    expect(w.connection.at(-1)).toMatchObject({ type: 'unauthorized' });
    expect(w.halts[0]!.message).not.toContain(w.fake.secret);
    w.advance(60_000);
    expect(w.connection.filter((e) => e.type === 'retrying')).toHaveLength(1);
    await expect(w.broker.submit(order('ew.20251107T1100.6'))).rejects.toThrow('trading stops');
  });
});
