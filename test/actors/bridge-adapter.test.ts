/**
 * BridgeAdapter against the fake terminal bridge (easytrader's server shape) in a child process:
 * prepare, parsing the terminal's tables (numbers and strings, other clients' column names),
 * orders and their fills, cancels, and every refusal pattern as the terminal words it.
 */
import { describe, expect, it } from 'vitest';
import { VenueRefused } from '../../src/actors/brokers/venue-adapter.js';
import { bridgeWorlds, failure, order, T0 } from '../support/fake-bridge/harness.js';

const world = bridgeWorlds();

describe('BridgeAdapter: connect', () => {
  it('prepares the bridge with the client type and the login, then reads the balance', async () => {
    const w = await world({ fake: { client: 'ths', user: '880001', password: 'pw-1' }, adapter: { client: 'ths', login: { user: '880001', password: 'pw-1', exePath: 'C:\\ths\\xiadan.exe' } } });
    const s = await w.fake.state();
    expect(s.prepared).toBe(true);
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /prepare', 'GET /balance']);
    expect(s.requests[0]!.body).toEqual({ broker: 'ths', user: '880001', password: 'pw-1', exe_path: 'C:\\ths\\xiadan.exe' });
  });

  it('sends miniQMT its folder and fund account under kwargs', async () => {
    const w = await world({ fake: { client: 'miniqmt', columns: 'miniqmt', user: '880002' }, adapter: { client: 'miniqmt', login: { user: '880002', miniqmtPath: 'D:\\qmt\\userdata_mini' } } });
    expect((await w.fake.state()).requests[0]!.body).toEqual({ broker: 'miniqmt', user: '880002', kwargs: { miniqmt_path: 'D:\\qmt\\userdata_mini', stock_account: '880002' } });
  });

  it('with prepare: false sends no /prepare, and a bridge nobody prepared says so', async () => {
    const w = await world({ adapter: { login: undefined }, connect: false });
    const e = await failure(w.adapter.connect());
    expect(e.message).toMatch(/not prepared.*prepare \(log in\) the bridge again yourself/);
    expect((await w.fake.state()).requests.map((r) => r.path)).toEqual(['/balance']);
  });

  it('prepares again, once, when the bridge lost its login in a restart, and the request goes through', async () => {
    const w = await world();
    await w.fake.restart();
    await w.adapter.place(order());
    const s = await w.fake.state();
    expect(s.requests.map((r) => `${r.method} ${r.path} ${r.status}`).slice(2)).toEqual(['POST /buy 400', 'POST /prepare 201', 'POST /buy 201']);
    expect(s.entrusts).toHaveLength(1);
  });
});

describe('BridgeAdapter: account and positions', () => {
  it('reads the balance (numbers) and positions with T+1 sellable shares', async () => {
    const w = await world({ fake: { cash: '200000.25' } });
    await w.fake.position('600519', 300, { cost: '1600' });
    await w.fake.price('600519', '1700');
    await w.fake.mode({ fill: 'auto' });
    await w.adapter.place(order({ quantity: 100, limitPrice: '1700.00' })); // fills at once: today's shares, not sellable
    expect(await w.adapter.account()).toEqual({ cash: '30000.25', buyingPower: '30000.25' });
    expect(await w.adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 400, sellable: 300 }]);
  });

  it('reads another client: values as strings kept as written, the CNY row of a list, 当前持仓 / 可卖数量', async () => {
    const w = await world({ fake: { columns: 'alt', cash: '50000' } });
    await w.fake.position('000001', 1000);
    await w.adapter.place(order({ symbol: '000001.SZ', side: 'sell', quantity: 200, limitPrice: '11.5' }));
    await w.adapter.place(order({ symbol: '300750.SZ', quantity: 100, limitPrice: '250.1' }));
    expect(await w.adapter.account()).toEqual({ cash: '50000.00', buyingPower: '24990.00' });
    expect(await w.adapter.positions()).toEqual([{ symbol: '000001.SZ', quantity: 1000, sellable: 800 }]);
  });

  it('reads miniQMT: cash is the free part, frozen_cash added back; stock_code with its suffix', async () => {
    const w = await world({ fake: { client: 'miniqmt', columns: 'miniqmt', cash: '20000' }, adapter: { client: 'miniqmt' } });
    await w.fake.position('688981', 500);
    await w.adapter.place(order({ symbol: '688981.SH', quantity: 200, limitPrice: '80.12' }));
    expect(await w.adapter.account()).toEqual({ cash: '20000', buyingPower: '3976' });
    expect(await w.adapter.positions()).toEqual([{ symbol: '688981.SH', quantity: 500, sellable: 500 }]);
  });
});

describe('BridgeAdapter: orders and fills', () => {
  it('a buy is an entrust in today_entrusts, without our client order id, at the limit, stamped in Shanghai time', async () => {
    const w = await world();
    await w.fake.clock(T0 + 65_000); // 10:01:05 Shanghai
    const { brokerOrderId } = await w.adapter.place(order());
    expect(brokerOrderId).toBe('1001');
    expect((await w.fake.state()).requests.at(-1)!.body).toEqual({ security: '600519', price: 1700.5, amount: 100 });
    expect(await w.adapter.orders()).toEqual([
      { brokerOrderId: '1001', clientOrderId: undefined, symbol: '600519.SH', side: 'buy', quantity: 100, limitPrice: '1700.5', filledQuantity: 0, state: 'open', rawStatus: '已报', createdAtMs: T0 + 65_000 },
    ]);
  });

  it('partial fills show in the entrust (部成, average) and as deals in today_trades', async () => {
    const w = await world();
    const { brokerOrderId } = await w.adapter.place(order({ quantity: 300, limitPrice: '1700' }));
    await w.fake.clock(T0 + 1_000);
    await w.fake.fill(brokerOrderId, 100, '1699.5');
    await w.fake.clock(T0 + 2_000);
    await w.fake.fill(brokerOrderId, 100, '1699.75');
    const [o] = await w.adapter.orders();
    expect(o).toMatchObject({ state: 'open', rawStatus: '部成', filledQuantity: 200, avgFillPrice: '1699.625' });
    expect(await w.adapter.fills()).toEqual([
      { fillId: '2025-11-07.1001.5001', brokerOrderId: '1001', quantity: 100, price: '1699.5', atMs: T0 + 1_000 },
      { fillId: '2025-11-07.1001.5002', brokerOrderId: '1001', quantity: 100, price: '1699.75', atMs: T0 + 2_000 },
    ]);
    await w.fake.fill(brokerOrderId);
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'filled', rawStatus: '已成', filledQuantity: 300 });
  });

  it('a cancel: 已撤; after a partial fill 部撤 (cancelled, with what filled); a pending cancel is cancelling', async () => {
    const w = await world();
    const a = await w.adapter.place(order({ clientOrderId: 'ew.a' }));
    const b = await w.adapter.place(order({ clientOrderId: 'ew.b', quantity: 200 }));
    await w.fake.fill(b.brokerOrderId, 100);
    await w.adapter.cancel({ brokerOrderId: a.brokerOrderId, clientOrderId: 'ew.a' });
    await w.adapter.cancel({ brokerOrderId: b.brokerOrderId, clientOrderId: 'ew.b' });
    await w.fake.mode({ cancel: 'pending' });
    const c = await w.adapter.place(order({ clientOrderId: 'ew.c' }));
    await w.adapter.cancel({ brokerOrderId: c.brokerOrderId, clientOrderId: 'ew.c' });
    expect((await w.adapter.orders()).map((o) => [o.brokerOrderId, o.state, o.rawStatus, o.filledQuantity])).toEqual([
      ['1001', 'cancelled', '已撤', 0],
      ['1002', 'cancelled', '部撤', 100],
      ['1003', 'cancelling', '已报待撤', 0],
    ]);
    await w.fake.confirmCancel(c.brokerOrderId);
    expect((await w.adapter.orders())[2]!.state).toBe('cancelled');
    expect((await w.fake.state()).requests.filter((r) => r.path === '/cancel_entrust').map((r) => r.body)).toEqual([{ entrust_no: '1001' }, { entrust_no: '1002' }, { entrust_no: '1003' }]);
  });

  it('a cancel the terminal refuses (already filled) is VenueRefused with its words', async () => {
    const w = await world();
    const { brokerOrderId } = await w.adapter.place(order());
    await w.fake.fill(brokerOrderId);
    const e = await failure(w.adapter.cancel({ brokerOrderId, clientOrderId: 'ew.1' }));
    expect(e).toBeInstanceOf(VenueRefused);
    expect(e.message).toContain('委托单状态错误不能撤单');
  });

  it('the exchange ends entrusts itself: 废单 is rejected with its reason, an exchange cancel is cancelled', async () => {
    const w = await world();
    const a = await w.adapter.place(order({ clientOrderId: 'ew.a' }));
    const b = await w.adapter.place(order({ clientOrderId: 'ew.b' }));
    await w.fake.reject(a.brokerOrderId, '证券停牌');
    await w.fake.exchangeCancel(b.brokerOrderId);
    expect((await w.adapter.orders()).map((o) => [o.state, o.message])).toEqual([
      ['rejected', '证券停牌'],
      ['cancelled', '已撤'],
    ]);
  });

  it('an entrust someone made at the terminal is listed too (a sell)', async () => {
    const w = await world();
    await w.fake.position('601318', 500);
    await w.fake.externalOrder({ security: '601318', side: 'sell', price: '55.2', amount: 200 });
    expect(await w.adapter.orders()).toMatchObject([{ brokerOrderId: '1001', clientOrderId: undefined, symbol: '601318.SH', side: 'sell', quantity: 200, limitPrice: '55.2' }]);
  });

  it('another client: 委托编号 / 买卖标志 / 委托状态 / 委托日期 + HHMMSS, strings kept as written', async () => {
    const w = await world({ fake: { columns: 'alt' } });
    await w.fake.clock(T0 + 3_723_000); // 11:02:03
    const a = await w.adapter.place(order({ quantity: 200, limitPrice: '1700.5' }));
    await w.fake.fill(a.brokerOrderId, 100, '1700.25');
    expect(await w.adapter.orders()).toEqual([
      { brokerOrderId: '1001', clientOrderId: undefined, symbol: '600519.SH', side: 'buy', quantity: 200, limitPrice: '1700.50', filledQuantity: 100, avgFillPrice: '1700.250', state: 'open', rawStatus: '部分成交', createdAtMs: T0 + 3_723_000 },
    ]);
    expect(await w.adapter.fills()).toEqual([{ fillId: '2025-11-07.1001.5001', brokerOrderId: '1001', quantity: 100, price: '1700.250', atMs: T0 + 3_723_000 }]);
    await w.adapter.cancel({ brokerOrderId: a.brokerOrderId, clientOrderId: 'ew.1' });
    expect((await w.adapter.orders())[0]).toMatchObject({ state: 'cancelled', rawStatus: '部分撤单' });
  });

  it('miniQMT: numeric entrust numbers (sent back as numbers to cancel), epoch-second times, a refusal as a 废单 entrust', async () => {
    const w = await world({ fake: { client: 'miniqmt', columns: 'miniqmt', cash: '10000' }, adapter: { client: 'miniqmt' } });
    await w.fake.clock(T0 + 5_000);
    const a = await w.adapter.place(order({ symbol: '000001.SZ', quantity: 500, limitPrice: '11.2' }));
    const b = await w.adapter.place(order({ symbol: '000001.SZ', quantity: 1000, limitPrice: '11.2' })); // more than the cash left
    await w.fake.fill(a.brokerOrderId, 200, '11.19');
    await w.adapter.cancel({ brokerOrderId: a.brokerOrderId, clientOrderId: 'ew.1' });
    expect((await w.fake.state()).requests.filter((r) => r.path === '/cancel_entrust').map((r) => r.body)).toEqual([{ entrust_no: 1001 }]);
    expect((await w.adapter.orders()).map((o) => [o.brokerOrderId, o.symbol, o.state, o.rawStatus, o.filledQuantity, o.avgFillPrice, o.message, o.createdAtMs])).toEqual([
      [a.brokerOrderId, '000001.SZ', 'cancelled', '部撤', 200, '11.19', '部撤', T0 + 5_000],
      [b.brokerOrderId, '000001.SZ', 'rejected', '废单', 0, undefined, '可用资金不足', T0 + 5_000],
    ]);
    expect(await w.adapter.fills()).toEqual([{ fillId: '2025-11-07.1001.5001', brokerOrderId: '1001', quantity: 200, price: '11.19', atMs: T0 + 5_000 }]);
  });

  it('today only: the next day lists no entrusts and yesterday\'s buys become sellable', async () => {
    const w = await world();
    await w.fake.mode({ fill: 'auto' });
    await w.fake.price('600519', '1700');
    await w.adapter.place(order({ limitPrice: '1700' }));
    expect(await w.adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 100, sellable: 0 }]);
    await w.fake.nextDay(T0 + 3 * 86_400_000); // Monday
    expect(await w.adapter.orders()).toEqual([]);
    expect(await w.adapter.positions()).toEqual([{ symbol: '600519.SH', quantity: 100, sellable: 100 }]);
  });
});

describe('BridgeAdapter: refusals', () => {
  const cases: { what: string; setup?: (w: Awaited<ReturnType<typeof world>>) => Promise<unknown>; order: Parameters<typeof order>[0]; reason: string; words: RegExp }[] = [
    { what: 'no cash', order: { quantity: 1000, limitPrice: '1700' }, reason: 'INSUFFICIENT_CASH', words: /可用资金不足/ },
    { what: 'no shares to sell (T+1: none bought before today)', order: { side: 'sell' }, reason: 'INSUFFICIENT_POSITION', words: /可用股份不足/ },
    { what: 'not a lot of 100', order: { quantity: 150 }, reason: 'LOT_SIZE', words: /100股的整数倍/ },
    { what: 'above the limit-up price', setup: (w) => w.fake.price('600519', undefined, '1600'), order: { limitPrice: '1760.01' }, reason: 'PRICE_LIMIT', words: /涨停/ },
    { what: 'below the limit-down price', setup: (w) => w.fake.price('600519', undefined, '1600'), order: { limitPrice: '1439.99' }, reason: 'PRICE_LIMIT', words: /跌停/ },
    { what: 'outside trading hours', setup: (w) => w.fake.clock(T0 + 6 * 3_600_000), order: {}, reason: 'MARKET_CLOSED', words: /非交易时间/ },
    { what: 'anything else', order: { limitPrice: '1700.505' }, reason: 'BROKER_REJECTED', words: /小数部分/ },
  ];
  it.each(cases)('$what -> VenueRefused $reason with the terminal\'s words, and no entrust', async (c) => {
    const w = await world({ fake: { cash: '1000000' } });
    await c.setup?.(w);
    const e = await failure(w.adapter.place(order(c.order)));
    expect(e).toBeInstanceOf(VenueRefused);
    expect((e as VenueRefused).reason).toBe(c.reason);
    expect(e.message).toMatch(c.words);
    expect((await w.fake.state()).entrusts).toEqual([]);
  });

  it('refuses before sending: a market order without a price source, a symbol that is not an A-share, a code on the wrong exchange', async () => {
    const w = await world();
    const market = await failure(w.adapter.place(order({ type: 'market', limitPrice: undefined })));
    expect([market.constructor.name, (market as VenueRefused).reason, market.message]).toEqual(['VenueRefused', 'BROKER_REJECTED', expect.stringMatching(/limit orders only/)]);
    expect(((await failure(w.adapter.place(order({ symbol: 'AAPL' })))) as VenueRefused).reason).toBe('UNKNOWN_SYMBOL');
    expect(((await failure(w.adapter.place(order({ symbol: '600519.SZ' })))) as VenueRefused).reason).toBe('UNKNOWN_SYMBOL');
    expect((await w.fake.state()).requests.filter((r) => r.path === '/buy')).toEqual([]);
  });

  it('a market order goes as a limit at the price the caller gives; none now is NO_PRICE', async () => {
    let price: string | undefined = '1702.3';
    const w = await world({ adapter: { marketPrice: () => price } });
    expect(await w.adapter.place(order({ type: 'market', limitPrice: undefined }))).toEqual({ brokerOrderId: '1001' });
    expect((await w.fake.state()).requests.at(-1)!.body).toEqual({ security: '600519', price: 1702.3, amount: 100 });
    price = undefined;
    expect(((await failure(w.adapter.place(order({ type: 'market', limitPrice: undefined })))) as VenueRefused).reason).toBe('NO_PRICE');
  });
});
