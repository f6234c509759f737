import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { StopLossWatcher } from '../../src/actors/risk/stop-loss-watcher.js';
import { parseAlphaVantageDocument, type PriceBar } from '../../src/domain/bars.js';
import { isOpenAt, nextOpen } from '../../src/domain/calendar/index.js';
import { Dec, dec } from '../../src/domain/money.js';
import type { Position } from '../../src/domain/portfolio.js';
import { PriceStore } from '../../src/domain/price-store.js';
import type { Quote } from '../../src/domain/quotes.js';
import { barQuoteEvents, barQuotes } from '../../src/streams/bar-quotes.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { AI_TRADER } from '../support/fixtures.js';

const ZONE = 'Asia/Shanghai';
const sh = (s: string) => DateTime.fromISO(s, { zone: ZONE });

function bar(symbol: string, start: string, end: string, open: string, close?: string): PriceBar {
  const common = { symbol, market: 'cn' as const, interval: '60min' as const, start: sh(start), end: sh(end), label: `${start.slice(0, 10)} ${end.slice(11)}:00`, open: dec(open) };
  return close === undefined
    ? { ...common, complete: false }
    : { ...common, complete: true, high: Dec.max(open, close), low: Dec.min(open, close), close: dec(close), volume: dec(100) };
}

const store = PriceStore.from([
  bar('B', '2025-10-09T09:30', '2025-10-09T10:30', '20', '21'),
  bar('A', '2025-10-09T09:30', '2025-10-09T10:30', '10', '11'),
  bar('A', '2025-10-09T10:30', '2025-10-09T11:30', '11.1', '12'),
  bar('B', '2025-10-09T10:30', '2025-10-09T11:30', '22'), // open-only: no close, ever
]);
const DAY = { from: sh('2025-10-09T00:00'), to: sh('2025-10-09T23:59') };
const fmt = (q: Quote) => `${DateTime.fromMillis(q.atMs, { zone: ZONE }).toFormat('HH:mm')} ${q.symbol} ${q.source} ${q.price}`;

/** Subscribe on a virtual scheduler; each quote with the virtual time it was emitted at. */
function replay(start: DateTime, from: DateTime, to: DateTime, s: PriceStore = store) {
  const scheduler = new EpochVirtualScheduler(start);
  const seen: { q: Quote; nowMs: number }[] = [];
  let done = false;
  barQuotes(s, from, to, {}, scheduler).subscribe({ next: (q) => seen.push({ q, nowMs: scheduler.now() }), complete: () => (done = true) });
  return { scheduler, seen, done: () => done };
}

describe('bar quotes', () => {
  it('opens at their start, closes at their end (complete bars only), in time order, closes first at a shared instant', () => {
    expect(barQuoteEvents(store, DAY.from, DAY.to).map(fmt)).toEqual([
      '09:30 A bar-open 10',
      '09:30 B bar-open 20',
      '10:30 A bar-close 11',
      '10:30 B bar-close 21',
      '10:30 A bar-open 11.1',
      '10:30 B bar-open 22',
      '11:30 A bar-close 12',
    ]);
  });

  it('are emitted on the scheduler exactly at their instant, never earlier (no look-ahead)', () => {
    const r = replay(DAY.from, DAY.from, DAY.to);
    r.scheduler.advanceTo(sh('2025-10-09T10:29:59.999'));
    expect(r.seen.map((s) => fmt(s.q))).toEqual(['09:30 A bar-open 10', '09:30 B bar-open 20']);
    r.scheduler.advanceTo(sh('2025-10-09T11:29:59.999'));
    expect(r.seen).toHaveLength(6);
    expect(r.done()).toBe(false);
    r.scheduler.advanceTo(DAY.to);
    expect(r.seen).toHaveLength(7);
    expect(r.seen.every((s) => s.nowMs === s.q.atMs)).toBe(true);
    expect(r.done()).toBe(true);
  });

  it('keep to the window [from, to]: a close after `to` is not read, the bar in progress gives its open', () => {
    expect(barQuoteEvents(store, sh('2025-10-09T10:00'), sh('2025-10-09T11:00')).map(fmt)).toEqual([
      '10:30 A bar-close 11',
      '10:30 B bar-close 21',
      '10:30 A bar-open 11.1',
      '10:30 B bar-open 22',
    ]);
    expect(barQuoteEvents(store, DAY.from, DAY.to, { symbols: ['B'] }).map(fmt)).toEqual(['09:30 B bar-open 20', '10:30 B bar-close 21', '10:30 B bar-open 22']);
  });

  it('skip instants already past when subscribed (no catch-up burst)', () => {
    const r = replay(sh('2025-10-09T10:00'), DAY.from, DAY.to);
    r.scheduler.advanceTo(DAY.to);
    expect(r.seen.map((s) => fmt(s.q))[0]).toBe('10:30 A bar-close 11');
    expect(r.seen).toHaveLength(5);
  });

  it('stop on unsubscribe', () => {
    const scheduler = new EpochVirtualScheduler(DAY.from);
    const seen: Quote[] = [];
    const sub = barQuotes(store, DAY.from, DAY.to, {}, scheduler).subscribe((q) => {
      seen.push(q);
      if (seen.length === 3) sub.unsubscribe();
    });
    scheduler.advanceTo(DAY.to);
    expect(seen).toHaveLength(3);
  });
});

// ---------------------------------------------------------------------------------------

function barsOf(rel: string): PriceBar[] {
  return readFileSync(fileURLToPath(new URL(rel, AI_TRADER)), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l, i) => parseAlphaVantageDocument(JSON.parse(l), { where: `${rel}:${i + 1}` }).bars);
}

describe('bar quotes on the real A-share daily file', () => {
  const daily = PriceStore.from(barsOf('cn/sse50_daily.jsonl'));
  const from = sh('2025-10-09T00:00');
  const to = sh('2025-10-17T23:59');

  it('every quote is what the point-in-time store knows at its instant', () => {
    const r = replay(from, from, to, daily);
    r.scheduler.advanceTo(to);
    expect(r.seen.length).toBe(2 * 50 * 7); // 7 trading days, open + close of 50 stocks
    for (const { q, nowMs } of r.seen) {
      expect(nowMs).toBe(q.atMs);
      const known = daily.priceAsOf(q.symbol, DateTime.fromMillis(nowMs, { zone: ZONE }))!;
      expect(known.price.toFixed()).toBe(q.price);
      expect(known.source).toBe(q.source === 'bar-open' ? 'open' : 'close');
    }
  });

  it('drive the stop-loss in a backtest: a close under the stop sells at the next open', () => {
    // 600519.SH: 10-09 open 1436 / close 1436.78, 10-10 open 1437.6 / close 1430, 10-13 open 1415.7, ...
    // A cost of 1556.5217 a share puts the stop at 1431.99996: first crossed by the 10-10 close
    // (15:00, the market is closed), so the sell goes out at the next open, Monday 10-13 09:30.
    const symbol = '600519.SH';
    const position: Position = { quantity: 100, costBasis: dec('155652.17'), lots: [{ date: '2025-10-08', quantity: 100 }] };
    const scheduler = new EpochVirtualScheduler(from);
    const orders: { atIso: string; quantity: number; nowMs: number }[] = [];
    const watcher = new StopLossWatcher({
      market: 'cn',
      ratios: { stopLoss: dec('0.08') },
      signatures: ['alpha'],
      positions: () => ({ [symbol]: position }),
      now: () => scheduler.now(),
      isOpenAt,
      nextOpen,
      placeOrder: (_s, intent, _r, atIso) => orders.push({ atIso, quantity: intent.quantity, nowMs: scheduler.now() }),
    });
    barQuotes(daily, from, to, { symbols: [symbol] }, scheduler).subscribe((q) => watcher.onQuote(q));
    scheduler.advanceTo(sh('2025-10-10T15:00'));
    expect(orders).toEqual([]);
    expect(watcher.phaseOf('alpha', symbol)).toBe('deferred');
    scheduler.advanceTo(to);
    expect(orders).toEqual([{ atIso: '2025-10-13T09:30:00.000+08:00', quantity: 100, nowMs: sh('2025-10-13T09:30').toMillis() }]);
  });
});
