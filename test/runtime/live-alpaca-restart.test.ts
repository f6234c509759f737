/**
 * A live run on the fake Alpaca stopped with orders of ours open at the broker, the broker acting
 * while we are away (a fill, a partial fill then a cancel, an order left open), and the run started
 * again on the same state: before its first new session it learns what happened, once, and only
 * that; no order is sent twice; the account ends equal to the sub-accounts + the external book.
 * Also an order whose submit reached Alpaca but whose answer never came back to us.
 */
import { describe, expect, it } from 'vitest';
import { FakeAlpacaProcess, type FakeState } from '../support/fake-alpaca/process.js';

import { cleanupsPerTest, drive, engineOrders, expectBooksMatch, liveConfig, ours, rig, stop, turn, world } from '../support/live-rig.js';

/** Wait, turn by turn (each asking the fake once, which paces it), until `cond`. */
async function waitFor(fake: FakeAlpacaProcess, cond: (s: FakeState) => boolean, what: string): Promise<FakeState> {
  for (let i = 0; i < 3000; i++) {
    const s = await fake.state();
    if (cond(s)) return s;
    await turn();
  }
  throw new Error(`never happened: ${what}`);
}

const cleanup = cleanupsPerTest();

describe('a live run restarted with orders open at Alpaca', () => {
  it('learns what the broker did while it was down, once, before trading again', async () => {
    const { out, history, fake } = await world(cleanup);
    const config = liveConfig(fake);
    // Market orders rest at the broker: the first session's orders stay open.
    await fake.mode('manual');
    const first = await rig(config, out, history, fake);
    await drive(first, fake, () => engineOrders(first).length >= 2 && engineOrders(first).every((o) => o.state === 'accepted'));
    const open = engineOrders(first).map((o) => o.cid);
    expect(open.length).toBeGreaterThanOrEqual(2);
    await stop(first);

    // While we are away: one order fills, one fills in part and is cancelled.
    const [full, part] = open;
    await fake.fill(full!);
    const partOrder = (await fake.state()).orders.find((o) => o.client_order_id === part)!;
    await fake.fill(part!, Math.max(1, Math.floor(Number(partOrder['qty']) / 2)));
    await fake.end(part!, 'canceled');
    await fake.mode('auto');

    const second = await rig(config, out, history, fake);
    cleanup.push(() => stop(second));
    await waitFor(fake, () => second.codes.includes('BROKER_RECONCILED') || second.codes.includes('BROKER_RECONCILE_FAILED'), 'the start-up reconciliation');
    expect(second.codes).toContain('BROKER_RECONCILED');
    // Before any new session: the fills made while down are in the ledger, once each.
    await second.run.ledger.idle();
    const atBroker = await fake.state();
    for (const cid of [full!, part!]) {
      const o = atBroker.orders.find((x) => x.client_order_id === cid)!;
      expect(second.events.filter((e) => e.type === 'fill' && e.payload['clientOrderId'] === cid).reduce((n, e) => n + Number((e.payload['fill'] as { quantity: number }).quantity), 0)).toBe(Number(o.filled_qty));
    }
    expect(second.events.some((e) => e.type === 'tick')).toBe(false);

    let finished = false;
    void second.run.finished.then(() => (finished = true));
    // The orders left open: the agents' later sessions go on; the day ends.
    await drive(second, fake, () => finished);
    const end = await fake.state();
    const posts = end.requests.filter((q) => q.method === 'POST' && q.path === '/v2/orders').map((q) => q.clientOrderId!);
    expect(new Set(posts).size).toBe(posts.length);
    // Every filled share at the broker is in the ledger: the account equals the books.
    await second.run.ledger.idle();
    for (const o of ours(end).filter((x) => Number(x.filled_qty) > 0 && x.status !== 'new')) {
      expect(await second.run.ledger.filledQuantity(o.client_order_id)).toBe(Number(o.filled_qty));
    }
    const openAtEnd = ours(end).filter((o) => o.status === 'new' || o.status === 'partially_filled');
    expect(openAtEnd).toEqual([]);
    await expectBooksMatch(second, end);
    expect(second.codes).not.toContain('EXTERNAL_ACTIVITY');
  }, 120_000);

  it('adopts an order whose submit reached Alpaca while its answer was lost, instead of sending it again', async () => {
    const { out, history, fake } = await world(cleanup);
    const config = liveConfig(fake);
    // The first submit is booked (and filled) at Alpaca; its answer never comes.
    await fake.fault('POST', '/v2/orders', { kind: 'hang', commit: true });
    const first = await rig(config, out, history, fake);
    await drive(first, fake, () => engineOrders(first).some((o) => o.state === 'submitting'));
    const [lost] = engineOrders(first).filter((o) => o.state === 'submitting').map((o) => o.cid);
    expect(lost).toBeDefined();
    await waitFor(fake, (s) => s.orders.some((o) => o.client_order_id === lost && o.status === 'filled'), 'the hung submit booked at the broker');
    await stop(first);

    const second = await rig(config, out, history, fake);
    cleanup.push(() => stop(second));
    let finished = false;
    void second.run.finished.then(() => (finished = true));
    await drive(second, fake, () => finished);
    const end = await fake.state();
    // Sent twice in all (the hung one, then the restart's, answered 422 "must be unique" and adopted); one order, one fill.
    expect(end.requests.filter((q) => q.method === 'POST' && q.clientOrderId === lost).length).toBeLessThanOrEqual(2);
    expect(end.orders.filter((o) => o.client_order_id === lost)).toHaveLength(1);
    const atBroker = end.orders.find((o) => o.client_order_id === lost)!;
    expect(await second.run.ledger.filledQuantity(lost!)).toBe(Number(atBroker.filled_qty));
    expect(ours(end).filter((o) => o.status === 'new')).toEqual([]);
    await expectBooksMatch(second, end);
  }, 120_000);
});
