/**
 * The order tracker (polled-broker.ts) through a real venue adapter (EastMoney's, the venue that
 * can carry nothing of ours: no client order id, no pushes) against the fake EastMoney in its own
 * process, on virtual wall time: every fill once, acceptance before fills, the end after them, a
 * lost answer found by matching and never sent twice, the not-found grace, refusals, a dead
 * session, orders not ours, a restart that knows its orders, fills that lag behind the totals.
 * What reached the site is read from the fake's request log.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerUpdate } from '../../src/actors/brokers/broker.js';
import { ROUTES } from '../../src/actors/brokers/eastmoney/client.js';
import { PolledBroker } from '../../src/actors/brokers/polled-broker.js';
import { VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import type { ExternalActivity } from '../../src/actors/brokers/account-broker.js';
import { sessionInstantOf } from '../../src/domain/ids.js';
import { adapterFor, failure, limitOrder, T0, TIMEOUT_MS, until } from '../support/fake-eastmoney/harness.js';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';

const POLL = 2_000;
const GRACE = 60_000;

let fake: FakeEastMoneyProcess;
let brokers: PolledBroker[] = [];
beforeAll(async () => {
  fake = await FakeEastMoneyProcess.start({ startMs: T0 });
});
afterAll(async () => {
  await fake.dispose();
});
beforeEach(async () => {
  await fake.reset({ startMs: T0 });
  await fake.mode({ fill: 'manual' });
  await fake.price('600519.SH', '1450.00', '1440.00');
});
afterEach(() => {
  for (const b of brokers.splice(0)) b.close();
});

/** Our ids are `<signature>.<session>.<n>`; the session 10:00 Shanghai of T0's day. */
const cid = (n: number, sig = 'ew') => `${sig}.20251107T1000.${n}`;

function tracker(over: { fillGraceMs?: number } = {}) {
  const { adapter, scheduler } = adapterFor(fake);
  const broker = new PolledBroker({
    adapter,
    scheduler,
    isOurs: (c) => c.startsWith('ew.') || c.startsWith('mom.'),
    sessionInstantOf: (c) => sessionInstantOf(c, 'cn'),
    pollMs: POLL,
    unknownOutcomeGraceMs: GRACE,
    ...over,
  });
  brokers.push(broker);
  const updates: BrokerUpdate[] = [];
  const external: ExternalActivity[] = [];
  broker.updates$.subscribe((u) => updates.push(u));
  broker.external$.subscribe((e) => external.push(e));
  /** Move the wall on by `ms` and let the polls it fires reach the fake and come back. */
  const advance = async (ms: number) => {
    scheduler.advanceTo(scheduler.now() + ms);
    for (let i = 0; i < 20; i++) {
      await broker.settled();
      await fake.state();
    }
  };
  const seen = () => updates.map((u) => (u.type === 'broker.fill' ? `fill ${u.fill.quantity}@${u.fill.price}` : u.type === 'broker.rejected' ? `rejected ${u.reason}` : u.type.replace('broker.', '')));
  return { broker, scheduler, updates, external, advance, seen };
}

const submits = async () => (await fake.requests(ROUTES.submit)).length;

describe('the order tracker on EastMoney (no client order id, no pushes)', () => {
  it('accepts with the entrust number, then each fill once however often the lists are read, and nothing after the last share', async () => {
    const t = tracker();
    await t.broker.start();
    await t.broker.submit(limitOrder(cid(1)));
    expect(t.updates[0]).toMatchObject({ type: 'broker.accepted', clientOrderId: cid(1) });
    const wtbh = (t.updates[0] as { brokerOrderId: string }).brokerOrderId;
    expect(wtbh).not.toBe('');
    await fake.fill(wtbh, 40, '1449.00');
    await t.advance(POLL);
    await t.advance(POLL);
    await t.broker.reconcileOrders();
    await fake.fill(wtbh, 60, '1450.00');
    await t.advance(POLL);
    await t.advance(POLL);
    expect(t.seen()).toEqual(['accepted', 'fill 40@1449.00', 'fill 60@1450.00']);
    expect(t.broker.fillsEmitted).toBe(2);
    const status = await t.broker.status(cid(1));
    expect(status).toMatchObject({ status: 'filled', brokerOrderId: wtbh });
    expect(status.fills.map((f) => f.quantity)).toEqual([40, 60]);
  });

  it('a partial fill then a cancel by the exchange: the fill first, the end once after it', async () => {
    const t = tracker();
    await t.broker.start();
    await t.broker.submit(limitOrder(cid(1)));
    const wtbh = (t.updates[0] as { brokerOrderId: string }).brokerOrderId;
    await fake.fill(wtbh, 30, '1450.00');
    await fake.exchangeCancel(wtbh);
    await t.advance(POLL);
    await t.advance(POLL);
    expect(t.seen()).toEqual(['accepted', 'fill 30@1450.00', 'cancelled']);
    expect((await t.broker.status(cid(1))).status).toBe('cancelled');
  });

  it('our cancel: asked once, the cancelled state learned from the list', async () => {
    const t = tracker();
    await t.broker.start();
    await t.broker.submit(limitOrder(cid(1)));
    await t.broker.cancel(cid(1));
    await t.advance(0);
    await t.advance(POLL);
    expect(t.seen()).toEqual(['accepted', 'cancelled']);
    expect(await fake.requests(ROUTES.revoke)).toHaveLength(1);
  });

  it('the counter refuses: rejected with its reason, nothing accepted', async () => {
    const t = tracker();
    await t.broker.start();
    await t.broker.submit(limitOrder(cid(1), { quantity: 150 }));
    expect(t.updates).toEqual([expect.objectContaining({ type: 'broker.rejected', reason: 'LOT_SIZE' })]);
    expect((t.updates[0] as { message: string }).message).toMatch(/^LOT_SIZE: EastMoney refused the order: /);
  });

  it('a submit whose answer is lost after the entrust was made: matched in the list, accepted once, never sent again', async () => {
    const t = tracker();
    await t.broker.start();
    await fake.fault(ROUTES.submit, { kind: 'hold', commit: true });
    const placing = failure(t.broker.submit(limitOrder(cid(1))));
    await until(async () => (await fake.requests(ROUTES.submit)).length === 1, 'the held submit');
    t.scheduler.advanceTo(t.scheduler.now() + TIMEOUT_MS);
    // The tracker looked in the list at once and found it: the submit resolves, no error reaches the order.
    expect(String(await placing.catch((e: unknown) => e))).toContain('expected a failure, got an answer');
    expect(t.seen()).toEqual(['accepted']);
    const status = await t.broker.status(cid(1));
    expect(status.status).toBe('accepted');
    expect(await submits()).toBe(1);
  });

  it('a submit lost before the counter took it: looked for through the grace; after it, rejected and never sent again (EastMoney cannot say it has it under our id)', async () => {
    const t = tracker();
    await t.broker.start();
    await fake.fault(ROUTES.submit, { kind: 'reset', commit: false });
    const error = await failure(t.broker.submit(limitOrder(cid(1))));
    expect(error).toBeInstanceOf(VenueUnavailable);
    // The status call looks again at every poll through the grace, and answers once it is over.
    let answered = false;
    const asking = t.broker.status(cid(1)).finally(() => (answered = true));
    await t.advance(POLL);
    expect(answered).toBe(false);
    await t.advance(GRACE);
    const late = await asking;
    expect(late).toMatchObject({ clientOrderId: cid(1), status: 'rejected', reason: 'BROKER_REJECTED', fills: [] });
    expect(late.message).toContain('it is not sent again');
    expect(await submits()).toBe(1);
    expect((await fake.state()).orders).toHaveLength(0);
  });

  it('two lost answers of the same shape take the entrusts in the order they were made', async () => {
    const t = tracker();
    await t.broker.start();
    await fake.fault(ROUTES.submit, { kind: 'reset', commit: true }, 2);
    await t.broker.submit(limitOrder(cid(1))).catch(() => undefined);
    await t.broker.submit(limitOrder(cid(2))).catch(() => undefined);
    const orders = (await fake.state()).orders;
    expect(orders).toHaveLength(2);
    const a = await t.broker.status(cid(1));
    const b = await t.broker.status(cid(2));
    expect([a.brokerOrderId, b.brokerOrderId].sort()).toEqual(orders.map((o) => o.wtbh).sort());
    expect(a.brokerOrderId).not.toBe(b.brokerOrderId);
    expect(await submits()).toBe(2);
  });

  it('a lost answer with an order of the same shape placed at the terminal too: ambiguous, matched to neither; rejected after the grace, never sent again', async () => {
    const t = tracker();
    await t.broker.start();
    const hand = await fake.externalOrder({ symbol: '600519.SH', side: 'buy', qty: 100, price: '1500.00' });
    await fake.fault(ROUTES.submit, { kind: 'reset', commit: true });
    await t.broker.submit(limitOrder(cid(1))).catch(() => undefined);
    expect((await fake.state()).orders).toHaveLength(2);
    let answered = false;
    const asking = t.broker.status(cid(1)).finally(() => (answered = true));
    await t.advance(POLL);
    expect(answered).toBe(false);
    await t.advance(GRACE);
    const late = await asking;
    expect(late).toMatchObject({ status: 'rejected', reason: 'BROKER_REJECTED' });
    expect(late.brokerOrderId).toBeUndefined();
    expect(t.seen()).toEqual([]);
    expect(await submits()).toBe(1);
    // Neither entrust is an agent's: both are the account's own.
    const listed = await t.broker.recentOrders(0);
    expect(listed.map((o) => o.clientOrderId)).toEqual([undefined, undefined]);
    expect(listed.map((o) => o.brokerOrderId)).toContain(hand['Wtbh']);
  });

  it('a dead session halts once: every later submit throws without reaching the site', async () => {
    const t = tracker();
    const halts: string[] = [];
    t.broker.halts$.subscribe((h) => halts.push(h.message));
    await t.broker.start();
    await fake.expire('redirect');
    await failure(t.broker.submit(limitOrder(cid(1))));
    await failure(t.broker.submit(limitOrder(cid(2))));
    expect(halts).toHaveLength(1);
    expect(t.broker.halted).toBeDefined();
    expect(await submits()).toBe(1);
  });

  it('orders not ours: the ones there before the start are taken as they are; a new one and its fill are told on external$', async () => {
    const before = await fake.externalOrder({ symbol: '000001.SZ', side: 'buy', qty: 200, price: '11.00' });
    const t = tracker();
    await t.broker.start();
    await t.broker.submit(limitOrder(cid(1)));
    const later = await fake.externalOrder({ symbol: '600519.SH', side: 'sell', qty: 100, price: '1460.00' });
    await t.advance(POLL);
    await fake.fill(later['Wtbh']!, 100, '1460.00');
    await fake.fill(before['Wtbh']!, 200, '11.00');
    await t.advance(POLL);
    expect(t.external.map((e) => `${e.event} ${e.orderId} ${e.qty}`).sort()).toEqual([`fill ${before['Wtbh']} 200`, `fill ${later['Wtbh']} 100`, `new ${later['Wtbh']} 100`]);
    expect(t.seen()).toEqual(['accepted']);
  });

  it('a restarted process that knows its order and its first fill gets only what happened since', async () => {
    const first = tracker();
    await first.broker.start();
    await first.broker.submit(limitOrder(cid(1)));
    const wtbh = (first.updates[0] as { brokerOrderId: string }).brokerOrderId;
    await fake.fill(wtbh, 40, '1449.00');
    await first.advance(POLL);
    const known = (first.updates[1] as Extract<BrokerUpdate, { type: 'broker.fill' }>).fill;
    first.broker.close();
    await fake.fill(wtbh, 60, '1451.00');

    const again = tracker();
    again.broker.resumeOrder(cid(1), { brokerOrderId: wtbh, quantity: 100, fills: [known] });
    await again.broker.start();
    expect(again.seen()).toEqual(['fill 60@1451.00']);
  });

  it('a restart whose order had no answer yet finds it by matching, and does not call it not_found during the grace', async () => {
    await fake.fault(ROUTES.submit, { kind: 'reset', commit: true });
    const first = tracker();
    await first.broker.start();
    await first.broker.submit(limitOrder(cid(1))).catch(() => undefined);
    first.broker.close();

    const again = tracker();
    again.broker.resumeOrder(cid(1), { quantity: 100, fills: [], request: { symbol: '600519.SH', side: 'buy', limitPrice: '1500.00' } });
    await again.broker.start();
    expect((await again.broker.status(cid(1))).status).toBe('accepted');
    expect(again.seen()).toEqual(['accepted']);
    expect(await submits()).toBe(1);
  });

  it('fills the list does not show yet: the end waits; past the grace the shares come from the totals, once, and the late deal is not counted again', async () => {
    const t = tracker({ fillGraceMs: 10_000 });
    await t.broker.start();
    await t.broker.submit(limitOrder(cid(1)));
    const wtbh = (t.updates[0] as { brokerOrderId: string }).brokerOrderId;
    // The deals list answers empty for a while although the order shows its fill.
    await fake.fault(ROUTES.deals, { kind: 'body', body: JSON.stringify({ Status: 0, Message: null, Data: [] }), contentType: 'application/json' }, 6);
    await fake.fill(wtbh, 100, '1450.00');
    await t.advance(POLL);
    expect(t.seen()).toEqual(['accepted']);
    await t.advance(10_000);
    await t.advance(POLL);
    expect(t.seen()).toEqual(['accepted', 'fill 100@1450']);
    await fake.clearFaults();
    await t.broker.reconcileOrders();
    await t.advance(POLL);
    expect(t.seen()).toEqual(['accepted', 'fill 100@1450']);
  });
});
