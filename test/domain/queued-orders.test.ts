import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import type { OrderRequest } from '../../src/domain/orders.js';
import { protectiveLimit, queuedOrder } from '../../src/domain/queued-orders.js';

const sh = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' }).toMillis();
const ny = (iso: string) => DateTime.fromISO(iso, { zone: 'America/New_York' }).toMillis();
const buy: OrderRequest = { clientOrderId: 'm.20251010T1135.1', signature: 'm', side: 'buy', symbol: '600519.SH', quantity: 100, type: 'market' };

describe('protectiveLimit: the decision price moved by the band, never beyond it by rounding', () => {
  it('a buy rounds down to the tick, a sell up', () => {
    expect(protectiveLimit('cn', 'buy', dec('1453.20'), 0.02).toFixed()).toBe('1482.26'); // 1482.264
    expect(protectiveLimit('cn', 'sell', dec('1453.20'), 0.02).toFixed()).toBe('1424.14'); // 1424.136
    expect(protectiveLimit('cn', 'buy', dec('5.37'), 0.02).toFixed()).toBe('5.47'); // 5.4774
    expect(protectiveLimit('cn', 'sell', dec('5.37'), 0.02).toFixed()).toBe('5.27'); // 5.2626
  });

  it('uses the market tick (US sub-dollar prices trade in 0.0001) and never goes below one tick', () => {
    expect(protectiveLimit('us', 'sell', dec('0.5123'), 0.02).toFixed()).toBe('0.5021'); // 0.502054
    expect(protectiveLimit('us', 'buy', dec('271.0884'), 0.05).toFixed()).toBe('284.64'); // 284.64282
    expect(protectiveLimit('cn', 'sell', dec('0.01'), 0.5).toFixed()).toBe('0.01');
  });
});

describe('queuedOrder: how an order made outside hours waits, and what the agent is told', () => {
  it('lunch break: a market buy waits for 13:00 today as a limit at +2%', () => {
    const q = queuedOrder('cn', buy, { atMs: sh('2025-10-10T11:35'), nextOpenMs: sh('2025-10-10T13:00'), decisionPrice: '1432.51', band: 0.02 });
    expect(q.order).toEqual({ ...buy, type: 'limit', limitPrice: '1461.16' }); // 1461.1602
    expect(q.until).toBe('2025-10-10T13:00:00+08:00');
    expect(q.message).toBe(
      'the exchange does not trade at 11:35; the order waits for the next open, 13:00 today (2025-10-10T13:00:00+08:00), ' +
        'as a limit buy at 1461.16 (the decision price 1432.51 + 2%, execution.queued_limit_band): if the open gaps beyond it, it does not fill',
    );
  });

  it('after the close: a market sell waits for the next trading day as a limit at -band', () => {
    const sell = { ...buy, side: 'sell' as const };
    const q = queuedOrder('cn', sell, { atMs: sh('2025-10-10T15:05'), nextOpenMs: sh('2025-10-13T09:30'), decisionPrice: '1430', band: 0.05 });
    expect(q.order).toEqual({ ...sell, type: 'limit', limitPrice: '1358.5' });
    expect(q.message).toContain('the next open, 09:30 on 2025-10-13 (2025-10-13T09:30:00+08:00), as a limit sell at 1358.5 (the decision price 1430 - 5%');
  });

  it('a limit order keeps its limit; an order without a decision price (a stop-loss) stays a market order', () => {
    const limit = { ...buy, type: 'limit' as const, limitPrice: '1400' };
    const at = { atMs: sh('2025-10-10T11:35'), nextOpenMs: sh('2025-10-10T13:00'), band: 0.02 };
    expect(queuedOrder('cn', limit, { ...at, decisionPrice: '1432.51' })).toMatchObject({ order: limit, message: expect.stringMatching(/, at its limit 1400$/) });
    expect(queuedOrder('cn', buy, at)).toMatchObject({ order: buy, message: expect.stringMatching(/, as a market order$/) });
    expect(queuedOrder('cn', buy, { ...at, decisionPrice: '0' }).order).toEqual(buy);
  });

  it('reads the instants in the exchange zone (New York, across the DST change)', () => {
    const aapl = { ...buy, symbol: 'AAPL' };
    const q = queuedOrder('us', aapl, { atMs: ny('2025-10-31T16:05'), nextOpenMs: ny('2025-11-03T09:30'), decisionPrice: '270', band: 0.02 });
    expect(q.until).toBe('2025-11-03T09:30:00-05:00');
    expect(q.message).toContain('does not trade at 16:05; the order waits for the next open, 09:30 on 2025-11-03');
  });
});
