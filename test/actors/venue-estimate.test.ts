/**
 * The simulated venue's own estimate of an order (price and fees) and its trading hours: what
 * risk prices orders with and what the engine's ticks say about the market, so that risk, the
 * order machine and the venue never disagree about what an order costs or whether it trades.
 */
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BrokerUpdate } from '../../src/actors/brokers/broker.js';
import { SimulatedBroker, type SimulatedRules } from '../../src/actors/brokers/simulated-broker.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { tickMessage } from '../../src/domain/clock-events.js';
import type { OrderSide } from '../../src/domain/orders.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { AI_TRADER } from '../support/fixtures.js';

let cnHourly: PriceStore;
beforeAll(async () => {
  cnHourly = await loadPriceStore(new URL('cn/sse50_60min.jsonl', AI_TRADER));
}, 60_000);

const sh = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' });

function venue(rules: SimulatedRules, start: DateTime, slippageBps = 0) {
  let t = start;
  const broker = new SimulatedBroker({ market: 'cn', rules, store: cnHourly, now: () => t, slippageBps, accounts: { s: { cash: '10000000' } } });
  const updates: BrokerUpdate[] = [];
  broker.updates$.subscribe((u) => updates.push(u));
  return { broker, updates, at: (next: DateTime) => (t = next) };
}

describe('estimate: the price and fees the venue will fill an order at', () => {
  it('ai-trader: the open of the bar labelled with the session, no fees, in the lunch break and after the close too', () => {
    const v = venue('ai-trader', sh('2025-10-10T11:35'));
    // 600519.SH, bar 10:30-11:30 (label 11:30): open 1437.58, close 1432.51
    const lunch = v.broker.estimate({ side: 'buy', symbol: '600519.SH', quantity: 100 });
    expect(lunch?.price.toFixed()).toBe('1437.58');
    expect(lunch?.fees.total.toFixed()).toBe('0');
    v.at(sh('2025-10-10T15:05')); // label 15:00: bar 14:00-15:00, open 1433.3
    expect(v.broker.estimate({ side: 'sell', symbol: '600519.SH', quantity: 100 })?.price.toFixed()).toBe('1433.3');
  });

  it('strict: the latest price of the session with slippage, and the fee table (stamp duty on sells)', () => {
    const v = venue('strict', sh('2025-10-10T11:35'));
    const buy = v.broker.estimate({ side: 'buy', symbol: '600519.SH', quantity: 100 });
    expect(buy?.price.toFixed()).toBe('1432.51'); // the close of the bar that ended at 11:30
    // 143251: commission 35.81, transfer 1.43
    expect(buy?.fees.total.toFixed(2)).toBe('37.24');
    // + stamp duty 71.63
    expect(v.broker.estimate({ side: 'sell', symbol: '600519.SH', quantity: 100 })?.fees.total.toFixed(2)).toBe('108.87');
    const slipped = venue('strict', sh('2025-10-10T10:35'), 10);
    expect(slipped.broker.estimate({ side: 'buy', symbol: '600028.SH', quantity: 100 })?.price.toFixed()).toBe('5.37'); // the open 5.36 of the bar that began at 10:30, x 1.001 -> tick up
  });

  it('a limit order is estimated at its limit; no price, an unknown symbol or a bad quantity give none', () => {
    const v = venue('strict', sh('2025-10-10T10:35'));
    expect(v.broker.estimate({ side: 'buy', symbol: '600519.SH', quantity: 100, type: 'limit', limitPrice: '1400.00' })?.price.toFixed()).toBe('1400');
    expect(v.broker.estimate({ side: 'buy', symbol: '000001.SZ', quantity: 100 })).toBeUndefined();
    expect(v.broker.estimate({ side: 'buy', symbol: '600519.SH', quantity: 0 })).toBeUndefined();
    expect(v.broker.estimate({ side: 'buy', symbol: '600519.SH', quantity: 1.5 })).toBeUndefined();
    v.at(sh('2025-10-09T09:00')); // before the day's first trade
    expect(v.broker.estimate({ side: 'buy', symbol: '600519.SH', quantity: 100 })).toBeUndefined();
  });

  it('agrees with the fill the venue then makes, for every session of a day, both rule sets, both sides', async () => {
    const symbols = ['600519.SH', '600028.SH', '688981.SH', '601318.SH'];
    for (const rules of ['strict', 'ai-trader'] as const) {
      const v = venue(rules, sh('2025-10-13T10:35'), rules === 'strict' ? 7 : 0);
      let compared = 0;
      // Sells on a later day than the buys (T+1); strict fills only while the market trades.
      for (const [day, side] of [['2025-10-13', 'buy'], ['2025-10-14', 'sell']] as [string, OrderSide][]) {
        for (const time of rules === 'strict' ? ['09:45', '10:35', '13:00', '14:05'] : ['10:35', '11:35', '14:05', '15:05']) {
          v.at(sh(`${day}T${time}`));
          for (const symbol of symbols) {
            const estimate = v.broker.estimate({ side, symbol, quantity: 100 });
            const before = v.updates.length;
            await v.broker.submit({ clientOrderId: `${rules}-${day}-${time}-${symbol}`, signature: 's', side, symbol, quantity: 100, type: 'market' });
            const fill = v.updates.slice(before).find((u) => u.type === 'broker.fill');
            expect(fill, `${rules} ${side} ${symbol} at ${day} ${time}`).toBeDefined();
            if (fill?.type !== 'broker.fill') continue;
            expect([fill.fill.price, fill.fill.fee], `${rules} ${side} ${symbol} at ${day} ${time}`).toEqual([
              estimate?.price.toFixed(),
              estimate?.fees.total.toFixed(),
            ]);
            compared++;
          }
        }
      }
      expect(compared).toBe(32);
    }
  });
});

describe('hours: when the venue trades an order', () => {
  it('strict: the exchange calendar (11:35 waits for 13:00, 15:05 for the next trading day)', () => {
    const { broker } = venue('strict', sh('2025-10-10T10:35'));
    expect(broker.hours('cn', sh('2025-10-10T10:35'))).toMatchObject({ open: true });
    const lunch = broker.hours('cn', sh('2025-10-10T11:35'));
    expect([lunch.open, lunch.nextOpen.toISO()]).toEqual([false, '2025-10-10T13:00:00.000+08:00']);
    const close = broker.hours('cn', sh('2025-10-10T15:05')); // a Friday
    expect([close.open, close.nextOpen.toISO()]).toEqual([false, '2025-10-13T09:30:00.000+08:00']);
  });

  it("ai-trader: every session trades at once (AI-Trader's venue fills each label, 11:30 and 15:00 included)", () => {
    const { broker } = venue('ai-trader', sh('2025-10-10T10:35'));
    for (const t of ['2025-10-10T11:35', '2025-10-10T15:05']) expect(broker.hours('cn', sh(t)).open).toBe(true);
  });

  it("a tick carries the venue's hours to the sessions (the calendar's by default)", () => {
    const tick = { type: 'TICK', market: 'cn', frequency: 'hourly', at: sh('2025-10-10T11:35'), late: false } as const;
    const { broker: strict } = venue('strict', tick.at);
    const { broker: aiTrader } = venue('ai-trader', tick.at);
    expect(tickMessage(tick, 0)).toMatchObject({ marketOpen: false, nextOpenMs: sh('2025-10-10T13:00').toMillis() });
    expect(tickMessage(tick, 0, strict.hours)).toMatchObject({ marketOpen: false, nextOpenMs: sh('2025-10-10T13:00').toMillis() });
    expect(tickMessage(tick, 0, aiTrader.hours)).toMatchObject({ marketOpen: true, nextOpenMs: tick.at.toMillis() });
  });
});
