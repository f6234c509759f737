import { DateTime } from 'luxon';
import { Subject } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createActor, fromCallback, setup, type Actor, type AnyEventObject } from 'xstate';
import { brokerActor } from '../../src/actors/brokers/broker-actor.js';
import type { Broker, BrokerBalance, BrokerPosition, BrokerStatus, BrokerUpdate } from '../../src/actors/brokers/broker.js';
import { SimulatedBroker } from '../../src/actors/brokers/simulated-broker.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import type { Message } from '../../src/domain/messages.js';
import type { OrderRequest } from '../../src/domain/orders.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { orderMachine, type OrderMachineInput } from '../../src/machines/order.machine.js';
import { AI_TRADER } from '../support/fixtures.js';

const T0 = DateTime.fromISO('2025-10-10T09:35:00+08:00', { setZone: true });
const NOW_MS = 1_760_000_000_000;

let cnDaily: PriceStore;
beforeAll(async () => {
  cnDaily = await loadPriceStore(new URL('cn/sse50_daily.jsonl', AI_TRADER));
}, 60_000);

const order = (cid: string, o: Partial<OrderRequest> = {}): OrderRequest => ({
  clientOrderId: cid,
  signature: 's',
  side: 'buy',
  symbol: '600028.SH',
  quantity: 100,
  type: 'market',
  ...o,
});

/**
 * A tiny actor system: the broker actor under system id `broker`, and recorders under
 * `order:X` and `order:Y` that keep every event they receive.
 */
function world(broker: Broker) {
  const got: Record<string, AnyEventObject[]> = { 'order:X': [], 'order:Y': [] };
  const recorder = fromCallback<AnyEventObject, { id: string }>(({ input, receive }) => {
    receive((e) => got[input.id]!.push(e));
  });
  const root = setup({ actors: { broker: brokerActor(broker, () => NOW_MS), recorder } }).createMachine({
    invoke: [
      { src: 'broker', id: 'broker', systemId: 'broker' },
      { src: 'recorder', id: 'x', systemId: 'order:X', input: { id: 'order:X' } },
      { src: 'recorder', id: 'y', systemId: 'order:Y', input: { id: 'order:Y' } },
    ],
  });
  const errors: unknown[] = [];
  const actor = createActor(root);
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  const send = (m: Message<'broker.submit' | 'broker.cancel' | 'broker.queryStatus'>) => actor.system.get('broker')!.send(m);
  const types = (id: string) => got[id]!.map((e) => e.type);
  return { actor, got, send, types, errors };
}

/** Let promise callbacks run (no wall-time wait). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** A broker under the test's control: each call does what the test says. */
class ScriptedBroker implements Broker {
  readonly subject = new Subject<BrokerUpdate>();
  readonly updates$ = this.subject.asObservable();
  submitDoes: 'ok' | 'throw' | 'reject' = 'ok';
  cancelDoes: 'ok' | 'throw' | 'reject' = 'ok';
  statusDoes: 'ok' | 'reject' = 'ok';
  readonly calls: string[] = [];

  #act(what: 'ok' | 'throw' | 'reject', name: string): Promise<void> {
    this.calls.push(name);
    if (what === 'throw') throw new Error(`${name}: socket closed`);
    return what === 'reject' ? Promise.reject(new Error(`${name}: timeout`)) : Promise.resolve();
  }
  submit(o: OrderRequest): Promise<void> {
    return this.#act(this.submitDoes, `submit ${o.clientOrderId}`);
  }
  cancel(cid: string): Promise<void> {
    return this.#act(this.cancelDoes, `cancel ${cid}`);
  }
  async status(cid: string): Promise<BrokerStatus> {
    this.calls.push(`status ${cid}`);
    if (this.statusDoes === 'reject') throw new Error('status: 502');
    return { clientOrderId: cid, status: 'accepted', brokerOrderId: 'B-1', fills: [] };
  }
  async positions(): Promise<BrokerPosition[]> {
    return [];
  }
  async balance(): Promise<BrokerBalance> {
    return { cash: '0' };
  }
}

describe('broker actor over the simulated broker', () => {
  const simulated = () =>
    new SimulatedBroker({ market: 'cn', store: cnDaily, now: () => T0, accounts: { s: { cash: '100000' } } });

  it('delivers the outcome of a submit to the order that asked, and to no other', async () => {
    const w = world(simulated());
    w.send({ type: 'broker.submit', order: order('X'), replyTo: 'order:X' });
    await settle();
    expect(w.types('order:X')).toEqual(['broker.accepted', 'broker.fill']);
    expect(w.got['order:X']![1]).toMatchObject({ clientOrderId: 'X', fill: { quantity: 100, price: '5.34', fee: '5.01' }, tsEvent: T0.toMillis() });
    expect(w.types('order:Y')).toEqual([]);
    w.send({ type: 'broker.submit', order: order('Y', { quantity: 150 }), replyTo: 'order:Y' });
    await settle();
    expect(w.got['order:Y']).toEqual([
      expect.objectContaining({ type: 'broker.rejected', clientOrderId: 'Y', reason: 'LOT_SIZE' }),
    ]);
    expect(w.types('order:X')).toHaveLength(2);
    expect(w.errors).toEqual([]);
  });

  it('routes by the replyTo remembered for the client order id', async () => {
    const w = world(simulated());
    w.send({ type: 'broker.submit', order: order('odd-name'), replyTo: 'order:Y' });
    await settle();
    expect(w.types('order:Y')).toEqual(['broker.accepted', 'broker.fill']);
  });

  it('answers queryStatus with broker.status stamped by the injected clock; an unknown id is not_found', async () => {
    const w = world(simulated());
    w.send({ type: 'broker.submit', order: order('X'), replyTo: 'order:X' });
    w.send({ type: 'broker.queryStatus', clientOrderId: 'X', replyTo: 'order:X' });
    w.send({ type: 'broker.queryStatus', clientOrderId: 'Y', replyTo: 'order:Y' });
    await settle();
    expect(w.got['order:X']!.at(-1)).toMatchObject({
      type: 'broker.status',
      clientOrderId: 'X',
      status: 'filled',
      brokerOrderId: 'sim:X',
      fills: [{ fillId: 'X#1', quantity: 100 }],
      tsEvent: NOW_MS,
    });
    expect(w.got['order:Y']).toEqual([{ type: 'broker.status', clientOrderId: 'Y', status: 'not_found', fills: [], tsEvent: NOW_MS }]);
  });

  it('delivers cancels, and a duplicate submit\'s rejection to the same order', async () => {
    const w = world(simulated());
    w.send({ type: 'broker.submit', order: order('X', { type: 'limit', limitPrice: '5.00' }), replyTo: 'order:X' });
    w.send({ type: 'broker.submit', order: order('X', { type: 'limit', limitPrice: '5.00' }), replyTo: 'order:X' });
    w.send({ type: 'broker.cancel', clientOrderId: 'X', replyTo: 'order:X' });
    await settle();
    expect(w.types('order:X')).toEqual(['broker.accepted', 'broker.rejected', 'broker.cancelled']);
    expect(w.got['order:X']![1]).toMatchObject({ reason: 'DUPLICATE_CLIENT_ORDER_ID' });
  });

  it('an update for an order it never relayed goes to order:<clientOrderId>', async () => {
    const broker = simulated();
    const w = world(broker);
    await broker.submit(order('Y')); // straight to the venue, e.g. before a restart
    expect(w.types('order:Y')).toEqual(['broker.accepted', 'broker.fill']);
  });
});

describe('broker actor when the broker fails', () => {
  it('a submit that throws becomes broker.disconnected to that order, never a rejection', async () => {
    const broker = new ScriptedBroker();
    broker.submitDoes = 'throw';
    const w = world(broker);
    w.send({ type: 'broker.submit', order: order('X'), replyTo: 'order:X' });
    await settle();
    expect(w.got['order:X']).toEqual([{ type: 'broker.disconnected', tsEvent: NOW_MS }]);
    expect(w.got['order:Y']).toEqual([]);
    expect(w.errors).toEqual([]); // the actor itself goes on
    broker.submitDoes = 'ok';
    w.send({ type: 'broker.submit', order: order('Y'), replyTo: 'order:Y' });
    await settle();
    expect(broker.calls).toEqual(['submit X', 'submit Y']);
  });

  it('a rejected submit, cancel or status promise becomes broker.disconnected too', async () => {
    const broker = new ScriptedBroker();
    broker.submitDoes = 'reject';
    broker.cancelDoes = 'reject';
    broker.statusDoes = 'reject';
    const w = world(broker);
    w.send({ type: 'broker.submit', order: order('X'), replyTo: 'order:X' });
    w.send({ type: 'broker.cancel', clientOrderId: 'Y', replyTo: 'order:Y' });
    w.send({ type: 'broker.queryStatus', clientOrderId: 'Y', replyTo: 'order:Y' });
    await settle();
    expect(w.types('order:X')).toEqual(['broker.disconnected']);
    expect(w.types('order:Y')).toEqual(['broker.disconnected', 'broker.disconnected']);
  });

  it('a broken update stream tells every order it relayed for broker.disconnected', async () => {
    const broker = new ScriptedBroker();
    const w = world(broker);
    w.send({ type: 'broker.submit', order: order('X'), replyTo: 'order:X' });
    w.send({ type: 'broker.submit', order: order('Y'), replyTo: 'order:Y' });
    broker.subject.error(new Error('websocket closed'));
    await settle();
    expect(w.types('order:X')).toEqual(['broker.disconnected']);
    expect(w.types('order:Y')).toEqual(['broker.disconnected']);
    expect(w.errors).toEqual([]);
  });

  it('relays what the broker streams, and unsubscribes when stopped', async () => {
    const broker = new ScriptedBroker();
    const w = world(broker);
    w.send({ type: 'broker.submit', order: order('X'), replyTo: 'order:X' });
    broker.subject.next({ type: 'broker.expired', clientOrderId: 'X', tsEvent: 5 });
    expect(broker.subject.observed).toBe(true);
    await settle();
    expect(w.got['order:X']).toEqual([{ type: 'broker.expired', clientOrderId: 'X', tsEvent: 5 }]);
    w.actor.stop();
    expect(broker.subject.observed).toBe(false);
  });
});

describe('broker actor with the real order machine', () => {
  /** The engine's shape in miniature: broker actor + sink peers + one order actor. */
  function run(request: OrderRequest) {
    const sessionId = 's@2025-10-10T09:35:00+08:00';
    const input: OrderMachineInput = {
      order: request,
      sessionId,
      replyTo: `session:${sessionId}`,
      marketOpen: true,
      nextOpenMs: T0.toMillis() + 86_400_000,
      outsideHours: 'reject',
      submitTimeoutMs: 5_000,
      cancelTimeoutMs: 5_000,
      limitTimeoutMs: 60_000,
      queryRetryMs: 3_000,
    };
    const received: AnyEventObject[] = [];
    const sink = fromCallback<AnyEventObject>(({ receive }) => {
      receive((e) => received.push(e));
    });
    const broker = new SimulatedBroker({ market: 'cn', store: cnDaily, now: () => T0, accounts: { s: { cash: '100000' } } });
    const root = setup({ actors: { broker: brokerActor(broker, () => T0.toMillis()), sink, order: orderMachine } }).createMachine({
      context: ({ spawn }) => {
        spawn('broker', { id: 'broker', systemId: 'broker' });
        for (const id of ['clock', 'ledger', 'monitor', input.replyTo]) spawn('sink', { id, systemId: id });
        spawn('order', { id: `order:${request.clientOrderId}`, systemId: `order:${request.clientOrderId}`, input });
        return {};
      },
      on: { 'xstate.error.actor.*': {} },
    });
    const actor = createActor(root);
    actor.subscribe({ error: () => {} });
    actor.start();
    const orderRef = actor.system.get(`order:${request.clientOrderId}`) as Actor<typeof orderMachine>;
    orderRef.send({ type: 'order.place', tsEvent: T0.toMillis() });
    return { orderRef, received };
  }

  it('an order placed through the broker actor ends filled, and its fill reaches the ledger', async () => {
    const { orderRef, received } = run(order('sig.20251010T0935.0'));
    await settle();
    expect(orderRef.getSnapshot().value).toBe('filled');
    expect(received.filter((e) => e.type === 'ledger.applyFill')).toEqual([
      expect.objectContaining({ clientOrderId: 'sig.20251010T0935.0', fill: expect.objectContaining({ price: '5.34', fee: '5.01' }) }),
    ]);
    expect(received.find((e) => e.type === 'order.result')).toMatchObject({ result: { status: 'filled', filledQuantity: 100 } });
  });

  it('a venue rejection reaches the session with its reason and message', async () => {
    const { orderRef, received } = run(order('sig.20251010T0935.1', { quantity: 150 }));
    await settle();
    expect(orderRef.getSnapshot().value).toBe('rejected');
    expect(received.find((e) => e.type === 'order.result')).toMatchObject({
      result: { status: 'rejected', reason: 'LOT_SIZE', message: 'LOT_SIZE: 150 shares of 600028.SH is not a multiple of 100' },
    });
  });
});
