import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { dec, type Dec } from '../../src/domain/money.js';
import {
  checkBarPrints,
  DEFAULT_PRICE_SANITY,
  PRICE_SANITY_RULES,
  PriceSanity,
  type PrintVerdict,
  type ReferencePrices,
  type SanityBar,
} from '../../src/domain/price-sanity.js';

const T0 = Date.parse('2025-11-07T15:00:00Z'); // 10:00 New York
const S = 1000;

/** A sanity gate with a reference per symbol, fed prints at `T0 + i s`, judged at the same `now`. */
function gate(refs: Record<string, ReferencePrices> = {}, market: 'us' | 'cn' = 'us', limits = DEFAULT_PRICE_SANITY) {
  const sanity = new PriceSanity({ market, limits, reference: (s) => refs[s] ?? {} });
  const check = (symbol: string, price: string, atMs: number, nowMs = atMs): PrintVerdict => sanity.check({ symbol, price: dec(price), atMs }, nowMs);
  return { sanity, check };
}
const outcomes = (vs: PrintVerdict[]) => vs.map((v) => `${v.outcome}${v.rule ? `:${v.rule}` : ''}`);

describe('the rule table', () => {
  it('drops before it quarantines, in a fixed order', () => {
    expect(PRICE_SANITY_RULES.map((r) => `${r.rule}:${r.action}`)).toEqual([
      'future:drop',
      'out_of_order:drop',
      'price_band:quarantine',
      'deviation:quarantine',
      'unreferenced:quarantine',
    ]);
  });
});

describe('timestamps', () => {
  it('drops a print stamped beyond now + the tolerance; one at the edge passes', () => {
    const { check } = gate({ AAPL: { previousClose: dec('270') } });
    expect(check('AAPL', '270.10', T0 + 5 * S, T0).outcome).toBe('accepted'); // exactly now + 5 s
    const v = check('AAPL', '270.20', T0 + 5 * S + 1, T0);
    expect(v).toMatchObject({ outcome: 'dropped', rule: 'future', alert: { code: 'PRICE_DROPPED', level: 'warning' } });
    expect(v.alert!.message).toContain('AAPL print 270.2 dropped (future)');
  });

  it('drops a print older than the last accepted one, whatever its price', () => {
    const { check } = gate({ GOOGL: { previousClose: dec('280') } });
    expect(check('GOOGL', '281', T0).outcome).toBe('accepted');
    expect(check('GOOGL', '1.50', T0 - 3600 * S, T0)).toMatchObject({ outcome: 'dropped', rule: 'out_of_order' });
    expect(check('GOOGL', '281', T0).outcome).toBe('accepted'); // same instant: not older
  });
});

describe('deviation from the reference', () => {
  it('quarantines an absurd print, holds it back through unrelated prints, and discards it when the price carries on', () => {
    const { check, sanity } = gate({ AAPL: { previousClose: dec('270') } });
    const vs = [check('AAPL', '270.5', T0), check('AAPL', '0.01', T0 + S), check('AAPL', '270.6', T0 + 2 * S)];
    expect(outcomes(vs)).toEqual(['accepted', 'quarantined:deviation', 'accepted']);
    expect(vs[1]!.alert).toMatchObject({ code: 'PRICE_QUARANTINED' });
    expect(vs[1]!.reason).toBe('100% away from the median of the last 1 accepted print(s) 270.5, limit 25%');
    expect(vs[2]!.discarded).toMatchObject({ rule: 'deviation', print: { price: dec('0.01') } });
    expect(sanity.quarantined()).toEqual([]);
  });

  it('confirms a real move after N further prints near it; exact repeats do not count; the reference restarts there', () => {
    const { check, sanity } = gate({ NVDA: { previousClose: dec('100') } });
    const M = 20 * S; // prints 20 s apart: the move holds for confirm_after_seconds (60) by the 4th
    check('NVDA', '100', T0);
    const vs = [
      check('NVDA', '130', T0 + M),
      check('NVDA', '130', T0 + M), // the same print again
      check('NVDA', '131', T0 + 2 * M),
      check('NVDA', '132', T0 + 3 * M),
    ];
    expect(outcomes(vs)).toEqual(['quarantined:deviation', 'quarantined:deviation', 'quarantined:deviation', 'quarantined:deviation']);
    expect(sanity.quarantined()).toEqual(['NVDA']);
    const confirmed = check('NVDA', '131.5', T0 + 4 * M);
    expect(confirmed).toMatchObject({ outcome: 'confirmed', rule: 'deviation' });
    expect(vs.filter((v) => v.alert)).toHaveLength(1);
    // The reference is now the move's median (131.25), not 100: 132 passes, 95 is the outlier.
    expect(check('NVDA', '132', T0 + 5 * M).outcome).toBe('accepted');
    expect(check('NVDA', '95', T0 + 6 * M).outcome).toBe('quarantined');
  });

  it('a burst of absurd prints does not confirm itself: a move is confirmed only once it has held for confirm_after_seconds of the run clock', () => {
    // Found through a hostile proxy in front of the replay server: five MSFT trades at 1e12 stamped
    // 1 ms apart were "confirmed"; a take-profit sold 3 MSFT at $1e12 and the next session bought
    // 999,775,406 MSFT. The stamps are the source's, so the wait is on the run's own clock.
    const { check, sanity } = gate({ MSFT: { previousClose: dec('500') } });
    check('MSFT', '500', T0);
    const burst = [1, 2, 3, 4, 5].map((i) => check('MSFT', '1000000000000', T0 + S + i, T0 + S));
    expect(outcomes(burst)).toEqual(Array(5).fill('quarantined:deviation'));
    expect(burst[4]!.reason).toMatch(/^4 confirmations of 1000000000000, held until 2025-11-07T10:01:01\.000-05:00 \(confirm_after_seconds 60\)$/);
    expect(sanity.quarantined()).toEqual(['MSFT']);
    // The feed's next real print ends the episode: the burst is discarded, never the last price.
    const real = check('MSFT', '501', T0 + 2 * S);
    expect(real).toMatchObject({ outcome: 'accepted', discarded: { print: { price: dec('1000000000000') } } });
    // A move that goes on for the whole wait is real.
    const moves = [0, 20, 40, 59, 60].map((t) => check('MSFT', '700', T0 + 10 * S + t * S));
    expect(outcomes(moves)).toEqual(['quarantined:deviation', 'quarantined:deviation', 'quarantined:deviation', 'quarantined:deviation', 'confirmed:deviation']);
  });

  it('alerts once per symbol and episode: a second absurd print of the same episode is counted, not alerted', () => {
    const { check } = gate({ MSFT: { previousClose: dec('500') } });
    check('MSFT', '500', T0);
    const a = check('MSFT', '1000000000000', T0 + S);
    const b = check('MSFT', '0.02', T0 + 2 * S);
    expect([a.alert?.code, b.alert]).toEqual(['PRICE_QUARANTINED', undefined]);
    expect(b.discarded).toMatchObject({ print: { price: dec('1000000000000') } });
    check('MSFT', '501', T0 + 3 * S); // the episode ends
    expect(check('MSFT', '2000', T0 + 4 * S).alert?.code).toBe('PRICE_QUARANTINED');
    // Symbols are independent.
    expect(gate({ X: { previousClose: dec('1') } }).check('X', '9', T0).alert?.code).toBe('PRICE_QUARANTINED');
  });

  it('with no reference at all, the first prints wait for confirmation, counted but not alerted', () => {
    const { check } = gate();
    const vs = ['10', '10.1', '10.05', '10.2'].map((p, i) => check('NEW', p, T0 + i * S));
    expect(outcomes(vs)).toEqual(['quarantined:unreferenced', 'quarantined:unreferenced', 'quarantined:unreferenced', 'confirmed:unreferenced']);
    expect(vs.some((v) => v.alert)).toBe(false);
    // A known price stands in for a previous close.
    expect(gate({ NEW: { known: dec('10') } }).check('NEW', '10.1', T0).outcome).toBe('accepted');
  });
});

describe('the A-share daily band', () => {
  it('quarantines outside previous close ± the board limit, the band edge passes', () => {
    const { check } = gate({ '600519.SH': { previousClose: dec('10.00') }, '300750.SZ': { previousClose: dec('10.00') } }, 'cn');
    const at = Date.parse('2025-11-18T02:00:00Z');
    expect(check('600519.SH', '11.00', at).outcome).toBe('accepted'); // limit-up, main board 10%
    expect(check('600519.SH', '11.01', at + S)).toMatchObject({ outcome: 'quarantined', rule: 'price_band' });
    expect(check('300750.SZ', '11.50', at).outcome).toBe('accepted'); // ChiNext 20%
  });

  it('once a move outside the band is confirmed, the band is waived for the rest of that day only', () => {
    const { check } = gate({ '600000.SH': { previousClose: dec('10.00') } }, 'cn');
    const day1 = Date.parse('2025-11-18T02:00:00Z');
    expect(check('600000.SH', '11.50', day1).rule).toBe('price_band');
    for (let i = 1; i < 3; i++) check('600000.SH', '11.50', day1 + i * S + 1);
    expect(check('600000.SH', '11.55', day1 + 60 * S).outcome).toBe('confirmed'); // held confirm_after_seconds
    expect(check('600000.SH', '11.60', day1 + 61 * S).outcome).toBe('accepted');
    const day2 = day1 + 86_400 * S;
    expect(check('600000.SH', '11.60', day2).rule).toBe('price_band'); // the given previous close is 10.00 again
  });
});

describe('bars at load', () => {
  const zone = 'America/New_York';
  const daily = (symbol: string, closes: string[], from = '2025-10-01'): SanityBar[] =>
    closes.map((c, i) => {
      const start = DateTime.fromISO(`${from}T09:30`, { zone }).plus({ days: i });
      return { symbol, start, end: start.set({ hour: 16, minute: 0 }), open: dec(c), close: dec(c), complete: true };
    });
  const prices = (bars: SanityBar[]) => bars.map((b) => b.close!.toFixed());

  it('refuses an isolated absurd bar, naming its symbol, time and price', () => {
    const bars = daily('AAPL', ['100', '101', '0.01', '102', '103']);
    const problems = checkBarPrints('us', bars);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ symbol: 'AAPL', rule: 'deviation', atMs: bars[2]!.start.toMillis() });
    expect((problems[0]!.price as Dec).toFixed()).toBe('0.01');
    expect(problems[0]!.message).toContain('the next prices did not follow it');
  });

  // Open (found with a copy of data/sample/us_hourly.jsonl whose AAPL close at 2025-10-21 14:00 and
  // the next bar's open and close and the one after's open were 100x): four prints confirm the
  // spike, the return to the old level is confirmed in turn, and the file loads; a backtest on it
  // reported +1393%. A bar file has no run clock to wait on; a spike that reverts needs a rule of
  // its own (a confirmed move undone within a few prints is a problem).
  it.todo('refuses a bars file whose 100x spike lasts confirmations + 1 prints and then reverts');

  it('accepts a move the following bars confirm (a split), and a first bar with nothing before it', () => {
    expect(checkBarPrints('us', daily('NVDA', ['1000', '1010', '101', '102', '101', '103']))).toEqual([]);
    expect(prices(daily('NVDA', ['5']))).toEqual(['5']);
    expect(checkBarPrints('us', daily('NVDA', ['5']))).toEqual([]);
  });

  it('refuses a jump still unconfirmed at the end of the data (the bar agents trade at)', () => {
    const problems = checkBarPrints('us', daily('MSFT', ['500', '501', '502', '1000000000000']));
    expect(problems.map((p) => [p.symbol, p.rule, p.message.endsWith('fewer than 3 later prices confirm it')])).toEqual([['MSFT', 'deviation', true]]);
  });

  it('checks the A-share band against the previous day', () => {
    const bars = daily('600519.SH', ['10', '10.5', '12', '10.6', '10.7'], '2025-11-17').map((b) => ({
      ...b,
      start: b.start.setZone('Asia/Shanghai', { keepLocalTime: true }),
      end: b.end.setZone('Asia/Shanghai', { keepLocalTime: true }),
    }));
    const problems = checkBarPrints('cn', bars);
    expect(problems.map((p) => p.rule)).toEqual(['price_band']);
    expect(problems[0]!.message).toContain('outside the daily band 9.45-11.55 (previous close 10.5');
  });
});
