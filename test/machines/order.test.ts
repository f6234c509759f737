/**
 * Focused tests of the order machine: each rule of docs/machines.md "Order machine"
 * on a real order actor in a tiny system of deterministic test actors
 * (test/support/test-actors/order-harness.ts).
 */
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ORDER_TRANSITIONS, isTerminal } from '../../src/domain/order-status.js';
import type { Fill } from '../../src/domain/orders.js';
import { MissingSystemActorError, orderMachine } from '../../src/machines/order.machine.js';
import { MAX_RESUBMITS, RESUBMIT_BACKOFF, resubmitDelayMs } from '../../src/machines/order/context.js';
import { queuedOrder } from '../../src/domain/queued-orders.js';
import {
  edgeKey,
  limitOrder,
  machineEdges,
  marketOrder,
  orderInput,
  startOrderHarness,
  T0,
  type OrderHarness,
} from '../support/test-actors/order-harness.js';

const fill = (fillId: string, quantity: number, price: string, fee = '0'): Fill => ({ fillId, quantity, price, fee, atMs: T0 });

/** A harness whose order has been placed (market open) and acknowledged by the broker. */
function accepted(order = marketOrder, overrides = {}): OrderHarness {
  const h = startOrderHarness(orderInput(order, overrides));
  h.send({ type: 'order.place', tsEvent: h.now() });
  h.fromBroker({ type: 'broker.accepted', clientOrderId: order.clientOrderId, brokerOrderId: 'B-1', tsEvent: h.now() });
  expect(h.snapshot().value).toBe('accepted');
  return h;
}

const brokerFill = (h: OrderHarness, f: Fill) =>
  h.fromBroker({ type: 'broker.fill', clientOrderId: h.input.order.clientOrderId, fill: f, tsEvent: h.now() });

describe('order machine: fills', () => {
  it('ignores a duplicate fill: never counted twice, never sent to the ledger twice', () => {
    const h = accepted();
    brokerFill(h, fill('F1', 30, '10.01'));
    h.takeEffects();
    brokerFill(h, fill('F1', 30, '10.01'));
    expect(h.snapshot().value).toBe('partially_filled');
    expect(h.snapshot().context.filledQuantity).toBe(30);
    expect(h.snapshot().context.fills).toHaveLength(1);
    expect(h.takeEffects()).toEqual([]);
    expect(h.received('ledger', 'ledger.applyFill').map((m) => m.fill.fillId)).toEqual(['F1']);
  });

  it('computes the exact average price over partial fills ("10.01" x 30 + "10.02" x 70 = "10.017")', () => {
    const h = accepted();
    brokerFill(h, fill('F1', 30, '10.01', '0.30'));
    brokerFill(h, fill('F2', 70, '10.02', '0.71'));
    const s = h.snapshot();
    expect(s.value).toBe('filled');
    expect(s.context).toMatchObject({ filledQuantity: 100, notional: '1001.7', averagePrice: '10.017', fees: '1.01' });
    const [result] = h.received(h.input.replyTo, 'order.result');
    expect(result?.result).toEqual({
      clientOrderId: marketOrder.clientOrderId,
      intent: { side: 'buy', symbol: '600519.SH', quantity: 100, type: 'market' },
      status: 'filled',
      filledQuantity: 100,
      averagePrice: '10.017',
      fees: '1.01',
    });
    expect(h.received('engine', 'order.finished')).toEqual([
      { type: 'order.finished', clientOrderId: marketOrder.clientOrderId, result: result?.result, tsEvent: result?.tsEvent },
    ]);
    expect(h.received('ledger', 'ledger.applyFill').map((m) => m.fill.fillId)).toEqual(['F1', 'F2']);
  });

  it('records an over-fill as reported, goes to filled and raises a critical alert', () => {
    const h = accepted();
    brokerFill(h, fill('F1', 60, '10'));
    brokerFill(h, fill('F2', 60, '10'));
    const s = h.snapshot();
    expect(s.value).toBe('filled');
    expect(s.context).toMatchObject({ filledQuantity: 120, overfilledBy: 20 });
    expect(h.received('ledger', 'ledger.applyFill').map((m) => m.fill.quantity)).toEqual([60, 60]);
    const [alert] = h.received('monitor', 'monitor.alert');
    expect(alert).toMatchObject({ level: 'critical', code: 'ORDER_OVERFILLED', clientOrderId: marketOrder.clientOrderId });
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result.filledQuantity).toBe(120);
  });

  it('ignores a broker event about another client order id', () => {
    const h = accepted();
    h.takeEffects();
    h.fromBroker({ type: 'broker.fill', clientOrderId: 'someone-else.1', fill: fill('X1', 100, '10'), tsEvent: h.now() });
    h.fromBroker({ type: 'broker.cancelled', clientOrderId: 'someone-else.1', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('accepted');
    expect(h.takeEffects()).toEqual([]);
  });

  it('merges the fills of a status answer by fillId and sends only the new ones to the ledger', () => {
    const h = accepted();
    brokerFill(h, fill('F1', 30, '10.01'));
    h.send({ type: 'resume', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('reconciling');
    h.fromBroker({
      type: 'broker.status',
      clientOrderId: marketOrder.clientOrderId,
      status: 'partially_filled',
      fills: [fill('F1', 30, '10.01'), fill('F2', 20, '10.02')],
      tsEvent: h.now(),
    });
    expect(h.snapshot().value).toBe('partially_filled');
    expect(h.snapshot().context.filledQuantity).toBe(50);
    expect(h.received('ledger', 'ledger.applyFill').map((m) => m.fill.fillId)).toEqual(['F1', 'F2']);
  });
});

describe('order machine: never resubmits blindly', () => {
  it('on resume while submitting, asks the broker (queryStatus) and sends no second submit', () => {
    const h = startOrderHarness(orderInput(marketOrder));
    h.send({ type: 'order.place', tsEvent: h.now() });
    h.takeEffects();
    h.send({ type: 'resume', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('reconciling');
    expect(h.snapshot().context.cameFrom).toBe('submitting');
    expect(h.takeEffects().map((d) => `${d.to} <- ${d.event.type}`)).toEqual(['broker <- broker.queryStatus', 'clock <- clock.schedule']);
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
  });

  const notFound = (h: OrderHarness) =>
    h.fromBroker({ type: 'broker.status', clientOrderId: h.input.order.clientOrderId, status: 'not_found', fills: [], tsEvent: h.now() });

  it('resubmits with the SAME client order id when a submit timed out and the broker never saw it, after a back-off', () => {
    const h = startOrderHarness(orderInput(marketOrder));
    h.send({ type: 'order.place', tsEvent: h.now() });
    h.fromClock(); // the submit timeout
    expect(h.snapshot().value).toBe('reconciling');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
    const answered = notFound(h);
    // Not at once: the back-off deadline first, through the clock actor.
    expect(h.snapshot().value).toBe('backing_off');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
    expect(h.takeEffects().map((d) => `${d.to} <- ${d.event.type}`).at(-1)).toBe('clock <- clock.schedule');
    expect(h.received('clock', 'clock.schedule').at(-1)).toMatchObject({ key: expect.stringMatching(/^backoff#/), atMs: answered.tsEvent + RESUBMIT_BACKOFF.baseMs });
    h.fromClock('backoff#0'); // a stale key changes nothing
    expect(h.snapshot().value).toBe('backing_off');
    h.fromClock();
    expect(h.snapshot().value).toBe('submitting');
    const submits = h.received('broker', 'broker.submit');
    expect(submits).toHaveLength(2);
    expect(submits[1]).toEqual(submits[0]);
    expect(submits[1]?.order.clientOrderId).toBe(marketOrder.clientOrderId);
  });

  it('doubles the back-off with each resubmission, capped, and gives up as RESUBMITS_EXHAUSTED after MAX_RESUBMITS (no endless loop)', () => {
    const h = startOrderHarness(orderInput(marketOrder, { resubmitBackoffMs: 1_000, resubmitBackoffMaxMs: 3_000 }));
    h.send({ type: 'order.place', tsEvent: h.now() });
    const waits: number[] = [];
    for (let i = 0; i < MAX_RESUBMITS; i++) {
      h.fromClock(); // the submit timed out again
      const answered = notFound(h);
      expect(h.snapshot().value).toBe('backing_off');
      waits.push(h.snapshot().context.deadline!.atMs - answered.tsEvent);
      h.fromClock();
      expect(h.snapshot().value).toBe('submitting');
    }
    expect(waits).toEqual([1_000, 2_000, 3_000]);
    h.fromClock();
    notFound(h);
    expect(h.snapshot().value).toBe('rejected');
    expect(h.received('broker', 'broker.submit')).toHaveLength(MAX_RESUBMITS + 1);
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({
      status: 'rejected',
      reason: 'RESUBMITS_EXHAUSTED',
      message: `the broker did not take the order after ${MAX_RESUBMITS + 1} submissions with back-off (it answers not_found); given up`,
    });
  });

  it('the default back-off is 2 s, 4 s, 8 s, never more than a minute', () => {
    expect([1, 2, 3, 4, 10].map((n) => resubmitDelayMs({}, n))).toEqual([2_000, 4_000, 8_000, 16_000, 60_000]);
  });

  it('while backing off: a cancel ends it (the broker has nothing), a restart keeps the same deadline, a late acknowledgement or fill means the first submit landed', () => {
    const backingOff = () => {
      const h = startOrderHarness(orderInput(marketOrder));
      h.send({ type: 'order.place', tsEvent: h.now() });
      h.fromClock();
      notFound(h);
      expect(h.snapshot().value).toBe('backing_off');
      return h;
    };
    const cancelled = backingOff();
    cancelled.send({ type: 'order.cancel', reason: 'CANCELLED_BY_REQUEST', tsEvent: cancelled.now() });
    expect(cancelled.snapshot().value).toBe('cancelled');
    expect(cancelled.received('broker', 'broker.cancel')).toEqual([]);

    const restarted = backingOff();
    const deadline = restarted.snapshot().context.deadline;
    const r = startOrderHarness(restarted.input, { snapshot: JSON.parse(restarted.persist()) as unknown });
    r.send({ type: 'resume', tsEvent: r.now() });
    expect(r.snapshot().value).toBe('backing_off');
    expect(r.received('clock', 'clock.schedule')).toEqual([{ type: 'clock.schedule', target: r.selfId, ...deadline }]);
    expect(r.received('broker', 'broker.submit')).toEqual([]);

    const late = backingOff();
    late.fromBroker({ type: 'broker.accepted', clientOrderId: marketOrder.clientOrderId, brokerOrderId: 'B-7', tsEvent: late.now() });
    expect(late.snapshot().value).toBe('accepted');
    expect(late.snapshot().context.brokerOrderId).toBe('B-7');
    expect(late.received('broker', 'broker.submit')).toHaveLength(1);
  });

  it('reconciles a DUPLICATE_CLIENT_ORDER_ID rejection instead of rejecting', () => {
    const h = startOrderHarness(orderInput(marketOrder));
    h.send({ type: 'order.place', tsEvent: h.now() });
    h.fromBroker({
      type: 'broker.rejected',
      clientOrderId: marketOrder.clientOrderId,
      reason: 'DUPLICATE_CLIENT_ORDER_ID',
      message: 'already have it',
      tsEvent: h.now(),
    });
    expect(h.snapshot().value).toBe('reconciling');
    expect(h.received('broker', 'broker.queryStatus')).toHaveLength(1);
    expect(h.received(h.input.replyTo, 'order.result')).toEqual([]);
    h.fromBroker({ type: 'broker.status', clientOrderId: marketOrder.clientOrderId, status: 'accepted', brokerOrderId: 'B-9', fills: [], tsEvent: h.now() });
    expect(h.snapshot().value).toBe('accepted');
    expect(h.snapshot().context.brokerOrderId).toBe('B-9');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
  });

  it('rejects on any other broker rejection and tells the session the reason', () => {
    const h = startOrderHarness(orderInput(marketOrder));
    h.send({ type: 'order.place', tsEvent: h.now() });
    h.fromBroker({ type: 'broker.rejected', clientOrderId: marketOrder.clientOrderId, reason: 'LOT_SIZE', message: 'not a whole lot', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('rejected');
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({ status: 'rejected', reason: 'LOT_SIZE', message: 'not a whole lot' });
  });

  it('does not believe not_found for an order with fills: cancelled and alerted, never resubmitted', () => {
    const h = startOrderHarness(orderInput(marketOrder));
    h.send({ type: 'order.place', tsEvent: h.now() });
    h.send({ type: 'resume', tsEvent: h.now() });
    brokerFill(h, fill('F1', 10, '10'));
    expect(h.snapshot().value).toBe('reconciling');
    h.fromBroker({ type: 'broker.status', clientOrderId: marketOrder.clientOrderId, status: 'not_found', fills: [], tsEvent: h.now() });
    expect(h.snapshot().value).toBe('cancelled');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
    expect(h.received('monitor', 'monitor.alert')[0]).toMatchObject({ code: 'ORDER_NOT_FOUND', level: 'warning' });
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({ status: 'cancelled', filledQuantity: 10 });
  });

  it('treats not_found for an order that was working as cancelled (alerted), not as a reason to submit', () => {
    const h = accepted();
    h.fromBroker({ type: 'broker.disconnected', tsEvent: h.now() });
    expect(h.snapshot().context.cameFrom).toBe('accepted');
    h.fromBroker({ type: 'broker.status', clientOrderId: marketOrder.clientOrderId, status: 'not_found', fills: [], tsEvent: h.now() });
    expect(h.snapshot().value).toBe('cancelled');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
    expect(h.received('monitor', 'monitor.alert')).toHaveLength(1);
  });
});

describe('order machine: deadlines and cancels', () => {
  it('ignores a stale deadline key; the current one fires', () => {
    const h = accepted(limitOrder);
    const keys = h.received('clock', 'clock.schedule').map((m) => m.key);
    expect(keys).toEqual(['submitting#1', 'limit#2']);
    h.takeEffects();
    h.fromClock('submitting#1'); // the submit timeout, delivered late
    expect(h.snapshot().value).toBe('accepted');
    expect(h.takeEffects()).toEqual([]);
    h.fromClock(); // limit#2
    expect(h.snapshot().value).toBe('cancelling');
  });

  it('cancels a limit order that did not fill in time (LIMIT_TIMEOUT), keeping its partial fills', () => {
    const h = accepted(limitOrder);
    const limit = h.received('clock', 'clock.schedule').at(-1);
    expect(limit?.atMs).toBe(h.snapshot().context.limitAtMs);
    brokerFill(h, fill('F1', 40, '10.05'));
    // a partial fill keeps the pending limit timeout, it does not restart it
    expect(h.received('clock', 'clock.schedule').at(-1)).toEqual(limit);
    h.fromClock();
    expect(h.snapshot().value).toBe('cancelling');
    expect(h.received('broker', 'broker.cancel')).toEqual([
      { type: 'broker.cancel', clientOrderId: limitOrder.clientOrderId, replyTo: h.selfId },
    ]);
    brokerFill(h, fill('F2', 10, '10.05')); // a fill racing the cancel
    expect(h.snapshot().value).toBe('cancelling');
    h.fromBroker({ type: 'broker.cancelled', clientOrderId: limitOrder.clientOrderId, tsEvent: h.now() });
    expect(h.snapshot().value).toBe('cancelled');
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({
      status: 'cancelled',
      reason: 'LIMIT_TIMEOUT',
      filledQuantity: 50,
      averagePrice: '10.05',
    });
  });

  it('keeps the limit timeout across a reconciliation (same instant, new key)', () => {
    const h = accepted(limitOrder);
    const first = h.received('clock', 'clock.schedule').at(-1);
    h.send({ type: 'resume', tsEvent: h.now() });
    h.fromBroker({ type: 'broker.status', clientOrderId: limitOrder.clientOrderId, status: 'accepted', fills: [], tsEvent: h.now() });
    expect(h.snapshot().value).toBe('accepted');
    const again = h.received('clock', 'clock.schedule').at(-1);
    expect(again?.atMs).toBe(first?.atMs);
    expect(again?.key).not.toBe(first?.key);
  });

  it('gives a market order no limit timeout', () => {
    const h = accepted(marketOrder);
    expect(h.received('clock', 'clock.schedule').map((m) => m.key)).toEqual(['submitting#1']);
    expect(h.snapshot().context.deadline).toBeUndefined();
  });

  it('cancels again when a reconciliation finds the order it was cancelling still open', () => {
    const h = accepted();
    h.send({ type: 'order.cancel', reason: 'CANCELLED_BY_REQUEST', tsEvent: h.now() });
    h.fromClock(); // no answer to the cancel in time
    expect(h.snapshot().value).toBe('reconciling');
    h.fromBroker({ type: 'broker.status', clientOrderId: marketOrder.clientOrderId, status: 'accepted', fills: [], tsEvent: h.now() });
    expect(h.snapshot().value).toBe('cancelling');
    expect(h.received('broker', 'broker.cancel')).toHaveLength(2);
    h.fromBroker({ type: 'broker.cancelled', clientOrderId: marketOrder.clientOrderId, tsEvent: h.now() });
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({ status: 'cancelled', reason: 'CANCELLED_BY_REQUEST' });
  });

  it('remembers a cancel requested while reconciling', () => {
    const h = startOrderHarness(orderInput(marketOrder));
    h.send({ type: 'order.place', tsEvent: h.now() });
    h.send({ type: 'resume', tsEvent: h.now() });
    h.send({ type: 'order.cancel', reason: 'KILL_SWITCH', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('reconciling');
    // the broker never saw it, and it is no longer wanted: cancelled, not submitted again
    h.fromBroker({ type: 'broker.status', clientOrderId: marketOrder.clientOrderId, status: 'not_found', fills: [], tsEvent: h.now() });
    expect(h.snapshot().value).toBe('cancelled');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({ status: 'cancelled', reason: 'KILL_SWITCH' });
  });
});

describe('order machine: outside hours', () => {
  it("rejects with MARKET_CLOSED when closed and outsideHours is 'reject'; the broker never hears of it", () => {
    const h = startOrderHarness(orderInput(marketOrder, { marketOpen: false, outsideHours: 'reject' }));
    h.send({ type: 'order.place', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('rejected');
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({ status: 'rejected', reason: 'MARKET_CLOSED', filledQuantity: 0 });
    expect(h.received('engine', 'order.finished')).toHaveLength(1);
    expect(h.sent.filter((d) => d.to === 'broker')).toEqual([]);
  });

  it("queues until the next open when outsideHours is 'queue_next_open', telling the session once", () => {
    const input = orderInput(limitOrder, { marketOpen: false, outsideHours: 'queue_next_open' });
    const h = startOrderHarness(input);
    h.send({ type: 'order.place', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('queued');
    expect(h.received('clock', 'clock.schedule')).toEqual([{ type: 'clock.schedule', target: h.selfId, key: 'queued#1', atMs: input.nextOpenMs }]);
    h.send({ type: 'resume', tsEvent: h.now() }); // re-asks the clock, same key; no second result
    expect(h.received('clock', 'clock.schedule').map((m) => m.key)).toEqual(['queued#1', 'queued#1']);
    const results = h.received(h.input.replyTo, 'order.result');
    expect(results.map((m) => m.result.status)).toEqual(['queued']);
    expect(h.sent.filter((d) => d.to === 'broker')).toEqual([]);
    h.fromClock();
    expect(h.snapshot().value).toBe('submitting');
    expect(h.received('broker', 'broker.submit')).toHaveLength(1);
  });
});

describe('order machine: a queued order waits as the engine shaped it', () => {
  // 15:05 on a Thursday: the next open is Friday 09:30; the agent decided at 1453.20.
  const at = T0 + (5 * 60 + 30) * 60_000;
  const nextOpenMs = T0 + (24 * 60 - 5) * 60_000;
  const queue = queuedOrder('cn', marketOrder, { atMs: at, nextOpenMs, decisionPrice: '1453.20', band: 0.02 });

  it('a market order waits as a limit at the decision price + 2%, and the session is told when and at what', () => {
    const h = startOrderHarness(orderInput(marketOrder, { marketOpen: false, nextOpenMs, outsideHours: 'queue_next_open', queue }));
    h.send({ type: 'order.place', tsEvent: at });
    expect(h.snapshot().value).toBe('queued');
    const [told] = h.received(h.input.replyTo, 'order.result');
    expect(told?.result).toMatchObject({
      status: 'queued',
      intent: { side: 'buy', type: 'limit', limitPrice: '1482.26' }, // 1453.20 x 1.02 = 1482.264, down to the tick
      queuedUntil: '2025-10-10T09:30:00+08:00',
      message: expect.stringContaining('waits for the next open, 09:30 on 2025-10-10'),
    });
    h.fromClock();
    expect(h.received('broker', 'broker.submit')[0]?.order).toEqual({ ...marketOrder, type: 'limit', limitPrice: '1482.26' });
    // a protective limit that does not fill in time is cancelled like any limit order
    h.fromBroker({ type: 'broker.accepted', clientOrderId: marketOrder.clientOrderId, brokerOrderId: 'B-1', tsEvent: nextOpenMs });
    expect(h.received('clock', 'clock.schedule').at(-1)).toMatchObject({ key: expect.stringMatching(/^limit#/) });
  });

  it('without a queue (a stop-loss sell) the order waits as it is', () => {
    const h = startOrderHarness(orderInput(marketOrder, { marketOpen: false, nextOpenMs, outsideHours: 'queue_next_open' }));
    h.send({ type: 'order.place', tsEvent: at });
    expect(h.received(h.input.replyTo, 'order.result')[0]?.result).toMatchObject({ status: 'queued', intent: { type: 'market' } });
    h.fromClock();
    expect(h.received('broker', 'broker.submit')[0]?.order).toEqual(marketOrder);
  });
});

describe('order machine: peers', () => {
  it('skips the result silently when the session is gone, and still reports to the parent', () => {
    const h = startOrderHarness(orderInput(marketOrder, { marketOpen: false }), { peers: ['broker', 'clock', 'ledger', 'monitor'] });
    h.send({ type: 'order.place', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('rejected');
    expect(h.errors).toEqual([]);
    expect(h.sent.map((d) => `${d.to} <- ${d.event.type}`)).toEqual(['engine <- order.finished']);
  });

  it('fails loudly (the engine sees the crash) when a required system actor is missing, sending nothing', () => {
    const h = startOrderHarness(orderInput(marketOrder), { peers: ['clock', 'ledger', 'monitor', 'session'] });
    h.send({ type: 'order.place', tsEvent: h.now() });
    expect(h.order.getSnapshot().status).toBe('error');
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(MissingSystemActorError);
    expect(String(h.errors[0])).toContain(`order:${marketOrder.clientOrderId}: no actor registered as 'broker' to send broker.submit to`);
    expect(h.sent).toEqual([]);
  });
});

describe('order machine: persistence', () => {
  it('round-trips its persisted snapshot through JSON and restores into the same state', () => {
    const h = accepted(limitOrder);
    brokerFill(h, fill('F1', 30, '10.01', '0.30'));
    const live = h.order;
    const persisted = JSON.parse(JSON.stringify(live.getPersistedSnapshot())) as unknown;
    const restored = createActor(orderMachine, { snapshot: persisted as never, input: h.input });
    restored.start();
    const a = live.getSnapshot();
    const b = restored.getSnapshot();
    expect(b.value).toBe('partially_filled');
    expect(b.value).toEqual(a.value);
    expect(b.context).toEqual(a.context);
    expect(b.status).toBe('active');
    expect(JSON.parse(JSON.stringify(restored.getPersistedSnapshot()))).toEqual(persisted);
    // the restored actor keeps the pending deadline: the current key still fires, a stale one does not
    expect(b.can({ type: 'clock.deadline', key: a.context.deadline?.key ?? '', tsEvent: T0 })).toBe(true);
    expect(b.can({ type: 'clock.deadline', key: 'submitting#1', tsEvent: T0 })).toBe(false);
    restored.stop();
  });

  it('keeps a JSON-serializable context in every state', () => {
    const h = accepted(limitOrder);
    brokerFill(h, fill('F1', 100, '10.01'));
    const c = h.snapshot().context;
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });
});

describe('order machine: the order-status table', () => {
  it('equals the machine edges exactly, both ways', () => {
    const table = Object.entries(ORDER_TRANSITIONS).flatMap(([source, byEvent]) =>
      Object.entries(byEvent).flatMap(([event, targets]) => (targets ?? []).map((target) => `${source} --${event}--> ${target}`)),
    );
    expect(new Set(table).size).toBe(table.length);
    expect(machineEdges().map(edgeKey).sort()).toEqual(table.sort());
  });

  it('has a row per state, and exactly the final states are terminal', () => {
    expect(Object.keys(ORDER_TRANSITIONS).sort()).toEqual(Object.keys(orderMachine.root.states).sort());
    for (const [key, node] of Object.entries(orderMachine.root.states)) {
      expect(isTerminal(key), key).toBe(node.type === 'final');
      expect(Object.keys(ORDER_TRANSITIONS[key as keyof typeof ORDER_TRANSITIONS]).length === 0, key).toBe(node.type === 'final');
    }
  });
});
