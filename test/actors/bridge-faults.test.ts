/**
 * BridgeAdapter's failure classes against the fake bridge in a child process: what the caller
 * must do after each (venue-adapter.ts): a held answer after the entrust was made, 5xx, a dropped
 * connection, nobody listening, a refused token or login, and answers that are not what the
 * route answers (each names its field).
 */
import { describe, expect, it } from 'vitest';
import { BridgeAdapter } from '../../src/actors/brokers/bridge/adapter.js';
import { VenueHalted, VenueRefused, VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { FakeBridgeProcess } from '../support/fake-bridge/process.js';
import { bridgeWorlds, failure, order, T0, TIMEOUT_MS, until } from '../support/fake-bridge/harness.js';

const world = bridgeWorlds();

const unavailable = (e: Error): [string, boolean | undefined] => [e.constructor.name, e instanceof VenueUnavailable ? e.outcomeKnown : undefined];

describe('BridgeAdapter: lost answers', () => {
  it('a /buy whose answer never comes (the entrust IS made): VenueUnavailable, outcome unknown, and the entrust is in orders()', async () => {
    const w = await world();
    await w.fake.fault('/buy', { kind: 'hold' });
    const placing = failure(w.adapter.place(order()));
    await until(async () => (await w.fake.state()).held === 1, 'the fake to hold the /buy');
    w.scheduler.advanceTo(T0 + TIMEOUT_MS);
    const e = await placing;
    expect(unavailable(e)).toEqual(['VenueUnavailable', false]);
    expect(e.message).toMatch(/no answer within 10000 ms; the outcome is unknown/);
    expect(await w.adapter.orders()).toMatchObject([{ brokerOrderId: '1001', symbol: '600519.SH', side: 'buy', quantity: 100, limitPrice: '1700.5', clientOrderId: undefined }]);
  });

  it('a dropped connection after the entrust was made: outcome unknown; the entrust is there', async () => {
    const w = await world();
    await w.fake.fault('/sell', { kind: 'drop', commit: true });
    await w.fake.position('600519', 100);
    expect(unavailable(await failure(w.adapter.place(order({ side: 'sell' }))))).toEqual(['VenueUnavailable', false]);
    expect((await w.adapter.orders()).map((o) => [o.side, o.quantity])).toEqual([['sell', 100]]);
  });

  it('500 on the next requests: VenueUnavailable (outcome unknown for a buy), then the bridge answers again', async () => {
    const w = await world();
    await w.fake.fault('*', { kind: 'status', status: 500 }, 2);
    const buy = await failure(w.adapter.place(order()));
    expect(unavailable(buy)).toEqual(['VenueUnavailable', false]);
    expect(buy.message).toContain('500');
    expect((await failure(w.adapter.orders())).constructor.name).toBe('VenueUnavailable');
    expect(await w.adapter.orders()).toEqual([]);
  });

  it('the automation broke mid-way (a pywinauto error on /buy): outcome unknown, not a refusal', async () => {
    const w = await world();
    await w.fake.fault('/buy', { kind: 'status', status: 400, body: { error: "<class 'pywinauto.findwindows.ElementNotFoundError'>: {'class_name': '#32770'}" } });
    const e = await failure(w.adapter.place(order()));
    expect(unavailable(e)).toEqual(['VenueUnavailable', false]);
    expect(e.message).toMatch(/may have been made/);
  });

  it('easytrader answered {"message": "success"} without an entrust number: outcome unknown', async () => {
    const w = await world();
    await w.fake.fault('/buy', { kind: 'body', body: { message: 'success' } });
    const e = await failure(w.adapter.place(order()));
    expect(unavailable(e)).toEqual(['VenueUnavailable', false]);
    expect(e.message).toMatch(/without an entrust number/);
  });

  it('miniQMT\'s entrust_no -1 (not taken) is a refusal', async () => {
    const w = await world();
    await w.fake.fault('/buy', { kind: 'body', body: { entrust_no: -1 } });
    expect(await failure(w.adapter.place(order()))).toBeInstanceOf(VenueRefused);
  });
});

describe('BridgeAdapter: nobody there, wrong credentials', () => {
  it('connection refused (no bridge listening): VenueUnavailable with outcome known, nothing was sent', async () => {
    const gone = await FakeBridgeProcess.start();
    await gone.stop();
    const adapter = new BridgeAdapter({ baseUrl: gone.url, client: 'universal_client', scheduler: new EpochVirtualScheduler(T0) });
    const e = await failure(adapter.place(order()));
    expect(unavailable(e)).toEqual(['VenueUnavailable', true]);
    expect(e.message).toMatch(/ECONNREFUSED.*nothing was sent/);
  });

  it('a token the guard refuses is VenueHalted (never the token in the message); the right one passes', async () => {
    const w = await world({ fake: { token: 'tok-right-123' }, adapter: { token: 'tok-wrong-456' }, connect: false });
    const e = await failure(w.adapter.connect());
    expect(e).toBeInstanceOf(VenueHalted);
    expect(e.message).toMatch(/401/);
    expect(e.message).not.toContain('tok-');
    await w.another({ token: 'tok-right-123' }).connect();
  });

  it('a login the terminal refuses is VenueHalted (a retried bad password locks the account); the password is not in the message', async () => {
    const w = await world({ fake: { user: '880001', password: 'right-pw' }, adapter: { login: { user: '880001', password: 'wrong-pw' } }, connect: false });
    const e = await failure(w.adapter.connect());
    expect(e).toBeInstanceOf(VenueHalted);
    expect(e.message).toMatch(/login failed: 登录失败/);
    expect(e.message).not.toContain('-pw');
  });

  it('a route the bridge does not have (404): VenueUnavailable, outcome known', async () => {
    const w = await world();
    await w.fake.fault('/today_trades', { kind: 'status', status: 404, body: 'Not Found' });
    const e = await failure(w.adapter.fills());
    expect(unavailable(e)).toEqual(['VenueUnavailable', true]);
    expect(e.message).toMatch(/no such route/);
  });
});

describe('BridgeAdapter: answers that are not what the route answers', () => {
  const cases: { what: string; path: string; fault: { body?: unknown; raw?: string }; call: 'orders' | 'fills' | 'account' | 'positions'; words: RegExp }[] = [
    { what: 'an entrust without 委托数量', path: '/today_entrusts', fault: { body: [{ 合同编号: '1', 证券代码: '600519', 操作: '买入', 备注: '已报', 委托时间: '10:00:00', 成交数量: 0 }] }, call: 'orders', words: /row 0: no quantity \(expected a column 委托数量 \/ 申报数量/ },
    { what: 'a quantity that is not whole', path: '/today_entrusts', fault: { body: [{ 合同编号: '1', 证券代码: '600519', 操作: '买入', 备注: '已报', 委托时间: '10:00:00', 委托数量: '100.5' }] }, call: 'orders', words: /row 0: 委托数量 \(quantity\): expected a whole number of shares, got "100.5"/ },
    { what: 'an operation that is neither buy nor sell', path: '/today_entrusts', fault: { body: [{ 合同编号: '1', 证券代码: '600519', 操作: '???', 备注: '已报', 委托时间: '10:00:00', 委托数量: 100 }] }, call: 'orders', words: /操作 \(side\): expected a buy or a sell/ },
    { what: 'a time in no known form', path: '/today_entrusts', fault: { body: [{ 合同编号: '1', 证券代码: '600519', 操作: '买入', 备注: '已报', 委托时间: 'noon', 委托数量: 100 }] }, call: 'orders', words: /委托时间 \(time\): expected a time/ },
    { what: 'a deal price that is not a number', path: '/today_trades', fault: { body: [{ 成交编号: '9', 合同编号: '1', 证券代码: '600519', 操作: '买入', 成交数量: 100, 成交价格: 'abc', 成交时间: '10:00:00' }] }, call: 'fills', words: /成交价格 \(price\): expected a decimal number, got "abc"/ },
    { what: 'a balance without 资金余额', path: '/balance', fault: { body: { 总资产: 1 } }, call: 'account', words: /GET \/balance: no cash/ },
    { what: 'positions that are not a list', path: '/position', fault: { body: { 证券代码: '600519' } }, call: 'positions', words: /GET \/position: expected a list of rows, got an object/ },
    { what: 'an unknown code', path: '/position', fault: { body: [{ 证券代码: 'XYZ', 股票余额: 100, 可用余额: 100 }] }, call: 'positions', words: /证券代码 \(code\): expected an A-share code/ },
    { what: 'more sellable than held', path: '/position', fault: { body: [{ 证券代码: '600519', 股票余额: 100, 可用余额: 200 }] }, call: 'positions', words: /可用余额 \(sellable\): expected 0 to 100/ },
    { what: 'a body that is not JSON', path: '/today_trades', fault: { raw: '<html>oops</html>' }, call: 'fills', words: /is not JSON/ },
  ];
  it.each(cases)('$what: VenueUnavailable naming the field', async (c) => {
    const w = await world();
    await w.fake.fault(c.path, { kind: 'body', ...c.fault });
    const e = await failure(w.adapter[c.call]());
    expect(e).toBeInstanceOf(VenueUnavailable);
    expect(e.message).toMatch(c.words);
  });
});
