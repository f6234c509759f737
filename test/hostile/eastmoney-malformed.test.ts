/**
 * Hostile: malformed answers from EastMoney's routes (the fake in its own process answers what a
 * changed or broken site would): a deal at a negative or zero price, an entrust of 0 shares, more
 * filled than entrusted. Each must be a VenueUnavailable naming the field; none may come out as a
 * fill or an order the tracker would book.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';
import { adapterFor, T0 } from '../support/fake-eastmoney/harness.js';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';

let fake: FakeEastMoneyProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

const deal = (over: Record<string, string>) => ({ Cjrq: '20251107', Cjsj: '100000', Cjbh: '50001', Wtbh: '1001', Zqdm: '600519', Zqmc: '贵州茅台', Mmlb: 'B', Mmsm: '证券买入', Cjsl: '100', Cjjg: '1500.00', Cjje: '150000.00', Market: 'HA', ...over });
const entrust = (over: Record<string, string>) => ({ Wtrq: '20251107', Wtsj: '100000', Wtbh: '1001', Zqdm: '600519', Zqmc: '贵州茅台', Mmsm: '证券买入', Mmlb: 'B', Wtsl: '100', Wtjg: '1500.00', Cjsl: '0', Cjjg: '0.000', Cjje: '0.00', Wtzt: '已报', Market: 'HA', Gddm: 'A123456789', ...over });
const page = (rows: unknown[]) => JSON.stringify({ Status: 0, Message: null, Errcode: 0, Data: rows });

const cases: { what: string; path: string; body: string; call: 'orders' | 'fills'; field: RegExp }[] = [
  { what: 'a deal at -5', path: '/Search/GetDealData', body: page([deal({ Cjjg: '-5' })]), call: 'fills', field: /Cjjg/ },
  { what: 'a deal at 0', path: '/Search/GetDealData', body: page([deal({ Cjjg: '0' })]), call: 'fills', field: /Cjjg/ },
  { what: 'an entrust of 0 shares', path: '/Search/GetOrdersData', body: page([entrust({ Wtsl: '0' })]), call: 'orders', field: /Wtsl/ },
  { what: 'more filled than entrusted', path: '/Search/GetOrdersData', body: page([entrust({ Cjsl: '300', Cjjg: '1500.000', Wtzt: '部成' })]), call: 'orders', field: /Cjsl/ },
  { what: 'an entrust limit of -1500', path: '/Search/GetOrdersData', body: page([entrust({ Wtjg: '-1500.00' })]), call: 'orders', field: /Wtjg/ },
];

describe('hostile: malformed EastMoney answers', () => {
  it.each(cases)('$what: VenueUnavailable naming the field', async (c) => {
    fake = await FakeEastMoneyProcess.start({ startMs: T0 });
    const { adapter } = adapterFor(fake);
    await adapter.connect();
    await fake.fault(c.path, { kind: 'body', body: c.body, contentType: 'application/json' });
    const got = await adapter[c.call]().then(
      (v) => ({ resolved: JSON.stringify(v) }),
      (e: Error) => ({ error: e instanceof VenueUnavailable ? 'VenueUnavailable' : e.constructor.name, message: e.message }),
    );
    adapter.close();
    expect(got).toMatchObject({ error: 'VenueUnavailable', message: expect.stringMatching(c.field) });
  });
});
