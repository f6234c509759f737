/**
 * Hostile: malformed answers from the terminal bridge (the fake in its own process answers what a
 * broken or hostile bridge would): numbers that are not numbers, negative or absurd prices and
 * quantities, more filled than entrusted. Each must be a VenueUnavailable naming the route, the row
 * and the field; none may come out as an order or a fill the tracker would book.
 */
import { describe, expect, it } from 'vitest';
import { VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import { bridgeWorlds } from '../support/fake-bridge/harness.js';

const world = bridgeWorlds();

const entrust = (over: Record<string, unknown>) => ({ 合同编号: '1', 证券代码: '600519', 操作: '买入', 备注: '已报', 委托时间: '10:00:00', 委托数量: 100, 成交数量: 0, 委托价格: 1700.5, 成交均价: 0, ...over });
const deal = (over: Record<string, unknown>) => ({ 成交编号: '9', 合同编号: '1', 证券代码: '600519', 操作: '买入', 成交数量: 100, 成交价格: 1700.5, 成交时间: '10:00:00', ...over });

const cases: { what: string; path: string; body: unknown; call: 'orders' | 'fills' | 'account' | 'positions'; field: RegExp }[] = [
  { what: 'a deal price of -5', path: '/today_trades', body: [deal({ 成交价格: -5 })], call: 'fills', field: /成交价格/ },
  { what: 'a deal price of 0', path: '/today_trades', body: [deal({ 成交价格: 0 })], call: 'fills', field: /成交价格/ },
  { what: 'a deal price "NaN"', path: '/today_trades', body: [deal({ 成交价格: 'NaN' })], call: 'fills', field: /成交价格/ },
  { what: 'a deal price "Infinity"', path: '/today_trades', body: [deal({ 成交价格: 'Infinity' })], call: 'fills', field: /成交价格/ },
  { what: 'a deal price 1e400 (absurd)', path: '/today_trades', body: [deal({ 成交价格: '1e400' })], call: 'fills', field: /成交价格/ },
  { what: 'a deal quantity "1e2"', path: '/today_trades', body: [deal({ 成交数量: '1e2' })], call: 'fills', field: /成交数量/ },
  { what: 'a deal quantity true', path: '/today_trades', body: [deal({ 成交数量: true })], call: 'fills', field: /成交数量/ },
  { what: 'an entrust quantity of -100', path: '/today_entrusts', body: [entrust({ 委托数量: -100 })], call: 'orders', field: /委托数量/ },
  { what: 'an entrust quantity of 0', path: '/today_entrusts', body: [entrust({ 委托数量: 0 })], call: 'orders', field: /委托数量/ },
  { what: 'more filled than entrusted', path: '/today_entrusts', body: [entrust({ 成交数量: 300, 备注: '部成' })], call: 'orders', field: /成交数量/ },
  { what: 'a negative filled quantity', path: '/today_entrusts', body: [entrust({ 成交数量: -100, 备注: '部成' })], call: 'orders', field: /成交数量/ },
  { what: 'a limit price "NaN"', path: '/today_entrusts', body: [entrust({ 委托价格: 'NaN' })], call: 'orders', field: /委托价格/ },
  { what: 'an entrust number that is an object', path: '/today_entrusts', body: [entrust({ 合同编号: { a: 1 } })], call: 'orders', field: /合同编号/ },
  { what: 'an empty entrust number', path: '/today_entrusts', body: [entrust({ 合同编号: '' })], call: 'orders', field: /合同编号/ },
  { what: 'two entrusts with one number', path: '/today_entrusts', body: [entrust({}), entrust({ 证券代码: '600036' })], call: 'orders', field: /合同编号/ },
  { what: 'a cash of "NaN"', path: '/balance', body: { 资金余额: 'NaN', 可用金额: 1 }, call: 'account', field: /资金余额/ },
  { what: 'a negative cash', path: '/balance', body: { 资金余额: -1000, 可用金额: 1 }, call: 'account', field: /资金余额/ },
  { what: 'a position of 100.5 shares', path: '/position', body: [{ 证券代码: '600519', 股票余额: 100.5, 可用余额: 0 }], call: 'positions', field: /股票余额/ },
];

describe('hostile: malformed bridge answers', () => {
  it.each(cases)('$what: VenueUnavailable naming the field', async (c) => {
    const w = await world();
    await w.fake.fault(c.path, { kind: 'body', body: c.body });
    const got = await w.adapter[c.call]().then(
      (v) => ({ resolved: JSON.stringify(v) }),
      (e: Error) => ({ error: e instanceof VenueUnavailable ? 'VenueUnavailable' : e.constructor.name, message: e.message }),
    );
    expect(got).toMatchObject({ error: 'VenueUnavailable', message: expect.stringMatching(c.field) });
  });
});
