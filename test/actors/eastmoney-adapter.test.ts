/**
 * The EastMoneyAdapter against the fake EastMoney in its own process: the read-only session,
 * trading with fills, partial fills, revokes, the counter's refusals, the faults whose outcome is
 * unknown, a dead session that stops everything, the caps, a restart of the site. What reached
 * the site is read from the fake's request log, never inferred.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { EastMoneyAdapter } from '../../src/actors/brokers/eastmoney/adapter.js';
import { ROUTES } from '../../src/actors/brokers/eastmoney/client.js';
import { VenueHalted, VenueRefused, VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import type { ReasonCode } from '../../src/domain/reasons.js';
import { adapterFor, failure, limitOrder, secretsOf, T0, TIMEOUT_MS, until } from '../support/fake-eastmoney/harness.js';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';

const DAY = 86_400_000;
/** Monday 2025-11-10 10:00 Shanghai: the next trading day after T0. */
const MONDAY = T0 + 3 * DAY;

let fake: FakeEastMoneyProcess;
let adapters: EastMoneyAdapter[] = [];
beforeAll(async () => {
  fake = await FakeEastMoneyProcess.start({ startMs: T0 });
});
afterAll(async () => {
  await fake.dispose();
});
beforeEach(async () => {
  await fake.reset({ startMs: T0 });
});
afterEach(() => {
  for (const a of adapters) a.close();
  adapters = [];
});

function world(...args: Parameters<typeof adapterFor> extends [unknown, ...infer R] ? R : never) {
  const w = adapterFor(fake, ...args);
  adapters.push(w.adapter);
  return w;
}

const noSecrets = (e: Error) => {
  for (const s of secretsOf(fake)) expect(e.message).not.toContain(s);
};

describe('read-only (trading off)', () => {
  it('lists funds, positions and orders; refuses a place and a cancel before sending anything', async () => {
    await fake.position('600519.SH', 300, { cost: '450000' });
    await fake.position('000001.SZ', 1_000, { sellable: 400, cost: '11000' });
    await fake.price('600519.SH', '1480.00');
    const other = await fake.externalOrder({ symbol: '000001.SZ', side: 'buy', qty: 200, price: '11.00' });
    const { adapter } = world({ trading: false });
    await adapter.connect();

    expect(await adapter.account()).toEqual({ cash: '1000000.00', buyingPower: '997800.00' });
    expect(await adapter.positions()).toEqual([
      { symbol: '600519.SH', quantity: 300, sellable: 300 },
      { symbol: '000001.SZ', quantity: 1_000, sellable: 400 },
    ]);
    const orders = await adapter.orders();
    expect(orders).toEqual([
      {
        brokerOrderId: other['Wtbh'],
        clientOrderId: undefined,
        symbol: '000001.SZ',
        side: 'buy',
        quantity: 200,
        limitPrice: '11.00',
        filledQuantity: 0,
        avgFillPrice: undefined,
        state: 'open',
        message: undefined,
        rawStatus: '已报',
        createdAtMs: T0,
      },
    ]);
    expect(await adapter.fills()).toEqual([]);

    const refused = await failure(adapter.place(limitOrder('ew.1')));
    expect(refused).toBeInstanceOf(VenueRefused);
    expect(refused.message).toMatch(/trading is off/);
    const cancel = await failure(adapter.cancel({ brokerOrderId: other['Wtbh']!, clientOrderId: 'ew.0' }));
    expect(cancel).toBeInstanceOf(VenueRefused);
    expect(await fake.requests(ROUTES.submit)).toEqual([]);
    expect(await fake.requests(ROUTES.revoke)).toEqual([]);
    expect(adapter.checkOrder(limitOrder('ew.1'))?.message).toMatch(/trading is off/);
  });
});

describe('trading on', () => {
  it('submit -> the entrust number -> listed, open, without our client order id', async () => {
    await fake.mode({ fill: 'manual' });
    const { adapter } = world();
    await adapter.connect();
    const { brokerOrderId } = await adapter.place(limitOrder('ew.1', { quantity: 200, limitPrice: '1500.00' }));
    expect(brokerOrderId).toMatch(/^\d+$/);
    const [sent] = await fake.requests(ROUTES.submit);
    expect(sent!.form).toEqual({ stockCode: '600519', price: '1500.00', amount: '200', tradeType: 'B', zqmc: '', market: 'HA' });
    expect(await adapter.orders()).toEqual([expect.objectContaining({ brokerOrderId, clientOrderId: undefined, symbol: '600519.SH', side: 'buy', quantity: 200, limitPrice: '1500.00', filledQuantity: 0, state: 'open', createdAtMs: T0 })]);
    expect(await adapter.account()).toEqual({ cash: '1000000.00', buyingPower: '700000.00' });

    const sell = await adapter.place(limitOrder('ew.2', { symbol: '000001.SZ', side: 'sell', quantity: 100, limitPrice: '11.00' })).catch((e: unknown) => e);
    expect(sell).toBeInstanceOf(VenueRefused); // nothing to sell: the counter says so
    expect((sell as VenueRefused).reason).toBe('INSUFFICIENT_POSITION');
  });

  it('a fill: the order is filled, the fill listed once with its own id, cash spent, the shares sellable only the next day (T+1)', async () => {
    await fake.mode({ fill: 'manual' });
    const { adapter, scheduler } = world();
    const { brokerOrderId } = await adapter.place(limitOrder('ew.1', { quantity: 100, limitPrice: '1500.00' }));
    await fake.fill(brokerOrderId, undefined, '1499.50');
    const [order] = await adapter.orders();
    expect(order).toMatchObject({ state: 'filled', filledQuantity: 100, avgFillPrice: '1499.50', rawStatus: '已成' });
    const fills = await adapter.fills();
    expect(fills).toEqual([{ fillId: expect.stringMatching(new RegExp(`^20251107_${brokerOrderId}_\\d+$`)), brokerOrderId, quantity: 100, price: '1499.50', atMs: T0 }]);
    expect(await adapter.account()).toEqual({ cash: '850050.00', buyingPower: '850050.00' });
    expect(await adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 100, sellable: 0 }]);
    const tooSoon = await failure(adapter.place(limitOrder('ew.2', { side: 'sell', quantity: 100, limitPrice: '1500.00' })));
    expect((tooSoon as VenueRefused).reason).toBe('INSUFFICIENT_POSITION');

    await fake.clock(MONDAY);
    scheduler.advanceTo(MONDAY);
    expect(await adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 100, sellable: 100 }]);
    expect(await adapter.orders()).toEqual([]); // a new day's list
    const sold = await adapter.place(limitOrder('ew.3', { side: 'sell', quantity: 100, limitPrice: '1500.00' }));
    expect(sold.brokerOrderId).toMatch(/^\d+$/);
  });

  it('partial fills: open with the cumulative quantity and average, then filled; each fill once', async () => {
    await fake.mode({ fill: 'manual' });
    const { adapter } = world();
    const { brokerOrderId } = await adapter.place(limitOrder('ew.1', { quantity: 300, limitPrice: '1500.00' }));
    await fake.fill(brokerOrderId, 100, '1490.00');
    expect((await adapter.orders())[0]).toMatchObject({ state: 'open', rawStatus: '部成', filledQuantity: 100, avgFillPrice: '1490.00' });
    await fake.fill(brokerOrderId, 200, '1495.00');
    expect((await adapter.orders())[0]).toMatchObject({ state: 'filled', filledQuantity: 300, avgFillPrice: '1493.333' });
    const fills = await adapter.fills();
    expect(fills.map((f) => [f.quantity, f.price])).toEqual([
      [100, '1490.00'],
      [200, '1495.00'],
    ]);
    expect(new Set(fills.map((f) => f.fillId)).size).toBe(2);
  });

  it('revoke: RevokeOrders with the entrust date and number; cancelled, partly filled then cancelled, a cancel on its way', async () => {
    await fake.mode({ fill: 'manual' });
    const { adapter } = world();
    const a = await adapter.place(limitOrder('ew.1'));
    await adapter.cancel({ brokerOrderId: a.brokerOrderId, clientOrderId: 'ew.1' });
    expect((await fake.requests(ROUTES.revoke))[0]!.form).toEqual({ revokes: `20251107_${a.brokerOrderId}` });

    const b = await adapter.place(limitOrder('ew.2', { quantity: 300 }));
    await fake.fill(b.brokerOrderId, 100);
    await adapter.cancel({ brokerOrderId: b.brokerOrderId, clientOrderId: 'ew.2' });

    await fake.mode({ revoke: 'pending' });
    const c = await adapter.place(limitOrder('ew.3'));
    await adapter.cancel({ brokerOrderId: c.brokerOrderId, clientOrderId: 'ew.3' });
    const byId = async () => new Map((await adapter.orders()).map((o) => [o.brokerOrderId, o]));
    let orders = await byId();
    expect(orders.get(a.brokerOrderId)).toMatchObject({ state: 'cancelled', rawStatus: '已撤', filledQuantity: 0 });
    expect(orders.get(b.brokerOrderId)).toMatchObject({ state: 'cancelled', rawStatus: '部撤', filledQuantity: 100 });
    expect(orders.get(c.brokerOrderId)).toMatchObject({ state: 'cancelling', rawStatus: '已报待撤' });
    await fake.exchangeCancel(c.brokerOrderId);
    orders = await byId();
    expect(orders.get(c.brokerOrderId)).toMatchObject({ state: 'cancelled' });

    // a cancel of an order that is done: the site's refusal
    const late = await failure(adapter.cancel({ brokerOrderId: a.brokerOrderId, clientOrderId: 'ew.1' }));
    expect(late).toBeInstanceOf(VenueRefused);
    expect(late.message).toContain('撤单失败');
  });

  it('an entrust the exchange refuses after it was reported (废单) is rejected', async () => {
    await fake.mode({ fill: 'manual' });
    const { adapter } = world();
    const { brokerOrderId } = await adapter.place(limitOrder('ew.1'));
    await fake.reject(brokerOrderId);
    expect((await adapter.orders())[0]).toMatchObject({ state: 'rejected', rawStatus: '废单', message: '废单' });
  });

  it('auto fills at the market price when the limit crosses it', async () => {
    await fake.price('600519.SH', '1488.00');
    const { adapter } = world();
    const { brokerOrderId } = await adapter.place(limitOrder('ew.1', { limitPrice: '1500.00' }));
    expect((await adapter.orders())[0]).toMatchObject({ brokerOrderId, state: 'filled', avgFillPrice: '1488.00' });
  });
});

const REFUSALS: readonly { readonly what: string; readonly setup?: () => Promise<unknown>; readonly order: Parameters<typeof limitOrder>[1]; readonly reason: ReasonCode; readonly says: RegExp }[] = [
  { what: 'a buy of 150 shares', order: { quantity: 150 }, reason: 'LOT_SIZE', says: /100股的整数倍/ },
  { what: 'a buy over the available cash', setup: () => fake.cash('10000'), order: { quantity: 100 }, reason: 'INSUFFICIENT_CASH', says: /可用资金不足/ },
  { what: 'a sell of shares not held', order: { side: 'sell', quantity: 100 }, reason: 'INSUFFICIENT_POSITION', says: /可用股份不足/ },
  { what: 'a price over the daily limit', setup: () => fake.price('600519.SH', undefined, '1300.00'), order: { limitPrice: '1500.00' }, reason: 'PRICE_LIMIT', says: /涨跌幅/ },
  { what: 'an order after the close', setup: () => fake.clock(T0 + 6 * 3_600_000), order: {}, reason: 'MARKET_CLOSED', says: /非交易时间/ },
];

describe("the counter's refusals", () => {
  it.each(REFUSALS)('$what -> VenueRefused $reason, the site asked once', async ({ setup, order, reason, says }) => {
    await setup?.();
    const { adapter } = world();
    const error = await failure(adapter.place(limitOrder('ew.1', order)));
    expect(error).toBeInstanceOf(VenueRefused);
    expect((error as VenueRefused).reason).toBe(reason);
    expect(error.message).toMatch(says);
    expect(await fake.requests(ROUTES.submit)).toHaveLength(1);
    expect(await adapter.orders()).toEqual([]);
  });
});

describe('caps and what the adapter cannot send: refused before sending', () => {
  const CASES: readonly { readonly what: string; readonly order: Parameters<typeof limitOrder>[1]; readonly reason: ReasonCode; readonly says: RegExp }[] = [
    { what: 'over max_order_shares', order: { quantity: 600, limitPrice: '10.00', symbol: '000001.SZ' }, reason: 'MAX_ORDER_NOTIONAL', says: /max_order_shares \(500\)/ },
    { what: 'over max_order_value', order: { quantity: 100, limitPrice: '1500.01' }, reason: 'MAX_ORDER_NOTIONAL', says: /150001 CNY is over broker.eastmoney.max_order_value \(150000\)/ },
    { what: 'a market order', order: { type: 'market', limitPrice: undefined }, reason: 'BROKER_REJECTED', says: /limit orders only/ },
    { what: 'a Beijing share', order: { symbol: '430047.BJ' }, reason: 'UNKNOWN_SYMBOL', says: /not a Shanghai or Shenzhen A share/ },
    { what: 'a US symbol', order: { symbol: 'AAPL' }, reason: 'UNKNOWN_SYMBOL', says: /AAPL/ },
  ];
  it.each(CASES)('$what -> $reason', async ({ order, reason, says }) => {
    const { adapter } = world({ maxOrderShares: 500, maxOrderValue: '150000' });
    const problem = adapter.checkOrder(limitOrder('ew.1', order));
    expect(problem?.reason).toBe(reason);
    const error = await failure(adapter.place(limitOrder('ew.1', order)));
    expect(error).toBeInstanceOf(VenueRefused);
    expect((error as VenueRefused).reason).toBe(reason);
    expect(error.message).toMatch(says);
    expect(await fake.requests(ROUTES.submit)).toEqual([]);
  });

  it('exactly at both caps is sent', async () => {
    const { adapter } = world({ maxOrderShares: 100, maxOrderValue: '150000' });
    expect(adapter.checkOrder(limitOrder('ew.1', { quantity: 100, limitPrice: '1500.00' }))).toBeUndefined();
    await adapter.place(limitOrder('ew.1', { quantity: 100, limitPrice: '1500.00' }));
    expect(await fake.requests(ROUTES.submit)).toHaveLength(1);
  });
});

describe('outcomes unknown', () => {
  it('a held answer after the entrust is made: VenueUnavailable(outcomeKnown false) at the deadline, and the entrust is listed', async () => {
    await fake.mode({ fill: 'manual' });
    await fake.fault(ROUTES.submit, { kind: 'hold', commit: true });
    const { adapter, scheduler } = world();
    const placing = failure(adapter.place(limitOrder('ew.1')));
    await until(async () => (await fake.requests(ROUTES.submit)).some((r) => r.status === 0), 'the held submit');
    scheduler.advanceTo(T0 + TIMEOUT_MS);
    const error = await placing;
    expect(error).toBeInstanceOf(VenueUnavailable);
    expect((error as VenueUnavailable).outcomeKnown).toBe(false);
    noSecrets(error);
    expect(await adapter.orders()).toEqual([expect.objectContaining({ symbol: '600519.SH', quantity: 100, state: 'open' })]);
  });

  it('a dropped connection after the entrust is made: VenueUnavailable(outcomeKnown false), the entrust listed', async () => {
    await fake.mode({ fill: 'manual' });
    await fake.fault(ROUTES.submit, { kind: 'reset', commit: true });
    const { adapter } = world();
    const error = await failure(adapter.place(limitOrder('ew.1')));
    expect(error).toBeInstanceOf(VenueUnavailable);
    expect((error as VenueUnavailable).outcomeKnown).toBe(false);
    expect(await adapter.orders()).toHaveLength(1);
  });

  it('a 500: VenueUnavailable(outcomeKnown false); the next requests go through (nothing latched)', async () => {
    await fake.fault(ROUTES.submit, { kind: 'status', status: 500 });
    const { adapter } = world();
    const error = await failure(adapter.place(limitOrder('ew.1')));
    expect(error).toBeInstanceOf(VenueUnavailable);
    expect((error as VenueUnavailable).outcomeKnown).toBe(false);
    expect(await adapter.orders()).toEqual([]);
    await adapter.place(limitOrder('ew.2'));
    expect(await adapter.orders()).toHaveLength(1);
  });

  it('the site down: a refused connection is VenueUnavailable(outcomeKnown true); after its restart the state is kept', async () => {
    await fake.mode({ fill: 'manual' });
    const { adapter } = world();
    const first = await adapter.place(limitOrder('ew.1'));
    await fake.stop();
    try {
      const error = await failure(adapter.place(limitOrder('ew.2')));
      expect(error).toBeInstanceOf(VenueUnavailable);
      expect((error as VenueUnavailable).outcomeKnown).toBe(true);
    } finally {
      await fake.start();
    }
    expect((await adapter.orders()).map((o) => o.brokerOrderId)).toEqual([first.brokerOrderId]);
    const second = await adapter.place(limitOrder('ew.3'));
    expect(Number(second.brokerOrderId)).toBeGreaterThan(Number(first.brokerOrderId));
  });
});

describe('a dead session', () => {
  it.each(['redirect', 'html', 'status'] as const)('expired (%s): VenueHalted, then every call halts without a request, even once the site has a new session', async (how) => {
    const { adapter } = world();
    await adapter.connect();
    await fake.expire(how);
    const halted = await failure(adapter.orders());
    expect(halted).toBeInstanceOf(VenueHalted);
    noSecrets(halted);
    const after = (await fake.requests()).length;
    for (const call of [() => adapter.orders(), () => adapter.fills(), () => adapter.account(), () => adapter.positions(), () => adapter.connect(), () => adapter.place(limitOrder('ew.1')), () => adapter.cancel({ brokerOrderId: '1001', clientOrderId: 'ew.1' })]) {
      expect(await failure(call())).toBe(halted);
    }
    await fake.session(fake.cookie, fake.validatekey);
    expect(await failure(adapter.orders())).toBe(halted);
    expect((await fake.requests()).length).toBe(after);
  });

  it('connect() on a dead session is VenueHalted', async () => {
    await fake.expire('redirect');
    const { adapter } = world();
    expect(await failure(adapter.connect())).toBeInstanceOf(VenueHalted);
    expect(await fake.requests(ROUTES.asset)).toHaveLength(1);
  });
});

describe('lists', () => {
  it('every page of the orders and of the fills (qqhs / dwc)', async () => {
    for (let i = 0; i < 5; i++) await fake.externalOrder({ symbol: '000001.SZ', side: 'buy', qty: 100, price: '11.00' });
    await fake.price('000001.SZ', '10.90'); // fills all five
    const { adapter } = world({}, 2);
    const orders = await adapter.orders();
    expect(orders).toHaveLength(5);
    expect(new Set(orders.map((o) => o.brokerOrderId)).size).toBe(5);
    const pages = await fake.requests(ROUTES.orders);
    expect(pages.map((r) => r.form)).toEqual([
      { qqhs: '2', dwc: '' },
      { qqhs: '2', dwc: '2' },
      { qqhs: '2', dwc: '4' },
    ]);
    expect(await adapter.fills()).toHaveLength(5);
  });

  it('follows a replay server: its trades set the price resting entrusts fill at', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify([{ T: 'success', msg: 'connected' }]));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { action: string };
        if (msg.action === 'auth') ws.send(JSON.stringify([{ T: 'success', msg: 'authenticated' }]));
        if (msg.action === 'subscribe') ws.send(JSON.stringify([{ T: 't', S: '600519.SH', p: 1495.5, s: 100, t: new Date(T0 + 60_000).toISOString() }]));
      });
    });
    try {
      const { adapter } = world();
      const { brokerOrderId } = await adapter.place(limitOrder('ew.1', { limitPrice: '1500.00' }));
      await fake.follow(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
      await until(async () => (await adapter.orders())[0]?.state === 'filled', 'the fill at the replayed price');
      const [fill] = await adapter.fills();
      expect(fill).toMatchObject({ brokerOrderId, price: '1495.50', atMs: T0 + 60_000 });
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});
