import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BrokerUpdate } from '../../src/actors/brokers/broker.js';
import { SimulatedBroker, type SimulatedBrokerOptions, type SimulatedBrokerState } from '../../src/actors/brokers/simulated-broker.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { Events } from '../../src/domain/messages.js';
import { dec, type Dec } from '../../src/domain/money.js';
import type { OrderRequest } from '../../src/domain/orders.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { REASONS, type ReasonCode } from '../../src/domain/reasons.js';
import { AI_TRADER } from '../support/fixtures.js';

const DATA = AI_TRADER;
let cnDaily: PriceStore;
let cnHourly: PriceStore;
let usHourly: PriceStore;

beforeAll(async () => {
  [cnDaily, cnHourly, usHourly] = await Promise.all([
    loadPriceStore(new URL('cn/sse50_daily.jsonl', DATA)),
    loadPriceStore(new URL('cn/sse50_60min.jsonl', DATA)),
    loadPriceStore(new URL('us/nasdaq100_60min.jsonl', DATA)),
  ]);
}, 60_000);

const SH = 'Asia/Shanghai';
const NY = 'America/New_York';
const sh = (iso: string) => DateTime.fromISO(iso, { zone: SH });
const ny = (iso: string) => DateTime.fromISO(iso, { zone: NY });

/** Every reason code some case below produced (checked at the end). */
const produced = new Set<ReasonCode>();

interface Venue {
  readonly broker: SimulatedBroker;
  readonly updates: BrokerUpdate[];
  at(t: DateTime): void;
  /** Submit and return the updates this submit emitted (synchronously). */
  submit(o: Partial<OrderRequest>): Promise<BrokerUpdate[]>;
  cash(account?: string): Promise<string>;
}

let seq = 0;
function venue(start: DateTime, opts: Partial<SimulatedBrokerOptions> & Pick<SimulatedBrokerOptions, 'store'>): Venue {
  let t = start;
  const broker = new SimulatedBroker({ market: 'cn', accounts: { s: { cash: '100000' } }, now: () => t, ...opts });
  const updates: BrokerUpdate[] = [];
  broker.updates$.subscribe((u) => {
    // every update is a valid message of its type
    Events[u.type].parse(u);
    if (u.type === 'broker.rejected') produced.add(u.reason);
    updates.push(u);
  });
  return {
    broker,
    updates,
    at: (next) => {
      t = next;
    },
    submit: async (o) => {
      const before = updates.length;
      await broker.submit({ clientOrderId: `cid-${++seq}`, signature: 's', side: 'buy', symbol: '600028.SH', quantity: 100, type: 'market', ...o });
      return updates.slice(before);
    },
    cash: async (account = 's') => (await broker.balance(account)).cash,
  };
}

const fillOf = (us: BrokerUpdate[]) => us.find((u) => u.type === 'broker.fill')?.fill;
const rejection = (us: BrokerUpdate[]) => {
  const r = us.find((u) => u.type === 'broker.rejected');
  return r ? { reason: r.reason, message: r.message } : undefined;
};

/** Books with shares bought before the test's day (so they are sellable). */
const holding = (cash: string, lots: Record<string, number>): SimulatedBrokerState => ({
  accounts: { s: { cash, lots: Object.fromEntries(Object.entries(lots).map(([s, q]) => [s, [{ quantity: q, day: '2025-10-01' }]])) } },
  orders: [],
  liquidity: {},
});

// ---------------------------------------------------------------------------------------

describe('strict rules, A-shares, daily bars', () => {
  it('a market buy fills at the open of the session in progress, with fees, and the venue books it', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    const us = await v.submit({ clientOrderId: 'buy-1' });
    expect(us.map((u) => u.type)).toEqual(['broker.accepted', 'broker.fill']);
    expect(us[0]).toMatchObject({ brokerOrderId: 'sim:buy-1', tsEvent: sh('2025-10-10T09:35').toMillis() });
    // open 5.34 (the close 5.37 is not known at 09:35); fees: commission min 5.00 + transfer 0.01
    expect(fillOf(us)).toEqual({ fillId: 'buy-1#1', quantity: 100, price: '5.34', fee: '5.01', atMs: sh('2025-10-10T09:35').toMillis() });
    expect(await v.cash()).toBe('99460.99');
    expect(await v.broker.positions('s')).toEqual([{ symbol: '600028.SH', quantity: 100, sellable: 0 }]);
    expect(await v.broker.status('buy-1')).toEqual({
      clientOrderId: 'buy-1',
      status: 'filled',
      brokerOrderId: 'sim:buy-1',
      fills: [fillOf(us)],
    });
  });

  it('slippage moves the price against the order, rounded to the tick (buys up, sells down)', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily, slippageBps: 10 });
    expect(fillOf(await v.submit({}))?.price).toBe('5.35'); // 5.34 x 1.001 = 5.34534 -> 5.35
    v.at(sh('2025-10-13T09:35'));
    expect(fillOf(await v.submit({ side: 'sell' }))?.price).toBe('5.29'); // 5.30 x 0.999 = 5.2947 -> 5.29
  });

  it('T+1: shares bought today cannot be sold today, and can on the next trading day', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({});
    expect(rejection(await v.submit({ side: 'sell' }))).toEqual({
      reason: 'T_PLUS_ONE',
      message:
        'T_PLUS_ONE: selling 100 shares of 600028.SH: 100 of the 100 held were bought today (2025-10-10) and cannot be sold before the next trading day; 0 can be sold now',
    });
    v.at(sh('2025-10-13T09:35')); // Friday -> Monday
    expect(await v.broker.positions('s')).toEqual([{ symbol: '600028.SH', quantity: 100, sellable: 100 }]);
    expect(fillOf(await v.submit({ side: 'sell' }))).toMatchObject({ quantity: 100, price: '5.3' });
    expect(await v.broker.positions('s')).toEqual([]);
  });

  it('lots: a buy of 150 is refused, 100 and 200 pass', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    expect(rejection(await v.submit({ quantity: 150 }))).toEqual({
      reason: 'LOT_SIZE',
      message: 'LOT_SIZE: 150 shares of 600028.SH is not a multiple of 100',
    });
    expect(rejection(await v.submit({ quantity: 99 }))?.reason).toBe('LOT_SIZE');
    expect(rejection(await v.submit({ quantity: 101 }))?.reason).toBe('LOT_SIZE');
    expect(fillOf(await v.submit({ quantity: 100 }))?.quantity).toBe(100);
    expect(fillOf(await v.submit({ quantity: 200 }))?.quantity).toBe(200);
  });

  it('odd lots: a whole odd position may be sold, a split of its odd remainder may not', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily, state: holding('0', { '600028.SH': 250 }) });
    expect(rejection(await v.submit({ side: 'sell', quantity: 130 }))?.reason).toBe('LOT_SIZE');
    const fill = fillOf(await v.submit({ side: 'sell', quantity: 250 }));
    // 250 x 5.34 = 1335: commission min 5 + stamp 0.6675 -> 0.67 + transfer 0.01335 -> 0.01
    expect(fill).toMatchObject({ quantity: 250, price: '5.34', fee: '5.68' });
    expect(await v.cash()).toBe('1329.32');
  });

  it('unknown symbols, a day before the data, closed hours', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    expect(rejection(await v.submit({ symbol: '000001.SZ' }))).toEqual({
      reason: 'UNKNOWN_SYMBOL',
      message: 'UNKNOWN_SYMBOL: 000001.SZ is not traded on China A-shares (SSE/SZSE) (it is not in the price data)',
    });
    expect(rejection(await v.submit({ symbol: 'AAPL' }))?.reason).toBe('UNKNOWN_SYMBOL');
    v.at(sh('2025-09-30T10:00')); // a trading day before the file starts
    expect(rejection(await v.submit({}))).toEqual({
      reason: 'NO_PRICE',
      message: "NO_PRICE: 600028.SH: no trade of today's session is known at 2025-09-30 10:00 Asia/Shanghai",
    });
    for (const closed of ['2025-10-10T12:00', '2025-10-10T15:05', '2025-10-10T09:29', '2025-10-11T10:00']) {
      v.at(sh(closed));
      expect(rejection(await v.submit({}))?.reason, closed).toBe('MARKET_CLOSED');
    }
  });

  it('cash: notional plus fees must be there; exactly enough fills', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily, accounts: { s: { cash: '539.01' }, poor: { cash: '539.00' } } });
    expect(rejection(await v.submit({ signature: 'poor' }))).toEqual({
      reason: 'INSUFFICIENT_CASH',
      message: 'INSUFFICIENT_CASH: buying 100 shares of 600028.SH needs 539.01 CNY but 539.00 CNY is available',
    });
    expect(fillOf(await v.submit({}))?.quantity).toBe(100);
    expect(await v.cash()).toBe('0');
    const big = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    // 600519.SH opened at 1437.60: 143760 + commission 35.94 + transfer 1.44
    expect(rejection(await big.submit({ symbol: '600519.SH' }))?.message).toBe(
      'INSUFFICIENT_CASH: buying 100 shares of 600519.SH needs 143797.38 CNY but 100000.00 CNY is available',
    );
  });

  it('position: selling what is not held is refused', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    expect(rejection(await v.submit({ side: 'sell', symbol: '600036.SH' }))).toEqual({
      reason: 'INSUFFICIENT_POSITION',
      message: 'INSUFFICIENT_POSITION: selling 100 shares of 600036.SH but only 0 are held',
    });
  });

  it('a duplicate client order id is rejected and never becomes a second order', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({ clientOrderId: 'dup' });
    const again = await v.submit({ clientOrderId: 'dup', quantity: 200 });
    expect(again).toEqual([
      {
        type: 'broker.rejected',
        clientOrderId: 'dup',
        reason: 'DUPLICATE_CLIENT_ORDER_ID',
        message: 'DUPLICATE_CLIENT_ORDER_ID: order dup was already received (it is filled); it is not placed again',
        tsEvent: sh('2025-10-10T09:35').toMillis(),
      },
    ]);
    expect(await v.cash()).toBe('99460.99');
    expect(await v.broker.status('dup')).toMatchObject({ status: 'filled', fills: [{ quantity: 100 }] });
  });

  it('status: not_found for an unknown id; a rejected order keeps its reason and message', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    expect(await v.broker.status('never-sent')).toEqual({ clientOrderId: 'never-sent', status: 'not_found', fills: [] });
    await v.submit({ clientOrderId: 'odd', quantity: 150 });
    expect(await v.broker.status('odd')).toEqual({
      clientOrderId: 'odd',
      status: 'rejected',
      brokerOrderId: 'sim:odd',
      fills: [],
      reason: 'LOT_SIZE',
      message: 'LOT_SIZE: 150 shares of 600028.SH is not a multiple of 100',
    });
  });

  it('an instant outside the calendar\'s years is refused with the reason, not thrown', async () => {
    const v = venue(sh('2031-10-10T10:00'), { store: cnDaily });
    const us = await v.submit({ clientOrderId: 'future' });
    expect(rejection(us)?.reason).toBe('BROKER_REJECTED');
    expect(rejection(us)?.message).toMatch(/^BROKER_REJECTED: no cn exchange calendar for 2031/);
    expect((await v.broker.status('future')).status).toBe('rejected');
  });

  it('malformed orders and unknown accounts are BROKER_REJECTED', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    expect(rejection(await v.submit({ signature: 'nobody' }))?.message).toBe('BROKER_REJECTED: no account for signature nobody at this venue');
    expect(rejection(await v.submit({ type: 'limit', limitPrice: '5.305' }))?.reason).toBe('BROKER_REJECTED');
    expect(rejection(await v.submit({ type: 'limit' }))?.message).toMatch(/has no limit price/);
    expect(rejection(await v.submit({ type: 'limit', limitPrice: 'abc' }))?.message).toBe('BROKER_REJECTED: limit price "abc" of 600028.SH is not a decimal number');
    expect(rejection(await v.submit({ quantity: 0 }))?.message).toBe('BROKER_REJECTED: quantity 0 of 600028.SH is not a positive whole number of shares');
  });

  it('a limit buy below the market rests holding its cash, and a cancel releases it', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    const us = await v.submit({ clientOrderId: 'low', type: 'limit', limitPrice: '5.00' });
    expect(us.map((u) => u.type)).toEqual(['broker.accepted']);
    expect(v.broker.available('s')).toBe('99494.99'); // 500 + 5.00 + 0.01 held
    expect(await v.cash()).toBe('100000');
    expect((await v.broker.status('low')).status).toBe('accepted');
    const before = v.updates.length;
    await v.broker.cancel('low');
    expect(v.updates.slice(before)).toEqual([{ type: 'broker.cancelled', clientOrderId: 'low', tsEvent: sh('2025-10-10T09:35').toMillis() }]);
    expect(v.broker.available('s')).toBe('100000');
    expect((await v.broker.status('low')).status).toBe('cancelled');
  });

  it('a marketable limit order fills at the market price, never worse than its limit', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily, slippageBps: 50 });
    expect(fillOf(await v.submit({ type: 'limit', limitPrice: '5.40' }))?.price).toBe('5.37'); // 5.34 x 1.005 = 5.3667 -> 5.37
    expect(fillOf(await v.submit({ type: 'limit', limitPrice: '5.35' }))?.price).toBe('5.35'); // capped at the limit
  });

  it('cancelling a filled or unknown order is refused by the venue', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({ clientOrderId: 'done' });
    const before = v.updates.length;
    await v.broker.cancel('done');
    await v.broker.cancel('ghost');
    expect(v.updates.slice(before).map((u) => u.type === 'broker.rejected' && u.message)).toEqual([
      'BROKER_REJECTED: order done is already filled; nothing to cancel',
      'BROKER_REJECTED: no order ghost to cancel',
    ]);
  });

  it('day orders: a resting order expires at the next day\'s time step and releases its cash', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({ clientOrderId: 'day', type: 'limit', limitPrice: '5.00' });
    v.at(sh('2025-10-10T14:00'));
    v.broker.fillPending(); // same day, still not through: nothing
    expect((await v.broker.status('day')).status).toBe('accepted');
    v.at(sh('2025-10-13T09:35'));
    const before = v.updates.length;
    v.broker.fillPending();
    expect(v.updates.slice(before)).toEqual([{ type: 'broker.expired', clientOrderId: 'day', tsEvent: sh('2025-10-13T09:35').toMillis() }]);
    expect(v.broker.available('s')).toBe('100000');
  });

  it('state() round-trips the books', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({ clientOrderId: 'a' });
    await v.submit({ clientOrderId: 'b', type: 'limit', limitPrice: '5.00' });
    const w = venue(sh('2025-10-10T09:35'), { store: cnDaily, state: JSON.parse(JSON.stringify(v.broker.state())) });
    expect(w.broker.state()).toEqual(v.broker.state());
    expect(rejection(await w.submit({ clientOrderId: 'a' }))?.reason).toBe('DUPLICATE_CLIENT_ORDER_ID');
    expect(w.broker.available('s')).toBe(v.broker.available('s'));
  });

  it('takeChangedOrders gives only the orders changed since the last call, in the order received', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({ clientOrderId: 'a' });
    await v.submit({ clientOrderId: 'b', type: 'limit', limitPrice: '5.00' });
    expect(v.broker.takeChangedOrders().map((o) => [o.order.clientOrderId, o.received, o.status])).toEqual([
      ['a', 1, 'filled'],
      ['b', 2, 'accepted'],
    ]);
    expect(v.broker.takeChangedOrders()).toEqual([]);
    await v.broker.cancel('b');
    await v.broker.cancel('nope'); // refused: no order changed
    expect(v.broker.takeChangedOrders().map((o) => [o.order.clientOrderId, o.status])).toEqual([['b', 'cancelled']]);
    expect(v.broker.books()).toEqual({ accounts: v.broker.state().accounts, liquidity: v.broker.state().liquidity });
  });

  it('restored from per-order records in any order, resting orders are tried in the order received', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily, state: holding('2000', {}) });
    // Two resting buys the cash covers one at a time: the first received must fill first.
    await v.submit({ clientOrderId: 'z-first', type: 'limit', limitPrice: '5.00' });
    await v.submit({ clientOrderId: 'a-second', type: 'limit', limitPrice: '5.00' });
    const saved = JSON.parse(JSON.stringify(v.broker.state())) as SimulatedBrokerState;
    const shuffled = { ...saved, orders: [...saved.orders].reverse() }; // as keyed records come back: by id
    const w = venue(sh('2025-10-10T09:35'), { store: cnDaily, state: shuffled });
    expect(w.broker.state()).toEqual(v.broker.state());
    await w.submit({ clientOrderId: 'c' });
    expect(w.broker.takeChangedOrders().map((o) => [o.order.clientOrderId, o.received])).toEqual([['c', 3]]);
  });

  it('books saved before orders carried their number are restored in their order and all written again', async () => {
    const v = venue(sh('2025-10-10T09:35'), { store: cnDaily });
    await v.submit({ clientOrderId: 'a' });
    await v.submit({ clientOrderId: 'b', type: 'limit', limitPrice: '5.00' });
    const legacy = JSON.parse(JSON.stringify(v.broker.state())) as SimulatedBrokerState;
    const old = { ...legacy, orders: legacy.orders.map(({ received: _, ...o }) => o) };
    const w = venue(sh('2025-10-10T09:35'), { store: cnDaily, state: old });
    expect(w.broker.takeChangedOrders().map((o) => [o.order.clientOrderId, o.received])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });
});

describe('strict rules, A-shares, hourly bars', () => {
  it('a buy at limit-up does not fill (601888.SH, 2025-11-10, real); a sell into it does', async () => {
    const v = venue(sh('2025-11-10T14:05'), { store: cnHourly, state: holding('0', { '601888.SH': 100 }) });
    expect(rejection(await v.submit({ symbol: '601888.SH' }))).toEqual({
      reason: 'PRICE_LIMIT',
      message: 'PRICE_LIMIT: 601888.SH is at its limit-up 86.89 (price 86.89, previous close 78.99, main board (主板) ±10%); a buy does not fill',
    });
    expect(fillOf(await v.submit({ symbol: '601888.SH', side: 'sell' }))).toMatchObject({ price: '86.89', quantity: 100 });
  });

  it('a limit price outside the day\'s band is refused', async () => {
    const v = venue(sh('2025-11-07T10:35'), { store: cnHourly });
    // previous close 75.34: band 67.81-82.87
    expect(rejection(await v.submit({ symbol: '601888.SH', type: 'limit', limitPrice: '83.00' }))?.message).toBe(
      "PRICE_LIMIT: limit price 83 of 601888.SH is outside today's band 67.81-82.87 (previous close 75.34, main board (主板) ±10%)",
    );
  });

  it('slippage never pushes a fill beyond the band', async () => {
    const v = venue(sh('2025-11-10T14:05'), { store: cnHourly, slippageBps: 100, state: holding('0', { '601888.SH': 100 }) });
    // 86.89 x 0.99 = 86.0211 -> 86.02: a sell moves down, inside the band
    expect(fillOf(await v.submit({ symbol: '601888.SH', side: 'sell' }))?.price).toBe('86.02');
    const w = venue(sh('2025-11-10T10:35'), { store: cnHourly, slippageBps: 300 });
    // 10:35: open of 10:30-11:30 is 84.95; x 1.03 = 87.4985 -> capped at limit-up 86.89
    expect(fillOf(await w.submit({ symbol: '601888.SH' }))?.price).toBe('86.89');
  });

  it('STAR ±20%: 688111.SH +10.2% over its previous close still trades (2025-10-13, real)', async () => {
    const v = venue(sh('2025-10-13T10:35'), { store: cnHourly });
    expect(fillOf(await v.submit({ symbol: '688111.SH' }))).toMatchObject({ price: '327.22', quantity: 100, fee: '8.51' });
  });

  it('partial fills: at most maxVolumeShare of the last completed bar; the rest rests and fills on a later bar', async () => {
    const v = venue(sh('2025-10-10T10:35'), { store: cnHourly, maxVolumeShare: 0.00001 });
    // last completed bar 09:30-10:30: 55,933,200 shares -> 559 -> 5 lots
    const us = await v.submit({ clientOrderId: 'big', quantity: 1000 });
    expect(us.map((u) => u.type)).toEqual(['broker.accepted', 'broker.fill']);
    expect(fillOf(us)).toMatchObject({ fillId: 'big#1', quantity: 500, price: '5.36', fee: '5.03' });
    expect((await v.broker.status('big')).status).toBe('partially_filled');
    // another order on the symbol shares what is left of the bar: 59 shares, no whole lot
    expect((await v.submit({ clientOrderId: 'other', quantity: 100 })).map((u) => u.type)).toEqual(['broker.accepted']);
    v.at(sh('2025-10-10T11:00'));
    v.broker.fillPending(); // same liquidity bar: nothing more
    expect((await v.broker.status('big')).fills).toHaveLength(1);
    v.at(sh('2025-10-10T13:05'));
    const before = v.updates.length;
    v.broker.fillPending();
    // 10:30-11:30: 24,245,400 -> 242 -> 2 lots, to the first order received; the minimum commission is not charged twice
    expect(v.updates.slice(before).map((u) => u.type === 'broker.fill' && [u.clientOrderId, u.fill.quantity, u.fill.price, u.fill.fee])).toEqual([
      ['big', 200, '5.37', '0.01'],
    ]);
    const status = await v.broker.status('big');
    expect(status.status).toBe('partially_filled');
    expect(status.fills.map((f) => f.quantity)).toEqual([500, 200]);
    await v.broker.cancel('big');
    expect((await v.broker.status('big')).status).toBe('cancelled');
    expect(await v.broker.positions('s')).toEqual([{ symbol: '600028.SH', quantity: 700, sellable: 0 }]);
  });

  it('a resting market buy whose price rose fills only the whole lots the account can still pay', async () => {
    // 2025-10-13 13:05: price 5.33 (open of 13:00-14:00), liquidity 10:30-11:30 = 28,459,400 x 0.000005 -> 1 lot
    const v = venue(sh('2025-10-13T13:05'), { store: cnHourly, maxVolumeShare: 0.000005, accounts: { s: { cash: '1604.02' } } });
    const first = await v.submit({ clientOrderId: 'rise', quantity: 300 }); // 1599 + fees 5.02: all the cash
    expect(fillOf(first)).toMatchObject({ quantity: 100, price: '5.33', fee: '5.01' });
    expect(v.broker.available('s')).toBe('0');
    // 14:05: price 5.40, liquidity 13:00-14:00 = 46,263,300 x 0.000005 -> 2 lots, but only 1 is affordable
    v.at(sh('2025-10-13T14:05'));
    v.broker.fillPending();
    expect(fillOf(v.updates.slice(-1))).toMatchObject({ fillId: 'rise#2', quantity: 100, price: '5.4', fee: '0' });
    expect(await v.cash()).toBe('526.01');
    expect((await v.broker.status('rise')).status).toBe('partially_filled');
  });

  it('marketRemainder: cancel makes a market order immediate-or-cancel', async () => {
    const v = venue(sh('2025-10-10T10:35'), { store: cnHourly, maxVolumeShare: 0.00001, marketRemainder: 'cancel' });
    const us = await v.submit({ clientOrderId: 'ioc', quantity: 1000 });
    expect(us.map((u) => u.type)).toEqual(['broker.accepted', 'broker.fill', 'broker.cancelled']);
    expect(await v.broker.status('ioc')).toMatchObject({ status: 'cancelled', fills: [{ quantity: 500 }] });
    expect(v.broker.available('s')).toBe(await v.cash()); // nothing held any more
    // limit orders still rest
    expect((await v.submit({ type: 'limit', limitPrice: '5.00' })).map((u) => u.type)).toEqual(['broker.accepted']);
  });

  it('no volume data (the first bar of the file): no cap', async () => {
    const v = venue(sh('2025-10-09T09:35'), { store: cnHourly, maxVolumeShare: 0.000001 });
    expect(fillOf(await v.submit({ quantity: 10000 }))?.quantity).toBe(10000);
  });

  it('a resting sell limit fills when a later bar reaches it', async () => {
    const v = venue(sh('2025-10-10T10:35'), { store: cnHourly, state: holding('0', { '600028.SH': 300 }) });
    const us = await v.submit({ clientOrderId: 'ask', side: 'sell', quantity: 300, type: 'limit', limitPrice: '5.37' });
    expect(us.map((u) => u.type)).toEqual(['broker.accepted']); // 5.36 < 5.37
    expect(await v.broker.positions('s')).toEqual([{ symbol: '600028.SH', quantity: 300, sellable: 0 }]); // held by the order
    expect(rejection(await v.submit({ side: 'sell' }))?.reason).toBe('INSUFFICIENT_POSITION');
    v.at(sh('2025-10-10T13:05'));
    v.broker.fillPending();
    expect(fillOf(v.updates.slice(-1))).toMatchObject({ fillId: 'ask#1', quantity: 300, price: '5.37' });
  });

  it('the 11:35 session falls in the lunch break', async () => {
    const v = venue(sh('2025-10-10T11:35'), { store: cnHourly });
    expect(rejection(await v.submit({}))?.reason).toBe('MARKET_CLOSED');
  });
});

describe('no look-ahead', () => {
  /** Independent oracle: every price with the instant it became known (open at start, close at end). */
  function knownPrices(store: PriceStore, symbol: string): { atMs: number; price: Dec; day: string; open: boolean }[] {
    const far = DateTime.fromISO('2100-01-01T00:00:00Z');
    const bars = [...store.barsAsOf(symbol, far)];
    const last = store.priceAsOf(symbol, far)?.bar;
    const all = last && !last.complete ? [...bars, last] : bars;
    return all.flatMap((b) => {
      const day = b.start.setZone(SH).toISODate()!;
      const out = [{ atMs: b.start.toMillis(), price: b.open, day, open: true }];
      if (b.complete) out.push({ atMs: b.end.toMillis(), price: b.close, day, open: false });
      return out;
    });
  }

  it('every strict fill uses the latest price known at now, from a bar that started by then', async () => {
    for (const [store, symbol] of [
      [cnHourly, '601318.SH'],
      [cnDaily, '600519.SH'],
    ] as const) {
      const known = knownPrices(store, symbol);
      const range = store.range()!;
      let fills = 0;
      for (let t = range.first.minus({ days: 1 }); t <= range.last.plus({ days: 1 }); t = t.plus({ minutes: 37 })) {
        const v = venue(t, { store, accounts: { s: { cash: '10000000' } } });
        const fill = fillOf(await v.submit({ symbol }));
        if (!fill) continue;
        fills++;
        const visible = known.filter((k) => k.atMs <= t.toMillis());
        const latest = Math.max(...visible.map((k) => k.atMs));
        const candidates = visible.filter((k) => k.atMs === latest);
        const expected = (candidates.find((k) => k.open) ?? candidates[0])!;
        expect(fill.price, t.toISO()!).toBe(expected.price.toFixed());
        expect(expected.day).toBe(t.setZone(SH).toISODate());
        expect(fill.atMs).toBe(t.toMillis());
      }
      expect(fills).toBeGreaterThan(100);
    }
  });
});

describe('strict rules, US hourly bars', () => {
  it('whole shares, no T+1, no fees by default', async () => {
    const v = venue(ny('2025-10-01T10:05'), { store: usHourly, market: 'us', accounts: { s: { cash: '10000' } } });
    const open = usHourly.barLabelled('AAPL', '2025-10-01 10:00:00')!.open.toFixed();
    expect(fillOf(await v.submit({ symbol: 'AAPL', quantity: 3 }))).toMatchObject({ quantity: 3, price: open, fee: '0' });
    expect(fillOf(await v.submit({ symbol: 'AAPL', quantity: 3, side: 'sell' }))).toMatchObject({ quantity: 3, price: open });
    expect(await v.cash()).toBe('10000');
  });

  it('SEC and TAF fees from the config apply to sells', async () => {
    const fees = { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 }, us: { commission_per_share: 0, commission_min: 0, sec_fee_rate: 0.0000278, taf_fee_per_share: 0.000166 } };
    const v = venue(ny('2025-10-01T10:05'), { store: usHourly, market: 'us', fees, accounts: { s: { cash: '100000' } } });
    expect(fillOf(await v.submit({ symbol: 'AAPL', quantity: 100 }))?.fee).toBe('0');
    expect(fillOf(await v.submit({ symbol: 'AAPL', quantity: 100, side: 'sell' }))?.fee).not.toBe('0');
  });

  it('books each fill at its value rounded to the cent, half-up; a buy the cash misses by a cent is INSUFFICIENT_CASH', async () => {
    // AAPL opens 256.515 at 10:00: 3 shares are worth 769.545, booked as 769.55 (the ledger books the same).
    const v = venue(ny('2025-10-01T10:05'), { store: usHourly, market: 'us', accounts: { s: { cash: '10000' } } });
    expect(fillOf(await v.submit({ symbol: 'AAPL', quantity: 3 }))).toMatchObject({ price: '256.515', quantity: 3 });
    expect(await v.cash()).toBe('9230.45');
    const short = venue(ny('2025-10-01T10:05'), { store: usHourly, market: 'us', accounts: { s: { cash: '769.54' } } });
    expect(rejection(await short.submit({ symbol: 'AAPL', quantity: 3 }))).toEqual({
      reason: 'INSUFFICIENT_CASH',
      message: 'INSUFFICIENT_CASH: buying 3 shares of AAPL needs 769.55 USD but 769.54 USD is available',
    });
    expect(await short.cash()).toBe('769.54');
  });

  it('09:45 has no price of today (the files start at 10:00): NO_PRICE, not yesterday\'s close', async () => {
    const v = venue(ny('2025-10-02T09:45'), { store: usHourly, market: 'us', accounts: { s: { cash: '10000' } } });
    expect(rejection(await v.submit({ symbol: 'AAPL', quantity: 1 }))?.reason).toBe('NO_PRICE');
  });
});

// ---------------------------------------------------------------------------------------

interface LogRecord {
  date: string;
  this_action?: { action: 'buy' | 'sell' | 'no_trade'; symbol: string; amount: number };
  positions: Record<string, number>;
}

const readLog = (name: string): LogRecord[] =>
  readFileSync(fileURLToPath(new URL(`agent-logs/${name}`, DATA)), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogRecord);

describe('ai-trader rules', () => {
  it('2025-10-09 buy 600028.SH 100 at the open 5.29 leaves CASH 99471.0, as the log says', async () => {
    const v = venue(sh('2025-10-09T09:35'), { store: cnDaily, rules: 'ai-trader' });
    expect(fillOf(await v.submit({}))).toMatchObject({ price: '5.29', quantity: 100, fee: '0' });
    expect(await v.cash()).toBe('99471');
  });

  for (const log of ['cn-daily.gpt-5.position.jsonl', 'cn-daily.deepseek-chat-v3.1.position.jsonl']) {
    it(`replaying ${log} reproduces CASH to the cent and every position, at every record`, async () => {
      const records = readLog(log);
      const v = venue(sh('2025-10-09T09:35'), { store: cnDaily, rules: 'ai-trader', accounts: { s: { cash: String(records[0]!.positions['CASH']) } } });
      let trades = 0;
      for (const r of records) {
        const a = r.this_action;
        if (!a || a.action === 'no_trade') continue;
        v.at(sh(`${r.date}T09:35`));
        const us = await v.submit({ side: a.action, symbol: a.symbol, quantity: a.amount });
        if (a.amount === 0) {
          // AI-Trader wrote a sell of 0 shares as a trade; the venue refuses it and nothing changes
          expect(rejection(us)?.reason).toBe('BROKER_REJECTED');
        } else {
          expect(fillOf(us), `${r.date} ${a.action} ${a.symbol} ${a.amount}`).toBeDefined();
          trades++;
        }
        expect(dec(await v.cash()).toFixed(2), r.date).toBe(dec(r.positions['CASH']!).toFixed(2));
        const held = Object.fromEntries((await v.broker.positions('s')).map((p) => [p.symbol, p.quantity]));
        for (const [symbol, q] of Object.entries(r.positions)) if (symbol !== 'CASH') expect(held[symbol] ?? 0, `${r.date} ${symbol}`).toBe(q);
      }
      expect(trades).toBeGreaterThan(90);
    });
  }

  it('lots of 100 on both sides; no T+1, no market hours, no fees', async () => {
    const v = venue(sh('2025-10-09T20:00'), { store: cnDaily, rules: 'ai-trader' });
    expect(rejection(await v.submit({ quantity: 150 }))?.reason).toBe('LOT_SIZE');
    expect(fillOf(await v.submit({ quantity: 300 }))).toMatchObject({ price: '5.29', fee: '0' }); // after the close, at the day's open
    expect(rejection(await v.submit({ side: 'sell', quantity: 250 }))?.reason).toBe('LOT_SIZE');
    expect(fillOf(await v.submit({ side: 'sell', quantity: 300 }))).toMatchObject({ price: '5.29' }); // same day
    expect(await v.cash()).toBe('100000');
  });

  it('cash: AI-Trader refuses a buy only when cash < price x amount', async () => {
    const v = venue(sh('2025-10-09T09:35'), { store: cnDaily, rules: 'ai-trader', accounts: { s: { cash: '529' }, poor: { cash: '528.99' } } });
    expect(rejection(await v.submit({ signature: 'poor' }))?.message).toBe(
      'INSUFFICIENT_CASH: buying 100 shares of 600028.SH needs 529.00 CNY but 528.99 CNY is available',
    );
    expect(fillOf(await v.submit({}))?.quantity).toBe(100);
    expect(await v.cash()).toBe('0');
    expect(rejection(await v.submit({ side: 'sell', quantity: 200 }))?.reason).toBe('INSUFFICIENT_POSITION');
  });

  it('no labelled bar (a holiday): NO_PRICE; unknown symbol: UNKNOWN_SYMBOL', async () => {
    const v = venue(sh('2025-10-08T09:35'), { store: cnDaily, rules: 'ai-trader' });
    expect(rejection(await v.submit({}))?.message).toBe(
      "NO_PRICE: 600028.SH: no bar is labelled with the session's date/time at 2025-10-08 09:35 Asia/Shanghai",
    );
    expect(rejection(await v.submit({ symbol: '000001.SZ' }))?.reason).toBe('UNKNOWN_SYMBOL');
  });

  it('A-share hourly: the 10:35 session trades at the open of the bar labelled 10:30 (09:30-10:30)', async () => {
    const v = venue(sh('2025-10-10T10:35'), { store: cnHourly, rules: 'ai-trader' });
    expect(fillOf(await v.submit({}))?.price).toBe('5.34');
  });

  it('US hourly: the 10:00 session trades at the open of the bar labelled 10:00', async () => {
    const v = venue(ny('2025-10-02T10:00'), { store: usHourly, rules: 'ai-trader', market: 'us', accounts: { s: { cash: '10000' } } });
    expect(fillOf(await v.submit({ symbol: 'NVDA', quantity: 10 }))).toMatchObject({ price: '189.28', quantity: 10 });
    expect(await v.cash()).toBe('8107.2');
  });

  it('books cash unrounded, as AI-Trader did: 3 AAPL at 256.515 cost 769.545, which 769.545 covers', async () => {
    const v = venue(ny('2025-10-01T10:00'), { store: usHourly, rules: 'ai-trader', market: 'us', accounts: { s: { cash: '769.545' } } });
    expect(fillOf(await v.submit({ symbol: 'AAPL', quantity: 3 }))).toMatchObject({ price: '256.515', quantity: 3 });
    expect(await v.cash()).toBe('0');
  });

  it('ignores slippage, volume share and fees even when configured', async () => {
    const v = venue(sh('2025-10-10T10:35'), { store: cnHourly, rules: 'ai-trader', slippageBps: 100, maxVolumeShare: 0.000001 });
    expect(fillOf(await v.submit({ quantity: 10000 }))).toMatchObject({ price: '5.34', quantity: 10000, fee: '0' });
  });
});

// ---------------------------------------------------------------------------------------

describe('property: the venue never lets cash or positions go negative', () => {
  const SYMBOLS = ['600028.SH', '601888.SH', '688111.SH'] as const;
  type Cmd =
    | { kind: 'submit'; account: number; side: 'buy' | 'sell'; symbol: number; quantity: number; limitPct: number | null }
    | { kind: 'cancel'; pick: number }
    | { kind: 'advance'; minutes: number }
    | { kind: 'step' };

  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    { weight: 6, arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      account: fc.integer({ min: 0, max: 1 }),
      side: fc.constantFrom('buy' as const, 'buy' as const, 'sell' as const),
      symbol: fc.integer({ min: 0, max: SYMBOLS.length - 1 }),
      quantity: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(100, 200, 300, 500) }, { weight: 1, arbitrary: fc.constantFrom(1, 50, 150, 1000, 5000, 20000) }),
      limitPct: fc.option(fc.integer({ min: -4, max: 4 }), { nil: null }),
    }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.constantFrom(0, 20, 60, 150, 1440, 1440, 2880) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('step' as const) }) },
  );

  /** What the runs exercised, so a generator that only produces rejections fails the test. */
  const stats = { fills: 0, rejected: 0, cancelled: 0, expired: 0 };

  async function run(rules: 'strict' | 'ai-trader', cmds: Cmd[]): Promise<void> {
    let t = sh('2025-10-14T10:05');
    const initial = { a: '200000', b: '8000' };
    const broker = new SimulatedBroker({
      market: 'cn',
      rules,
      store: cnHourly,
      now: () => t,
      slippageBps: 5,
      maxVolumeShare: 0.0002,
      accounts: { a: { cash: initial.a }, b: { cash: initial.b } },
    });
    const accountOf = new Map<string, 'a' | 'b'>();
    const cash = { a: dec(initial.a), b: dec(initial.b) };
    const shares = { a: new Map<string, number>(), b: new Map<string, number>() };
    const filled = new Map<string, number>();
    broker.updates$.subscribe((u) => {
      Events[u.type].parse(u);
      if (u.type === 'broker.rejected') stats.rejected++;
      if (u.type === 'broker.cancelled') stats.cancelled++;
      if (u.type === 'broker.expired') stats.expired++;
      if (u.type !== 'broker.fill') return;
      stats.fills++;
      const acct = accountOf.get(u.clientOrderId)!;
      const side = cids.find((c) => c.cid === u.clientOrderId)!.side;
      const value = dec(u.fill.price).times(u.fill.quantity);
      const fee = dec(u.fill.fee);
      cash[acct] = side === 'buy' ? cash[acct].minus(value).minus(fee) : cash[acct].plus(value).minus(fee);
      const symbol = cids.find((c) => c.cid === u.clientOrderId)!.symbol;
      shares[acct].set(symbol, (shares[acct].get(symbol) ?? 0) + (side === 'buy' ? 1 : -1) * u.fill.quantity);
      filled.set(u.clientOrderId, (filled.get(u.clientOrderId) ?? 0) + u.fill.quantity);
    });
    const cids: { cid: string; side: 'buy' | 'sell'; symbol: string; quantity: number }[] = [];
    let n = 0;
    for (const c of cmds) {
      if (c.kind === 'submit') {
        const symbol = SYMBOLS[c.symbol]!;
        const account = c.account === 0 ? 'a' : 'b';
        const cid = `p${++n}`;
        accountOf.set(cid, account);
        cids.push({ cid, side: c.side, symbol, quantity: c.quantity });
        const px = cnHourly.priceAsOf(symbol, t)?.price;
        const limit = c.limitPct !== null && px ? px.times(1 + c.limitPct / 100).toDecimalPlaces(2).toFixed() : undefined;
        await broker.submit({
          clientOrderId: cid,
          signature: account,
          side: c.side,
          symbol,
          quantity: c.quantity,
          ...(limit ? { type: 'limit' as const, limitPrice: limit } : { type: 'market' as const }),
        });
      } else if (c.kind === 'cancel' && cids.length > 0) {
        await broker.cancel(cids[c.pick % cids.length]!.cid);
      } else if (c.kind === 'advance') {
        t = t.plus({ minutes: c.minutes });
      } else if (c.kind === 'step') {
        broker.fillPending();
      }
      for (const account of ['a', 'b'] as const) {
        const venueCash = dec((await broker.balance(account)).cash);
        expect(venueCash.isNegative()).toBe(false);
        expect(dec(broker.available(account)).isNegative()).toBe(false);
        expect(venueCash.equals(cash[account])).toBe(true); // the books are exactly the sum of the fills
        const positions = await broker.positions(account);
        for (const p of positions) {
          expect(p.quantity).toBeGreaterThan(0);
          expect(p.sellable).toBeGreaterThanOrEqual(0);
          expect(p.sellable).toBeLessThanOrEqual(p.quantity);
          expect(p.quantity).toBe(shares[account].get(p.symbol));
        }
        for (const [symbol, q] of shares[account]) {
          expect(q).toBeGreaterThanOrEqual(0);
          if (q > 0) expect(positions.find((p) => p.symbol === symbol)?.quantity).toBe(q);
        }
      }
      for (const o of cids) expect(filled.get(o.cid) ?? 0).toBeLessThanOrEqual(o.quantity);
    }
  }

  it('strict', async () => {
    await fc.assert(fc.asyncProperty(fc.array(cmd, { minLength: 10, maxLength: 40 }), (cmds) => run('strict', cmds)), { numRuns: 60 });
    expect(stats.fills).toBeGreaterThan(20);
    expect(stats.rejected).toBeGreaterThan(20);
    expect(stats.cancelled + stats.expired).toBeGreaterThan(0);
  });

  it('ai-trader', async () => {
    await fc.assert(fc.asyncProperty(fc.array(cmd, { minLength: 10, maxLength: 40 }), (cmds) => run('ai-trader', cmds)), { numRuns: 40 });
  });
});

describe('coverage of the venue reason codes', () => {
  it('every venue reason code was produced by a concrete case above', () => {
    const venueCodes = (Object.keys(REASONS) as ReasonCode[]).filter((c) => REASONS[c].by === 'venue');
    expect([...venueCodes].filter((c) => !produced.has(c))).toEqual([]);
  });
});
