/** The rules of `broker orders|fills` that the end-to-end test does not reach: pure, on made-up views. */
import { describe, expect, it } from 'vitest';
import type { WireFillActivity, WireOrder } from '../../src/actors/brokers/alpaca/wire.js';
import { compareBrokerFills, compareBrokerOrders, compareFills, compareOrders, orderIdsOfLedger, ownerOf, type BrokerFill, type LedgerView } from '../../src/cli/broker-view.js';

const owner = ownerOf(['ew']);
const wire = (cid: string, over: Partial<WireOrder> = {}): WireOrder => ({ id: `id-${cid}`, client_order_id: cid, symbol: 'AAPL', side: 'buy', type: 'limit', qty: '10', filled_qty: '0', filled_avg_price: null, status: 'new', created_at: '2025-11-07T15:00:00Z', ...over });
const view = (over: Partial<LedgerView>): LedgerView => ({ signatures: [], openOrders: [], fills: [], ...over });
const ledgerOrder = (cid: string, state: string, filledQuantity = 0) => ({ clientOrderId: cid, signature: 'ew', symbol: 'AAPL', side: 'buy', quantity: 10, state, filledQuantity });

describe('broker orders: what differs', () => {
  it('an order waiting to go out (queued, backing off) is rightly not at the broker; a working one is missed', () => {
    const rows = compareOrders([], view({ openOrders: [ledgerOrder('ew.1', 'queued'), ledgerOrder('ew.2', 'backing_off'), ledgerOrder('ew.3', 'cancelling')] }), owner);
    expect(rows.map((r) => [r.client_order_id, r.differs, r.note])).toEqual([
      ['ew.1', false, 'not at the broker yet (queued)'],
      ['ew.2', false, 'not at the broker yet (backing_off)'],
      ['ew.3', true, 'not open at the broker (the ledger has it cancelling)'],
    ]);
  });

  it('on both sides: filled quantities must agree; a state in between is said, not marked', () => {
    const rows = compareOrders(
      [wire('ew.1', { status: 'partially_filled', filled_qty: '4' }), wire('ew.2', { status: 'new' })],
      view({ openOrders: [ledgerOrder('ew.1', 'partially_filled', 3), ledgerOrder('ew.2', 'reconciling')] }),
      owner,
    );
    expect(rows.map((r) => [r.client_order_id, r.differs, r.note])).toEqual([
      ['ew.1', true, 'filled 4 at the broker, 3 in the ledger'],
      ['ew.2', false, 'broker new, ledger reconciling'],
    ]);
  });

  it('without a ledger nothing is marked', () => {
    expect(compareOrders([wire('ew.1'), wire('app-123')], undefined, owner).map((r) => [r.client_order_id, r.ours, r.differs])).toEqual([
      ['app-123', false, false],
      ['ew.1', true, false],
    ]);
  });
});

describe('broker fills: what differs', () => {
  const activity = (exec: string, over: Partial<WireFillActivity> = {}): WireFillActivity => ({
    id: `20251107150000000::${exec}`,
    activity_type: 'FILL',
    transaction_time: '2025-11-07T15:00:00Z',
    type: 'fill',
    price: '270.25',
    qty: '10',
    side: 'buy',
    symbol: 'AAPL',
    order_id: 'O1',
    cum_qty: '10',
    ...over,
  });
  const fill = (fillId: string, quantity = 10, price = '270.25') => ({ fillId, clientOrderId: 'ew.1', signature: 'ew', symbol: 'AAPL', side: 'buy', quantity, price, atMs: Date.parse('2025-11-07T15:00:00Z') });

  it('matches by execution id, then a fill the totals implied by order, quantity and price', () => {
    const rows = compareFills([activity('E1', { qty: '4', cum_qty: '4' }), activity('E2', { qty: '6', price: '270.3' })], new Map([['O1', 'ew.1']]), view({ fills: [fill('E1', 4), fill('O1:cum:10', 6, '270.30')] }), owner, 'America/New_York');
    expect(rows.map((r) => [r.fill_id, r.ledger, r.differs, r.note ?? null])).toEqual([
      ['E1', true, false, null],
      ['E2', true, false, 'in the ledger as O1:cum:10'],
    ]);
    expect(rows[0]!.time).toBe('2025-11-07T10:00:00-05:00');
  });
});

describe('venues: numbers mapped by the ledger, fills made from totals', () => {
  const fill = (fillId: string, quantity: number, clientOrderId = 'ew.1') => ({ fillId, clientOrderId, signature: 'ew', symbol: '600519.SH', side: 'buy', quantity, price: '1500', atMs: Date.parse('2025-11-07T02:00:00Z') });

  it("an order's number is ours from the engine's open order, a booked fill the broker lists, or a fill made from its totals", () => {
    const ledger = view({
      openOrders: [{ ...ledgerOrder('ew.1', 'accepted'), brokerOrderId: '1001' }],
      fills: [fill('20251107.1002.5', 100, 'ew.2'), fill('1003:cum:200', 200, 'ew.3'), fill('20251107.9999.1', 100, 'ew.4')],
    });
    const ids = orderIdsOfLedger(ledger, [{ fillId: '20251107.1002.5', brokerOrderId: '1002' }]);
    expect([...ids.entries()].sort()).toEqual([
      ['1001', 'ew.1'],
      ['1002', 'ew.2'],
      ['1003', 'ew.3'],
    ]);
    expect(orderIdsOfLedger(undefined, []).size).toBe(0);
  });

  it("an order's totals against the ledger's fills of it: equal shares match, fewer differ, none is a fill the ledger lacks", () => {
    const b = (orderId: string, quantity: number, clientOrderId: string | undefined): BrokerFill => ({ fillId: `${orderId}:cum:${quantity}`, orderId, clientOrderId, symbol: '600519.SH', side: 'buy', quantity, price: '1500', atMs: Date.parse('2025-11-07T02:00:00Z'), cumulative: true });
    const rows = compareBrokerFills([b('1', 300, 'ew.1'), b('2', 300, 'ew.2'), b('3', 100, 'ew.3'), b('4', 100, 'app-9')], view({ fills: [fill('1:cum:100', 100, 'ew.1'), fill('1:cum:300', 200, 'ew.1'), fill('2:cum:100', 100, 'ew.2')] }), owner, 'Asia/Shanghai');
    expect(rows.map((r) => [r.fill_id, r.ledger, r.differs, r.note ?? null])).toEqual([
      ['1:cum:300', true, false, 'in the ledger as 1:cum:100, 1:cum:300'],
      ['2:cum:300', true, true, 'filled 300 at the broker, 100 in the ledger (2:cum:100)'],
      ['3:cum:100', false, true, 'at the broker, not in the ledger'],
      ['4:cum:100', false, true, 'external: not placed by agent-trader'],
    ]);
  });

  it('an order neither carried nor mapped has no client order id and is external', () => {
    const rows = compareBrokerOrders([{ orderId: '1009', clientOrderId: undefined, symbol: '600036.SH', side: 'buy', quantity: 100, filledQuantity: 0, status: '已报', state: 'accepted' }], view({}), owner);
    expect(rows).toEqual([{ client_order_id: null, signature: null, ours: false, symbol: '600036.SH', side: 'buy', quantity: 100, broker: { order_id: '1009', status: '已报', filled_quantity: 0 }, ledger: null, differs: true, note: 'external: not placed by agent-trader' }]);
  });
});
