import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { parseAlphaVantageDocument, type Bar, type PriceBar } from '../../src/domain/bars.js';
import { InputError } from '../../src/domain/errors.js';
import { Dec } from '../../src/domain/money.js';
import { PriceStore } from '../../src/domain/price-store.js';
import { AI_TRADER } from '../support/fixtures.js';


/** Parse a .jsonl price file with the pure parser (this test stays out of actors/). */
function barsOf(rel: string): PriceBar[] {
  const text = readFileSync(fileURLToPath(new URL(rel, AI_TRADER)), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l, i) => parseAlphaVantageDocument(JSON.parse(l), { where: `${rel}:${i + 1}` }).bars);
}

const cnHourly = PriceStore.from(barsOf('cn/sse50_60min.jsonl'));
const cnDaily = PriceStore.from(barsOf('cn/sse50_daily.jsonl'));
const usHourly = PriceStore.from(barsOf('us/nasdaq100_60min.jsonl'));

const sh = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' });
const ny = (iso: string) => DateTime.fromISO(iso, { zone: 'America/New_York' });

/** All bars of a symbol, through the store's own API: the labels come from the file. */
function allBars(store: PriceStore, symbol: string): PriceBar[] {
  const far = DateTime.fromISO('2100-01-01T00:00:00Z');
  const done: PriceBar[] = store.barsAsOf(symbol, far);
  const last = store.priceAsOf(symbol, far)?.bar;
  return last && !last.complete ? [...done, last] : done;
}

describe('PriceStore on the real files', () => {
  it('knows its symbols and range', () => {
    expect(cnHourly.symbols()).toHaveLength(50);
    expect(usHourly.symbols()).toHaveLength(101);
    expect(usHourly.symbols()).toContain('AAPL');
    expect(cnHourly.range()!.first.toISO()).toBe('2025-10-09T09:30:00.000+08:00');
    expect(cnHourly.range()!.last.toISO()).toBe('2025-11-19T15:00:00.000+08:00');
    expect(usHourly.range()!.first.toISO()).toBe('2025-10-01T10:00:00.000-04:00');
    expect(usHourly.range()!.last.toISO()).toBe('2025-11-10T16:00:00.000-05:00');
    expect(cnHourly.interval('600519.SH')).toBe('60min');
    expect(cnDaily.market('600519.SH')).toBe('cn');
    expect(usHourly.has('NOPE')).toBe(false);
  });

  it('no look-ahead: a bar is invisible 1 ms before its end and visible at its end', () => {
    for (const [store, symbols] of [
      [cnHourly, ['600519.SH', '688981.SH', '601318.SH']],
      [cnDaily, ['600519.SH', '600036.SH']],
      [usHourly, ['AAPL', 'TSLA', 'NVDA']],
    ] as const) {
      for (const symbol of symbols) {
        const bars = allBars(store, symbol);
        expect(bars.length).toBeGreaterThan(20);
        for (const b of bars) {
          const before = b.end.minus({ milliseconds: 1 });
          expect(store.barsAsOf(symbol, before).includes(b as Bar)).toBe(false);
          expect(store.lastBarAsOf(symbol, before)).not.toBe(b);
          const p = store.priceAsOf(symbol, before)!;
          expect(p.at.toMillis()).toBeLessThanOrEqual(before.toMillis());
          if (p.bar === b) expect(p.source).toBe('open'); // never its close
          if (b.complete) {
            expect(store.lastBarAsOf(symbol, b.end)).toBe(b);
            expect(store.barsAsOf(symbol, b.end).at(-1)).toBe(b);
          }
        }
      }
    }
  });

  it('no look-ahead at random instants: everything returned was known at t', () => {
    const { first, last } = usHourly.range()!;
    fc.assert(
      fc.property(
        fc.integer({ min: first.toMillis() - 3_600_000, max: last.toMillis() + 86_400_000 }),
        fc.constantFrom('AAPL', 'MSFT', 'GOOGL'),
        fc.integer({ min: 1, max: 30 }),
        (ms, symbol, limit) => {
          const t = DateTime.fromMillis(ms, { zone: 'America/New_York' });
          const bars = usHourly.barsAsOf(symbol, t, limit);
          expect(bars.length).toBeLessThanOrEqual(limit);
          for (const b of bars) expect(b.end.toMillis()).toBeLessThanOrEqual(ms);
          for (let i = 1; i < bars.length; i++) expect(bars[i - 1]!.end.toMillis()).toBeLessThanOrEqual(bars[i]!.start.toMillis());
          const p = usHourly.priceAsOf(symbol, t);
          if (p) {
            expect(p.at.toMillis()).toBeLessThanOrEqual(ms);
            expect(p.source === 'open' ? p.bar.start : p.bar.end).toBe(p.at);
          }
          const pc = usHourly.previousClose(symbol, t);
          if (pc) expect(pc.at.toMillis()).toBeLessThan(ms);
        },
      ),
      { numRuns: 500, seed: 20251009 },
    );
  });

  it('barsAsOf returns oldest first and honours limit', () => {
    const t = sh('2025-10-10T15:00:00');
    const all = cnHourly.barsAsOf('600519.SH', t);
    expect(all.map((b) => b.label)).toEqual([
      '2025-10-09 10:30:00', '2025-10-09 11:30:00', '2025-10-09 14:00:00', '2025-10-09 15:00:00',
      '2025-10-10 10:30:00', '2025-10-10 11:30:00', '2025-10-10 14:00:00', '2025-10-10 15:00:00',
    ]);
    expect(cnHourly.barsAsOf('600519.SH', t, 3).map((b) => b.label)).toEqual(all.slice(-3).map((b) => b.label));
    expect(cnHourly.barsAsOf('600519.SH', t, 0)).toEqual([]);
    expect(cnHourly.barsAsOf('600519.SH', sh('2025-10-09T10:29:59'))).toEqual([]);
    expect(cnHourly.barsAsOf('NOPE', t)).toEqual([]);
  });

  it('A-share lunch: at 12:00 the latest price is the 11:30 close; at 13:00 the 14:00 bar\'s open', () => {
    const lunch = cnHourly.priceAsOf('600519.SH', sh('2025-10-09T12:00:00'))!;
    expect(lunch.source).toBe('close');
    expect(lunch.bar.label).toBe('2025-10-09 11:30:00');
    expect(lunch.at.toISO()).toBe('2025-10-09T11:30:00.000+08:00');
    const afternoon = cnHourly.priceAsOf('600519.SH', sh('2025-10-09T13:00:00'))!;
    expect(afternoon.source).toBe('open');
    expect(afternoon.bar.label).toBe('2025-10-09 14:00:00');
    expect(afternoon.at.toISO()).toBe('2025-10-09T13:00:00.000+08:00');
    expect(afternoon.price.eq(afternoon.bar.open)).toBe(true);
  });

  it('priceAsOf returns the open of a started bar, known at its start', () => {
    const p = usHourly.priceAsOf('AAPL', ny('2025-10-30T10:30:00'))!;
    expect(p.source).toBe('open');
    expect(p.price.eq('270.8480')).toBe(true);
    expect(p.at.toISO()).toBe('2025-10-30T10:00:00.000-04:00');
    expect(p.bar.label).toBe('2025-10-30 10:00:00');
    // At 10:00 sharp the 10:00 bar has started: its open, not yesterday's close.
    expect(usHourly.priceAsOf('AAPL', ny('2025-10-30T10:00:00'))!.bar.label).toBe('2025-10-30 10:00:00');
    // Before the open: yesterday's 15:00-16:00 close.
    const pre = usHourly.priceAsOf('AAPL', ny('2025-10-30T09:45:00'))!;
    expect(pre.source).toBe('close');
    expect(pre.bar.label).toBe('2025-10-29 15:00:00');
    expect(pre.at.toISO()).toBe('2025-10-29T16:00:00.000-04:00');
    // Daily: mid-session, the day's open.
    const d = cnDaily.priceAsOf('600519.SH', sh('2025-10-09T11:00:00'))!;
    expect(d.source).toBe('open');
    expect(d.price.eq('1436.0')).toBe(true); // the file's "1. buy price"
    expect(d.at.toISO()).toBe('2025-10-09T09:30:00.000+08:00');
    // After the close: the day's close.
    expect(cnDaily.priceAsOf('600519.SH', sh('2025-10-09T15:00:00'))!.price.eq('1436.78')).toBe(true);
    expect(cnDaily.priceAsOf('600519.SH', sh('2025-10-09T09:29:59.999'))).toBeUndefined();
    expect(cnDaily.priceAsOf('NOPE', sh('2025-10-09T11:00:00'))).toBeUndefined();
  });

  it('AI-Trader\'s open-only last bar: its open is known from its start, it never completes', () => {
    const open = cnDaily.barLabelled('600519.SH', '2025-11-19')!;
    expect(open.complete).toBe(false);
    const during = cnDaily.priceAsOf('600519.SH', sh('2025-11-19T10:00:00'))!;
    expect(during.bar).toBe(open);
    expect(during.source).toBe('open');
    expect(during.price.eq('1474.0')).toBe(true);
    const after = cnDaily.priceAsOf('600519.SH', sh('2025-11-25T10:00:00'))!;
    expect(after.bar).toBe(open);
    expect(cnDaily.lastBarAsOf('600519.SH', sh('2025-11-25T10:00:00'))!.label).toBe('2025-11-18');
    expect(cnDaily.barsAsOf('600519.SH', sh('2025-11-25T10:00:00'))).toHaveLength(29);
    expect(cnDaily.previousClose('600519.SH', sh('2025-11-19T10:00:00'))!.bar.label).toBe('2025-11-18');
    expect(cnDaily.previousClose('600519.SH', sh('2025-11-20T10:00:00'))).toBeUndefined();
  });

  it('previousClose: the last session before t\'s trading day', () => {
    const daily = cnDaily.previousClose('600519.SH', sh('2025-10-13T09:00:00'))!; // Monday
    expect(daily.bar.label).toBe('2025-10-10');
    expect(daily.source).toBe('close');
    expect(daily.at.toISO()).toBe('2025-10-10T15:00:00.000+08:00');
    const hourly = cnHourly.previousClose('600519.SH', sh('2025-10-13T14:30:00'))!;
    expect(hourly.bar.label).toBe('2025-10-10 15:00:00');
    expect(cnDaily.previousClose('600519.SH', sh('2025-10-09T16:00:00'))).toBeUndefined();
    // A UTC instant is read on the exchange's calendar: 2025-11-03T14:00Z is 09:00 in New York.
    const us = usHourly.previousClose('AAPL', DateTime.fromISO('2025-11-03T14:00:00Z'))!;
    expect(us.bar.label).toBe('2025-10-31 15:00:00');
    expect(us.at.toISO()).toBe('2025-10-31T16:00:00.000-04:00');
  });

  it('barLabelled and barStartingAt find the AI-Trader fill bar', () => {
    const b = usHourly.barLabelled('AAPL', '2025-10-30 10:00:00')!;
    expect(usHourly.barLabelled('AAPL', '2025-10-30 10:00')).toBe(b);
    expect(usHourly.barStartingAt('AAPL', ny('2025-10-30T10:00:00'))).toBe(b);
    expect(usHourly.barStartingAt('AAPL', DateTime.fromISO('2025-10-30T14:00:00Z'))).toBe(b);
    expect(usHourly.barStartingAt('AAPL', ny('2025-10-30T10:30:00'))).toBeUndefined();
    expect(cnHourly.barStartingAt('600519.SH', sh('2025-10-09T13:00:00'))!.label).toBe('2025-10-09 14:00:00');
    expect(cnHourly.barLabelled('600519.SH', '2025-10-09 12:00:00')).toBeUndefined();
    expect(usHourly.barLabelled('NOPE', '2025-10-30 10:00:00')).toBeUndefined();
  });
});

describe('PriceStore.from refuses inconsistent input', () => {
  const t0 = sh('2025-10-09T09:30:00');
  const bar = (label: string, startH: number, endH: number, over: Partial<Bar> = {}): Bar => ({
    symbol: 'X', market: 'cn', interval: '60min', label,
    start: t0.plus({ hours: startH }), end: t0.plus({ hours: endH }),
    open: new Dec(1), high: new Dec(2), low: new Dec(1), close: new Dec(1.5), volume: new Dec(100),
    complete: true, ...over,
  });

  it('accepts bars in any order', () => {
    const s = PriceStore.from([bar('b', 1, 2), bar('a', 0, 1)]);
    expect(s.barsAsOf('X', t0.plus({ hours: 2 })).map((b) => b.label)).toEqual(['a', 'b']);
  });

  it('refuses overlap, duplicate labels, mixed intervals, an open-only bar that is not last', () => {
    expect(() => PriceStore.from([bar('a', 0, 2), bar('b', 1, 3)])).toThrow(/before the previous bar "a" ends/);
    expect(() => PriceStore.from([bar('a', 0, 1), bar('a', 1, 2)])).toThrow(/two bars carry this label/);
    expect(() => PriceStore.from([bar('a', 0, 1), bar('b', 1, 2, { interval: '1d' })])).toThrow(/build one store per interval/);
    const openOnly: PriceBar = { ...bar('a', 0, 1), complete: false };
    expect(() => PriceStore.from([openOnly, bar('b', 1, 2)])).toThrow(/must be the last/);
    expect(() => PriceStore.from([bar('a', 1, 1)])).toThrow(InputError);
  });

  it('an empty store answers nothing', () => {
    const s = PriceStore.from([]);
    expect(s.symbols()).toEqual([]);
    expect(s.range()).toBeUndefined();
    expect(s.priceAsOf('X', t0)).toBeUndefined();
  });
});
