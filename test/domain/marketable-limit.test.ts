import { describe, expect, it } from 'vitest';
import { LIVE_BROKERS } from '../../src/config/live-gate.js';
import { marketableLimit } from '../../src/domain/marketable-limit.js';
import { dec } from '../../src/domain/money.js';
import { LIVE_BROKER_TYPES } from '../../src/runtime/account-brokers.js';

const at = (side: 'buy' | 'sell', price: string, over: { prevClose?: string; collarBps?: number; symbol?: string } = {}) =>
  marketableLimit({ market: 'cn', symbol: over.symbol ?? '600519.SH', side, price: dec(price), ...(over.prevClose ? { prevClose: dec(over.prevClose) } : {}), collarBps: over.collarBps ?? 100 }).toFixed(2);

describe('a market order as a marketable limit (limit-only venues)', () => {
  it('goes the collar through the price, on the tick: a buy rounded down, a sell up', () => {
    expect(at('buy', '10.00')).toBe('10.10');
    expect(at('sell', '10.00')).toBe('9.90');
    // 12.34 x 1.01 = 12.4634 -> 12.46; x 0.99 = 12.2166 -> 12.22
    expect(at('buy', '12.34')).toBe('12.46');
    expect(at('sell', '12.34')).toBe('12.22');
  });

  it('never on the wrong side of the price, even with a collar smaller than a tick', () => {
    expect(at('buy', '3.005', { collarBps: 1 })).toBe('3.01');
    expect(at('sell', '3.005', { collarBps: 1 })).toBe('3.00');
  });

  it('stays inside the day band', () => {
    // previous close 10.00, main board ±10%: 9.00-11.00
    expect(at('buy', '10.95', { prevClose: '10.00' })).toBe('11.00');
    expect(at('sell', '9.05', { prevClose: '10.00' })).toBe('9.00');
  });
});

describe('live broker types', () => {
  it('the gate and the runtime table name the same brokers', () => {
    expect([...LIVE_BROKERS].sort()).toEqual([...LIVE_BROKER_TYPES].sort());
  });
});
