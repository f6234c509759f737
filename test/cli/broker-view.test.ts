/** The rules of `broker orders|fills` that the end-to-end test does not reach: pure, on made-up views. */
import { describe, expect, it } from 'vitest';
import type { WireFillActivity, WireOrder } from '../../src/actors/brokers/alpaca/wire.js';
import { compareFills, compareOrders, ownerOf, type LedgerView } from '../../src/cli/broker-view.js';

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
