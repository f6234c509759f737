/**
 * The real AlpacaBroker against the fake Alpaca in its own process, over 127.0.0.1, on virtual
 * time (timeouts and back-off move only when the test says so): the happy path and each answer
 * Alpaca can give a submit (403, 422, a reused client order id, 429 bursts, 401), and the
 * unknown outcomes (an answer that never comes, a connection reset).
 * Stream faults (a drop mid-order, updates out of order or twice, a fill before its `new`,
 * partial fills then a cancel, external activity): alpaca-broker-stream.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AlpacaOperationalError } from '../../src/actors/brokers/alpaca/errors.js';
import { eventually } from '../support/eventually.js';
import { fillsOf, kinds, order, requests, worldsPerTest, TIMEOUT_MS, until } from '../support/fake-alpaca/harness.js';

const { start: world, track } = worldsPerTest();

describe('AlpacaBroker: submits', () => {
  it('a market buy is accepted and filled once, with Alpaca ids: brokerOrderId is the order id, fillId the execution id', async () => {
    const w = await world();
    await w.broker.submit(order('ew.20251107T1005.0'));
    await eventually(() => expect(kinds(w.updates, 'ew.20251107T1005.0')).toEqual(['broker.accepted', 'broker.fill']));
    const s = await w.fake.state();
    const placed = s.orders.find((o) => o.client_order_id === 'ew.20251107T1005.0')!;
    expect(w.updates[0]).toMatchObject({ type: 'broker.accepted', brokerOrderId: placed.id });
    const [fill] = fillsOf(w.updates, 'ew.20251107T1005.0');
    expect(fill).toMatchObject({ quantity: 10, price: '270.25', fee: '0' });
    expect(fill!.fillId).toMatch(/^e0ec0000-/);
    expect(await w.broker.positions('')).toEqual([{ symbol: 'AAPL', quantity: 10, sellable: 10 }]);
    expect(await w.broker.balance('')).toEqual({ cash: '97297.5' });
    // status answers with the same fill (same id): the order machine takes it once
    expect(await w.broker.status('ew.20251107T1005.0')).toEqual({ clientOrderId: 'ew.20251107T1005.0', status: 'filled', brokerOrderId: placed.id, fills: [fill] });
    expect(await w.broker.status('ew.20251107T1005.9')).toEqual({ clientOrderId: 'ew.20251107T1005.9', status: 'not_found', fills: [] });
    expect(kinds(w.updates, 'ew.20251107T1005.0')).toHaveLength(2);
  });

  it('403 insufficient buying power and 403 insufficient qty reject the order with a reason code and Alpaca\'s message; nothing is accepted', async () => {
    const w = await world();
    await w.broker.submit(order('ew.20251107T1005.1', { quantity: 1_000 }));
    await w.broker.submit(order('ew.20251107T1005.2', { side: 'sell', quantity: 5 }));
    expect(w.updates).toEqual([
      { type: 'broker.rejected', clientOrderId: 'ew.20251107T1005.1', reason: 'INSUFFICIENT_CASH', message: 'INSUFFICIENT_CASH: Alpaca refused the order: 403 40310000 insufficient buying power', tsEvent: expect.any(Number) },
      {
        type: 'broker.rejected',
        clientOrderId: 'ew.20251107T1005.2',
        reason: 'INSUFFICIENT_POSITION',
        message: 'INSUFFICIENT_POSITION: Alpaca refused the order: 403 40310000 insufficient qty available for order (requested: 5, available: 0)',
        tsEvent: expect.any(Number),
      },
    ]);
    expect((await w.broker.status('ew.20251107T1005.1')).status).toBe('not_found');
  });

  it('a 422 validation error rejects the order (BROKER_REJECTED, the message kept) and is never retried', async () => {
    const w = await world();
    await w.fake.fault('POST', '/v2/orders', { kind: 'status', status: 422, code: 40010001, message: 'qty must be > 0' });
    await w.broker.submit(order('ew.20251107T1005.3'));
    expect(kinds(w.updates, 'ew.20251107T1005.3')).toEqual(['broker.rejected']);
    expect(w.updates[0]).toMatchObject({ reason: 'BROKER_REJECTED', message: 'BROKER_REJECTED: Alpaca refused the order: 422 40010001 qty must be > 0' });
    expect(requests(await w.fake.state(), 'POST', '/v2/orders')).toHaveLength(1);
    expect(w.retries).toEqual([]);
  });

  it('a reused client order id (422 40010001 "must be unique") adopts the existing order: a restarted broker gets its acceptance and fill from REST', async () => {
    const first = await world();
    await first.broker.submit(order('mom.20251107T1005.0', { quantity: 4 }));
    await eventually(() => expect(kinds(first.updates, 'mom.20251107T1005.0')).toEqual(['broker.accepted', 'broker.fill']));
    first.broker.close();
    const restarted = await first.another();
    track(restarted);
    await restarted.broker.submit(order('mom.20251107T1005.0', { quantity: 4 }));
    expect(kinds(restarted.updates, 'mom.20251107T1005.0')).toEqual(['broker.accepted', 'broker.fill']);
    // the same execution, the same fill id, as the first broker saw on the stream
    expect(fillsOf(restarted.updates, 'mom.20251107T1005.0')).toEqual(fillsOf(first.updates, 'mom.20251107T1005.0').map((f) => ({ ...f, atMs: expect.any(Number) })));
    const s = await first.fake.state();
    expect(requests(s, 'POST', '/v2/orders').map((r) => r.status)).toEqual([200, 422]);
    expect(s.orders.filter((o) => o.client_order_id === 'mom.20251107T1005.0')).toHaveLength(1);
    expect(s.positions).toEqual({ AAPL: 4 });
  });

  it('a 429 burst is waited out: each retry after max(Retry-After, back-off), the order placed once', async () => {
    const w = await world();
    await w.fake.fault('POST', '/v2/orders', { kind: 'rate_limit', retryAfterSeconds: 3 }, 3);
    const submitted = w.broker.submit(order('ew.20251107T1005.4'));
    for (const [i, delay] of [3_000, 3_000, 4_000].entries()) {
      await eventually(() => expect(w.retries).toHaveLength(i + 1));
      expect(w.retries[i]).toMatchObject({ method: 'POST', path: '/v2/orders', attempt: i + 1, delayMs: delay });
      expect(w.retries[i]!.reason).toContain('429 42910000 rate limit exceeded');
      w.advance(delay);
    }
    await submitted;
    await eventually(() => expect(kinds(w.updates, 'ew.20251107T1005.4')).toEqual(['broker.accepted', 'broker.fill']));
    const s = await w.fake.state();
    expect(requests(s, 'POST', '/v2/orders').map((r) => r.status)).toEqual([429, 429, 429, 200]);
    // a 429 is known not carried out: nobody asked by client order id
    expect(requests(s, 'GET', '/v2/orders:by_client_order_id')).toEqual([]);
  });

  it('a 5xx on a status query is retried with back-off; its answer comes once Alpaca recovers', async () => {
    const w = await world();
    await w.broker.submit(order('ew.20251107T1005.5'));
    await w.fake.fault('GET', '/v2/orders:by_client_order_id', { kind: 'status', status: 503, code: 50300000, message: 'service unavailable' }, 2);
    const asked = w.broker.status('ew.20251107T1005.5');
    await eventually(() => expect(w.retries).toHaveLength(1));
    w.advance(1_000);
    await eventually(() => expect(w.retries).toHaveLength(2));
    expect(w.retries.map((r) => r.delayMs)).toEqual([1_000, 2_000]);
    w.advance(2_000);
    expect((await asked).status).toBe('filled');
  });

  it('a submit that commits at Alpaca but whose answer never comes is looked up by client order id after the timeout, never sent twice', async () => {
    const w = await world();
    // hold the stream too, so that only REST can tell what happened
    await w.fake.stream({ hold: true });
    await w.fake.fault('POST', '/v2/orders', { kind: 'hang', commit: true });
    const submitted = w.broker.submit(order('ew.20251107T1005.6', { quantity: 3 }));
    await until(async () => requests(await w.fake.state(), 'POST', '/v2/orders').length === 1, 'the submit');
    expect(w.updates).toEqual([]);
    w.advance(TIMEOUT_MS);
    await submitted;
    expect(kinds(w.updates, 'ew.20251107T1005.6')).toEqual(['broker.accepted', 'broker.fill']);
    expect(fillsOf(w.updates, 'ew.20251107T1005.6')).toMatchObject([{ quantity: 3, price: '270.25' }]);
    // the held stream updates arriving late change nothing
    await w.fake.release();
    await w.broker.settled();
    await until(async () => (await w.fake.state()).held === 0, 'the release');
    await w.broker.submit(order('ew.20251107T1005.7', { quantity: 1 })); // one more round trip: the late frames are in
    await w.broker.settled();
    expect(kinds(w.updates, 'ew.20251107T1005.6')).toEqual(['broker.accepted', 'broker.fill']);
    const s = await w.fake.state();
    expect(requests(s, 'POST', '/v2/orders').filter((r) => r.clientOrderId === 'ew.20251107T1005.6')).toHaveLength(1);
    expect(requests(s, 'GET', '/v2/orders:by_client_order_id')).toHaveLength(1);
  });

  it('a submit whose connection is reset before Alpaca took it is looked up (not found), then sent again with the same client order id', async () => {
    const w = await world();
    await w.fake.fault('POST', '/v2/orders', { kind: 'reset', commit: false });
    const submitted = w.broker.submit(order('ew.20251107T1005.8'));
    await eventually(() => expect(w.retries).toHaveLength(1));
    expect(w.retries[0]!.reason).toContain('the outcome is unknown');
    w.advance(1_000);
    await submitted;
    await eventually(() => expect(kinds(w.updates, 'ew.20251107T1005.8')).toEqual(['broker.accepted', 'broker.fill']));
    const s = await w.fake.state();
    expect(requests(s, 'POST', '/v2/orders').map((r) => [r.clientOrderId, r.status])).toEqual([
      ['ew.20251107T1005.8', 0],
      ['ew.20251107T1005.8', 200],
    ]);
    expect(requests(s, 'GET', '/v2/orders:by_client_order_id').map((r) => r.status)).toEqual([404]);
    expect(s.orders).toHaveLength(1);
  });

  it('a reset after Alpaca took the order adopts it: one order, one fill', async () => {
    const w = await world();
    await w.fake.stream({ hold: true });
    await w.fake.fault('POST', '/v2/orders', { kind: 'reset', commit: true });
    await w.broker.submit(order('ew.20251107T1006.0', { quantity: 2 }));
    expect(kinds(w.updates, 'ew.20251107T1006.0')).toEqual(['broker.accepted', 'broker.fill']);
    const s = await w.fake.state();
    expect(requests(s, 'POST', '/v2/orders')).toHaveLength(1);
    expect(s.positions).toEqual({ AAPL: 2 });
  });

  it('401 halts: halts$ says so once, the submit throws, later submits throw without reaching Alpaca, and no secret is in the error', async () => {
    const w = await world();
    await w.fake.credentials('PKROTATED', 'rotated-secret');
    const err = await w.broker.submit(order('ew.20251107T1007.0')).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AlpacaOperationalError);
    expect((err as Error).message).toBe('Alpaca POST /v2/orders: 401 40110000 request is not authorized (the API key is not accepted: trading stops)');
    expect((err as Error).message).not.toContain(w.fake.secret);
    expect((err as Error).message).not.toContain(w.fake.key);
    expect(w.halts).toMatchObject([{ source: 'rest' }]);
    await expect(w.broker.submit(order('ew.20251107T1007.1'))).rejects.toBe(err);
    expect(requests(await w.fake.state(), 'POST', '/v2/orders')).toHaveLength(1);
    expect(w.updates).toEqual([]);
    expect(w.halts).toHaveLength(1);
  });
});
