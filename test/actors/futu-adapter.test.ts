/**
 * FutuAdapter against the fake OpenD in a child process: the account, unlock, orders with our
 * remark, fills through fills() and pushes in the real environment, order-list polling only in
 * simulate, cancels, Futu's refusals, funds and T+1 positions, orders that are not ours.
 */
import { describe, expect, it } from 'vitest';
import { VenueHalted, VenueRefused } from '../../src/actors/brokers/venue-adapter.js';
import { eventually } from '../support/eventually.js';
import { cmds, order, REAL_HK, REAL_US, T0, until, worldsPerTest } from '../support/fake-futu/harness.js';

const world = worldsPerTest();
const rejection = async (p: Promise<unknown>): Promise<unknown> => p.then(() => new Error('resolved'), (e: unknown) => e);
const DAY = 86_400_000;

describe('FutuAdapter: the account and the session', () => {
  it('real env: the one real HKCC account, unlocked with the md5 of the trade password, subscribed', async () => {
    const w = await world({ paper: false });
    expect(w.adapter.accountId).toBe(REAL_HK);
    expect(await cmds(w.fake)).toEqual([1, 2001, 2005, 2008]);
    expect((await w.fake.state()).unlocked).toBe(true);
    expect(typeof w.adapter.fills).toBe('function');
  });

  it('a wrong trade password is VenueHalted (never retried), without the password in the message', async () => {
    const w = await world({ paper: false, tradePassword: 'wrong-pwd-777', connect: false });
    const e = await rejection(w.adapter.connect());
    expect(e).toBeInstanceOf(VenueHalted);
    expect((e as Error).message).toMatch(/Trd_UnlockTrade: Unlock failed: the trade password is wrong/);
    expect((e as Error).message).not.toContain('wrong-pwd-777');
    w.advance(60_000);
    expect((await cmds(w.fake)).filter((c) => c === 2005)).toHaveLength(1);
  });

  it('the configured account id is used; one OpenD does not list, or of the other env, is refused clearly', async () => {
    const ok = await world({ paper: false, market: 'US', accountId: REAL_US });
    expect(ok.adapter.accountId).toBe(REAL_US);
    const missing = await world({ fake: ok.fake, paper: false, market: 'US', accountId: '42', connect: false });
    expect(await rejection(missing.adapter.connect())).toMatchObject({ name: 'VenueHalted', message: expect.stringMatching(/lists no account 42 \(broker.account_id\); real US accounts: 281756479845123457/) });
    const wrongEnv = await world({ fake: ok.fake, paper: true, market: 'US', accountId: REAL_US, connect: false });
    expect(await rejection(wrongEnv.adapter.connect())).toMatchObject({ name: 'VenueHalted', message: expect.stringMatching(/is not an active simulate account trading US \(it is real/) });
  });

  it('simulate US: the option-only simulate account is passed over; several candidates must be chosen between', async () => {
    const w = await world({ market: 'US' });
    expect(w.adapter.accountId).toBe('1002');
    const several = await world({
      market: 'HK',
      connect: false,
      fakeOptions: { accounts: [ { accID: '11', trdEnv: 0, markets: [1], simAccType: 1 }, { accID: '12', trdEnv: 0, markets: [1], simAccType: 4 } ] },
    });
    expect(await rejection(several.adapter.connect())).toMatchObject({ name: 'VenueHalted', message: expect.stringMatching(/several simulate accounts trading HK \(11, 12\): set broker.account_id/) });
  });
});

describe('FutuAdapter: real env orders, fills and pushes', () => {
  it('a limit buy is listed with our remark; a partial then a full fill come through fills() and pushes; T+1 holds today\'s shares', async () => {
    const w = await world({ paper: false });
    await w.fake.mode({ fill: 'manual' }); // the limit rests: the test fills it
    const { brokerOrderId } = await w.adapter.place(order('ew.20251107T1000.0', { type: 'limit', limitPrice: '1500.5', quantity: 300 }));
    // above 2^53: kept exact as text
    expect(brokerOrderId).toBe('4611686018427387905');
    const [listed] = await w.adapter.orders();
    expect(listed).toEqual({
      brokerOrderId,
      clientOrderId: 'ew.20251107T1000.0',
      symbol: '600519.SH',
      side: 'buy',
      quantity: 300,
      limitPrice: '1500.5',
      filledQuantity: 0,
      avgFillPrice: undefined,
      state: 'open',
      message: undefined,
      rawStatus: '5',
      createdAtMs: T0,
      updatedAtMs: T0,
    });
    expect(await w.adapter.fills!()).toEqual([]);
    await w.fake.fill('ew.20251107T1000.0', 100, '1500.5');
    await w.fake.fill('ew.20251107T1000.0', 200, '1500.2');
    const fills = await w.adapter.fills!();
    expect(fills).toEqual([
      { fillId: '9223372036854775001', brokerOrderId, quantity: 100, price: '1500.5', atMs: T0 + 1 },
      { fillId: '9223372036854775002', brokerOrderId, quantity: 200, price: '1500.2', atMs: T0 + 2 },
    ]);
    const [done] = await w.adapter.orders();
    expect(done).toMatchObject({ state: 'filled', filledQuantity: 300, avgFillPrice: '1500.3', rawStatus: '11' });
    await eventually(() => expect(w.pushes).toHaveLength(5));
    expect(w.pushes.map((p) => (p.kind === 'order' ? `order ${p.order.rawStatus} ${p.order.filledQuantity}` : `fill ${p.fill.quantity}@${p.fill.price}`))).toEqual(['order 5 0', 'fill 100@1500.5', 'order 10 100', 'fill 200@1500.2', 'order 11 300']);
    expect(w.pushes[1]).toEqual({ kind: 'fill', fill: fills[0] });
    // HKCC is T+1: bought today, none sellable until the next day
    expect(await w.adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 300, sellable: 0 }]);
    // cash 1 000 000 - 150 050 - 300 040
    expect(await w.adapter.account()).toEqual({ cash: '549910', buyingPower: '549910' });
    await w.fake.clock(T0 + DAY);
    expect(await w.adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 300, sellable: 300 }]);
  });

  it('a push sent twice comes out twice (the tracker dedupes by fill id and status)', async () => {
    const w = await world({ paper: false });
    await w.fake.mode({ fill: 'manual' }); // the limit rests: the test fills it
    await w.adapter.place(order('ew.1', { type: 'limit', limitPrice: '11.25', symbol: '000001.SZ' }));
    await eventually(() => expect(w.pushes).toHaveLength(1));
    await w.fake.dupPushes(2);
    await w.fake.fill('ew.1');
    await eventually(() => expect(w.pushes).toHaveLength(5));
    expect(w.pushes[1]).toEqual(w.pushes[2]);
    expect(w.pushes[3]).toEqual(w.pushes[4]);
    expect(w.pushes.slice(1).map((p) => p.kind)).toEqual(['fill', 'fill', 'order', 'order']);
  });

  it('pushes stop at the account: another account\'s orders on the same OpenD are not passed on', async () => {
    const w = await world({ paper: false });
    await w.fake.externalOrder({ acc_id: REAL_US, symbol: 'AAPL', side: 'buy', qty: 1 });
    await w.adapter.place(order('ew.2', { type: 'limit', limitPrice: '1500' }));
    await eventually(() => expect(w.pushes).toHaveLength(1));
    expect(w.pushes[0]).toMatchObject({ kind: 'order', order: { clientOrderId: 'ew.2' } });
  });

  it('orders not ours: no remark (clientOrderId undefined) or another program\'s remark, listed as they are', async () => {
    const w = await world({ paper: false });
    await w.fake.externalOrder({ acc_id: REAL_HK, symbol: '00700.HK', side: 'buy', qty: 100 });
    await w.fake.externalOrder({ acc_id: REAL_HK, symbol: '000001.SZ', side: 'buy', qty: 100, remark: 'my-phone-app' });
    expect((await w.adapter.orders()).map((o) => [o.symbol, o.clientOrderId, o.state, o.filledQuantity])).toEqual([
      ['00700.HK', undefined, 'filled', 100],
      ['000001.SZ', 'my-phone-app', 'filled', 100],
    ]);
  });
});

describe('FutuAdapter: simulate env (order list polling only)', () => {
  it('a market buy fills at once; nothing is pushed; fills are absent; the order list carries quantity and average', async () => {
    const w = await world();
    expect(w.adapter.fills).toBeUndefined();
    await w.adapter.place(order('ew.3', { quantity: 200 }));
    const [o] = await w.adapter.orders();
    expect(o).toMatchObject({ clientOrderId: 'ew.3', state: 'filled', filledQuantity: 200, avgFillPrice: '1500.5', limitPrice: undefined });
    expect(await w.adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 200, sellable: 0 }]);
    expect(await w.adapter.account()).toEqual({ cash: '699900', buyingPower: '699900' });
    expect((await w.fake.state()).pushes_sent).toBe(0);
    expect(w.pushes).toEqual([]);
  });

  it('with manual fills a market order rests (submitted) until the broker fills it', async () => {
    const w = await world();
    await w.fake.mode({ fill: 'manual' });
    await w.adapter.place(order('ew.20', { symbol: '000001.SZ' }));
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'open', filledQuantity: 0, rawStatus: '5' });
    await w.fake.fill('ew.20', 100, '11.3');
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'filled', filledQuantity: 100, avgFillPrice: '11.3' });
  });

  it('a partial fill shows as open with the cumulative quantity and its average; a broker cancel ends it cancelled', async () => {
    const w = await world();
    await w.adapter.place(order('ew.4', { type: 'limit', limitPrice: '11.2', symbol: '000001.SZ', quantity: 300 }));
    await w.fake.fill('ew.4', 100, '11.2');
    await w.fake.fill('ew.4', 100, '11.1');
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'open', filledQuantity: 200, avgFillPrice: '11.15', rawStatus: '10' });
    await w.fake.cancel('ew.4');
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'cancelled', filledQuantity: 200, rawStatus: '14' });
  });
});

describe('FutuAdapter: cancels and refusals', () => {
  it('cancel (ModifyOrder op 2) ends an open order; a cancel of a filled one is refused with Futu\'s words', async () => {
    const w = await world();
    const { brokerOrderId } = await w.adapter.place(order('ew.5', { type: 'limit', limitPrice: '1400' }));
    await w.adapter.cancel({ brokerOrderId, clientOrderId: 'ew.5' });
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'cancelled', rawStatus: '15' });
    const filled = await w.adapter.place(order('ew.6'));
    const e = await rejection(w.adapter.cancel({ brokerOrderId: filled.brokerOrderId, clientOrderId: 'ew.6' }));
    expect(e).toBeInstanceOf(VenueRefused);
    expect((e as Error).message).toMatch(/Trd_ModifyOrder: the order cannot be cancelled in status 11 \(retType -1\)/);
  });

  it('a slow cancel shows as cancelling until the broker confirms it', async () => {
    const w = await world();
    await w.fake.mode({ slow_cancel: true });
    const { brokerOrderId } = await w.adapter.place(order('ew.7', { type: 'limit', limitPrice: '1400' }));
    await w.adapter.cancel({ brokerOrderId, clientOrderId: 'ew.7' });
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'cancelling', rawStatus: '13' });
    await w.fake.cancel('ew.7');
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'cancelled' });
  });

  it('Futu\'s refusals are VenueRefused with its message and a reason code; nothing is placed', async () => {
    const w = await world();
    const cash = await rejection(w.adapter.place(order('ew.8', { quantity: 1_000 })));
    expect(cash).toBeInstanceOf(VenueRefused);
    expect(cash).toMatchObject({ reason: 'INSUFFICIENT_CASH', message: 'Futu OpenD failed Trd_PlaceOrder: Insufficient buying power (retType -1)' });
    expect(await rejection(w.adapter.place(order('ew.9', { side: 'sell' })))).toMatchObject({ reason: 'INSUFFICIENT_POSITION' });
    expect(await rejection(w.adapter.place(order('ew.10', { quantity: 50 })))).toMatchObject({ reason: 'LOT_SIZE' });
    expect(await rejection(w.adapter.place(order('ew.11', { symbol: '600000.SH' })))).toMatchObject({ reason: 'UNKNOWN_SYMBOL', message: expect.stringMatching(/Unknown stock 600000/) });
    expect(await w.adapter.orders()).toEqual([]);
  });

  it('refused before sending: a symbol of another market, a remark over 64 bytes, a price with 4 decimals', async () => {
    const w = await world();
    const before = (await cmds(w.fake)).length;
    expect(await rejection(w.adapter.place(order('ew.12', { symbol: 'AAPL' })))).toMatchObject({ name: 'VenueRefused', reason: 'UNKNOWN_SYMBOL' });
    expect(await rejection(w.adapter.place(order('é'.repeat(33))))).toMatchObject({ name: 'VenueRefused', message: expect.stringMatching(/66 bytes/) });
    expect(await rejection(w.adapter.place(order('ew.13', { type: 'limit', limitPrice: '1500.1234' })))).toMatchObject({ name: 'VenueRefused', message: expect.stringMatching(/more than 3 decimals/) });
    expect((await cmds(w.fake)).length).toBe(before);
  });

  it('an exchange rejection of a working order: rejected with lastErrMsg; errors by retType: a refused read may be asked again, an OpenD timeout on a write is an unknown outcome', async () => {
    const w = await world();
    await w.adapter.place(order('ew.14', { type: 'limit', limitPrice: '1400' }));
    await w.fake.reject('ew.14', 'price out of the daily band');
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'rejected', message: 'price out of the daily band', rawStatus: '21' });
    await w.fake.fault(2201, { kind: 'error', retType: -1, retMsg: 'busy, try later', errCode: 9 });
    expect(await rejection(w.adapter.orders())).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: true, message: 'Futu OpenD failed Trd_GetOrderList: busy, try later (retType -1, errCode 9)' });
    await w.fake.fault(2202, { kind: 'error', retType: -100, retMsg: 'timeout' });
    expect(await rejection(w.adapter.place(order('ew.15')))).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: false });
    await w.fake.fault(2202, { kind: 'error', retType: -1, retMsg: '请求过于频繁' });
    expect(await rejection(w.adapter.place(order('ew.16')))).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: true });
    await w.fake.fault(2202, { kind: 'error', retType: -1, retMsg: 'Please unlock trade first' });
    expect(await rejection(w.adapter.place(order('ew.17')))).toMatchObject({ name: 'VenueHalted' });
  });
});

describe('FutuAdapter: positions', () => {
  it('shares bought on an earlier day are sellable; an open sell holds its shares back', async () => {
    const w = await world();
    await w.fake.position({ acc_id: '1001', symbol: '600519.SH', qty: 500 });
    await w.fake.position({ acc_id: '1001', symbol: '000001.SZ', qty: 1_000, today: true });
    await w.adapter.place(order('ew.18', { side: 'sell', type: 'limit', limitPrice: '1600', quantity: 200 }));
    expect(await w.adapter.positions()).toEqual([
      { symbol: '600519.SH', quantity: 500, sellable: 300 },
      { symbol: '000001.SZ', quantity: 1_000, sellable: 0 },
    ]);
  });
});

describe('FutuAdapter: a held reply (timeout after commit) is found by remark', () => {
  it('the order exists in orders() while place() failed with an unknown outcome', async () => {
    const w = await world({ paper: false });
    await w.fake.fault(2202, { kind: 'hold' });
    const placed = rejection(w.adapter.place(order('ew.19')));
    await until(async () => (await w.fake.state()).held === 1, 'the held reply');
    w.advance(10_000);
    expect(await placed).toMatchObject({ name: 'VenueUnavailable', outcomeKnown: false });
    expect((await w.adapter.orders()).map((o) => [o.clientOrderId, o.state])).toEqual([['ew.19', 'filled']]);
    // the pushes arrived even though the reply did not
    expect(w.pushes.some((p) => p.kind === 'fill')).toBe(true);
  });
});
