/** A price store of one complete daily bar per symbol on `day`: a previous close for the price sanity rules. */
import { DateTime } from 'luxon';
import type { PriceBar } from '../../src/domain/bars.js';
import { MARKETS, type Market } from '../../src/domain/markets.js';
import { dec } from '../../src/domain/money.js';
import { PriceStore } from '../../src/domain/price-store.js';

export function closesOn(market: Market, day: string, closes: Readonly<Record<string, string>>): PriceStore {
  const zone = MARKETS[market].zone;
  const start = DateTime.fromISO(`${day}T09:30`, { zone });
  const bars: PriceBar[] = Object.entries(closes).map(([symbol, close]) => ({
    symbol,
    market,
    interval: '1d',
    start,
    end: start.set({ hour: market === 'cn' ? 15 : 16, minute: 0 }),
    label: day,
    open: dec(close),
    high: dec(close),
    low: dec(close),
    close: dec(close),
    volume: dec(1_000_000),
    complete: true,
  }));
  return PriceStore.from(bars);
}
