import { describe, expect, it } from 'vitest';
import { CalendarCoverageError } from '../../src/domain/calendar/index.js';
import { dec } from '../../src/domain/money.js';
import { runChecks, type RiskInput } from '../../src/domain/risk/checks.js';
import { liveRampCap, tradingDaysSince } from '../../src/domain/risk/live-ramp.js';

const RAMP = { start_cap: 1000, growth_per_trading_day: 250, max: 2000 };

describe('live ramp cap: a function of the first live day, today and the exchange calendar', () => {
  it('is start_cap on the first day and grows by trading day, not by calendar day', () => {
    // NYSE, Thanksgiving week 2025: Thu 27 closed, Fri 28 an early close (a trading day), the weekend not.
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-25')).toMatchObject({ tradingDay: 0, firstDay: '2025-11-25', today: '2025-11-25' });
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-25').cap.toFixed()).toBe('1000');
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-26').cap.toFixed()).toBe('1250');
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-27').cap.toFixed()).toBe('1250');
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-28').cap.toFixed()).toBe('1500');
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-30').cap.toFixed()).toBe('1500');
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-12-01').tradingDay).toBe(3);
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-12-01').cap.toFixed()).toBe('1750');
  });

  it('stops at max', () => {
    expect(liveRampCap(RAMP, 'us', '2025-11-25', '2025-12-31').cap.toFixed()).toBe('2000');
    expect(liveRampCap({ ...RAMP, growth_per_trading_day: 0 }, 'us', '2025-11-25', '2025-12-31').cap.toFixed()).toBe('1000');
  });

  it('counts A-share trading days on the A-share calendar (the October Golden Week is closed)', () => {
    expect(tradingDaysSince('cn', '2025-09-30', '2025-10-09')).toBe(1);
    expect(tradingDaysSince('cn', '2025-09-30', '2025-09-30')).toBe(0);
    expect(tradingDaysSince('cn', '2025-10-09', '2025-09-30')).toBe(0); // a clock set back: no negative days
  });

  it('refuses a day the calendar does not cover (risk then fails closed)', () => {
    expect(() => liveRampCap(RAMP, 'cn', '2026-12-30', '2027-01-04')).toThrow(CalendarCoverageError);
  });
});

describe('risk rows: live ramp and buying power', () => {
  /** A US account, no fees, 500 held at cost, AAPL at 100. */
  const input = (over: Partial<RiskInput> = {}): RiskInput => ({
    mode: 'live',
    market: 'us',
    signature: 'alpha',
    sessionId: 's',
    intent: { side: 'buy', symbol: 'AAPL', quantity: 5, type: 'market' },
    account: { signature: 'alpha', cash: '10000', positions: { MSFT: { quantity: 1, sellable: 1, costBasis: '500' } }, equity: '10500', startOfDayEquity: '10500' },
    quote: { price: dec(100), atMs: 0 },
    knownSymbol: true,
    fees: { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 }, us: { commission_per_share: 0, commission_min: 0, sec_fee_rate: 0, taf_fee_per_share: 0 } },
    limits: { max_single_position_ratio: 0.9, max_daily_loss_ratio: 0.05, min_cash_reserve: 0, max_orders_per_session: 10, max_orders_per_minute: 30, duplicate_window_seconds: 0 },
    staleQuoteSeconds: 30,
    nowMs: 0,
    ordersThisSession: 0,
    recent: [],
    gate: 'active',
    ...over,
  });

  it('a buy that brings capital in use exactly to the cap passes; one share more is LIVE_RAMP_CAP', () => {
    const liveRamp = liveRampCap(RAMP, 'us', '2025-11-25', '2025-11-25'); // 1,000
    expect(runChecks(input({ liveRamp })).approved).toBe(true); // 500 + 500
    const over = runChecks(input({ liveRamp, intent: { side: 'buy', symbol: 'AAPL', quantity: 6, type: 'market' } }));
    expect(over.failure).toMatchObject({ rule: 'live_ramp', code: 'LIVE_RAMP_CAP', value: '1100.00', limit: '1000.00' });
    // Sells are never capped.
    expect(runChecks(input({ liveRamp, intent: { side: 'sell', symbol: 'MSFT', quantity: 1, type: 'market' } })).checks.map((c) => c.rule)).not.toContain('live_ramp');
    // Without a ramp the row does not run.
    expect(runChecks(input()).checks.map((c) => c.rule)).not.toContain('live_ramp');
  });

  it('a buy costing exactly the buying power passes; more is BUYING_POWER', () => {
    expect(runChecks(input({ buyingPower: dec(500) })).approved).toBe(true);
    expect(runChecks(input({ buyingPower: dec('499.99') })).failure).toMatchObject({
      rule: 'buying_power',
      code: 'BUYING_POWER',
      message: "BUYING_POWER: buying 5 AAPL costs 500.00 USD with fees, the broker account's buying power is 499.99 USD",
    });
  });
});
