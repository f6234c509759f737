import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { parseAlphaVantageDocument, type PriceBar } from '../../src/domain/bars.js';
import {
  boardOf,
  checkCash,
  checkLot,
  checkLotPlain,
  checkMarketOpen,
  checkPosition,
  checkPriceBand,
  checkPriceLimit,
  checkTick,
  checkTPlusOne,
  labelledBarAt,
  MARKET_RULES,
  priceBand,
  roundToTick,
  tickSize,
} from '../../src/domain/market-rules.js';
import { dec } from '../../src/domain/money.js';
import { PriceStore } from '../../src/domain/price-store.js';
import { AI_TRADER } from '../support/fixtures.js';


/** The pure parser over a real file (this test stays out of actors/). */
function storeOf(rel: string): PriceStore {
  const text = readFileSync(fileURLToPath(new URL(rel, AI_TRADER)), 'utf8');
  const bars: PriceBar[] = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l, i) => parseAlphaVantageDocument(JSON.parse(l), { where: `${rel}:${i + 1}` }).bars);
  return PriceStore.from(bars);
}

const sh = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' });
const ny = (iso: string) => DateTime.fromISO(iso, { zone: 'America/New_York' });

describe('market rules are a table', () => {
  it('has lots, T+1, currency and ticks per market', () => {
    expect(MARKET_RULES.cn).toMatchObject({ lotSize: 100, tPlusOne: true, currency: 'CNY', oddLotSell: 'remainder' });
    expect(MARKET_RULES.us).toMatchObject({ lotSize: 1, tPlusOne: false, currency: 'USD', oddLotSell: 'any' });
  });

  it('puts each A-share symbol on its board', () => {
    expect(boardOf('cn', '600519.SH').board).toBe('main');
    expect(boardOf('cn', '000001.SZ').board).toBe('main');
    expect(boardOf('cn', '688981.SH').board).toBe('star');
    expect(boardOf('cn', '300750.SZ').board).toBe('chinext');
    expect(boardOf('cn', '301236.SZ').board).toBe('chinext');
    expect(boardOf('cn', '302132.SZ').board).toBe('main');
    expect(boardOf('cn', '830799.BJ').board).toBe('bse');
    expect(boardOf('us', 'AAPL').board).toBe('us');
  });

  it('ticks: 0.01, and 0.0001 below one dollar in the US', () => {
    expect(tickSize('cn', dec('0.5')).toFixed()).toBe('0.01');
    expect(tickSize('us', dec('0.9999')).toFixed()).toBe('0.0001');
    expect(tickSize('us', dec('1')).toFixed()).toBe('0.01');
    expect(roundToTick(dec('5.34534'), dec('0.01'), 'up').toFixed()).toBe('5.35');
    expect(roundToTick(dec('5.34534'), dec('0.01'), 'down').toFixed()).toBe('5.34');
    expect(roundToTick(dec('5.34'), dec('0.01'), 'up').toFixed()).toBe('5.34');
    expect(roundToTick(dec('5.345'), dec('0.01'), 'nearest').toFixed()).toBe('5.35');
  });
});

describe('price bands', () => {
  it('rounds prevClose x (1 ± r) half-up to the cent', () => {
    // 10.05 x 1.1 = 11.055 -> 11.06; 10.05 x 0.9 = 9.045 -> 9.05 (half-down or banker's would give 9.04)
    const band = priceBand('cn', '600000.SH', dec('10.05'))!;
    expect([band.up.toFixed(2), band.down.toFixed(2)]).toEqual(['11.06', '9.05']);
    // real: 601888.SH closed 78.99 on 2025-11-07 and hit 86.89 (limit-up) on 2025-11-10
    const real = priceBand('cn', '601888.SH', dec('78.99'))!;
    expect([real.up.toFixed(2), real.down.toFixed(2)]).toEqual(['86.89', '71.09']);
  });

  it('gives STAR and ChiNext ±20%, the main board ±10%, the US none', () => {
    const star = priceBand('cn', '688111.SH', dec('297'))!;
    expect([star.up.toFixed(2), star.down.toFixed(2)]).toEqual(['356.40', '237.60']);
    const chinext = priceBand('cn', '300750.SZ', dec('250.00'))!;
    expect([chinext.up.toFixed(2), chinext.down.toFixed(2)]).toEqual(['300.00', '200.00']);
    expect(priceBand('us', 'AAPL', dec('250'))).toBeUndefined();
  });
});

describe('checkLot', () => {
  const buy = (quantity: number, symbol = '600519.SH') => checkLot('cn', { side: 'buy', symbol, quantity });
  it('buys: 100 passes, 99, 101 and 150 are refused with the lot size named', () => {
    expect(buy(100)).toBeUndefined();
    expect(buy(200)).toBeUndefined();
    expect(buy(99)?.reason).toBe('LOT_SIZE');
    expect(buy(101)?.reason).toBe('LOT_SIZE');
    expect(buy(150)).toEqual({ reason: 'LOT_SIZE', message: 'LOT_SIZE: 150 shares of 600519.SH is not a multiple of 100' });
  });

  it('sells: a whole odd position may go, and any order carrying the whole odd remainder', () => {
    const sell = (quantity: number, available: number) => checkLot('cn', { side: 'sell', symbol: '600519.SH', quantity, available });
    expect(sell(250, 250)).toBeUndefined(); // the whole position
    expect(sell(99, 99)).toBeUndefined(); // a whole position below one lot
    expect(sell(50, 250)).toBeUndefined(); // just the odd remainder
    expect(sell(150, 250)).toBeUndefined(); // a lot plus the whole remainder, in one order
    expect(sell(200, 250)).toBeUndefined(); // whole lots
    expect(sell(130, 250)?.reason).toBe('LOT_SIZE'); // splits the remainder
    expect(sell(30, 250)?.message).toBe(
      'LOT_SIZE: 30 shares of 600519.SH is not a multiple of 100; an odd lot may only be sold together with the whole odd remainder of 50 of the 250 sellable shares',
    );
    expect(sell(150, 300)?.reason).toBe('LOT_SIZE'); // no odd remainder to carry
    expect(sell(350, 250)?.reason).toBe('LOT_SIZE'); // more than available: never an odd lot
    expect(checkLot('cn', { side: 'sell', symbol: '600519.SH', quantity: 50 })?.reason).toBe('LOT_SIZE'); // availability unknown
  });

  it('US: any whole number of shares', () => {
    expect(checkLot('us', { side: 'buy', symbol: 'AAPL', quantity: 1 })).toBeUndefined();
    expect(checkLot('us', { side: 'sell', symbol: 'AAPL', quantity: 7 })).toBeUndefined();
  });

  it('AI-Trader plain rule: amount % 100, both sides', () => {
    expect(checkLotPlain('cn', { symbol: '600028.SH', quantity: 300 })).toBeUndefined();
    expect(checkLotPlain('cn', { symbol: '600028.SH', quantity: 250 })?.reason).toBe('LOT_SIZE');
    expect(checkLotPlain('us', { symbol: 'AAPL', quantity: 3 })).toBeUndefined();
  });
});

describe('position and T+1', () => {
  it('refuses selling more than is held', () => {
    expect(checkPosition({ symbol: '600028.SH', quantity: 100, held: 100 })).toBeUndefined();
    expect(checkPosition({ symbol: '600028.SH', quantity: 101, held: 100 })).toEqual({
      reason: 'INSUFFICIENT_POSITION',
      message: 'INSUFFICIENT_POSITION: selling 101 shares of 600028.SH but only 100 are held',
    });
  });

  it('refuses selling shares bought today, up to exactly what is sellable', () => {
    const q = { symbol: '600028.SH', held: 300, sellable: 200, today: '2025-10-10' };
    expect(checkTPlusOne('cn', { ...q, quantity: 200 })).toBeUndefined();
    const v = checkTPlusOne('cn', { ...q, quantity: 201 });
    expect(v?.reason).toBe('T_PLUS_ONE');
    expect(v?.message).toBe(
      'T_PLUS_ONE: selling 201 shares of 600028.SH: 100 of the 300 held were bought today (2025-10-10) and cannot be sold before the next trading day; 200 can be sold now',
    );
    expect(checkTPlusOne('us', { ...q, symbol: 'AAPL', quantity: 300 })).toBeUndefined();
  });
});

describe('checkPriceLimit', () => {
  const at = (side: 'buy' | 'sell', price: string, symbol = '601888.SH', prevClose: string | null = '78.99') =>
    checkPriceLimit('cn', { symbol, side, price: dec(price), prevClose: prevClose === null ? undefined : dec(prevClose) });

  it('a buy at exactly limit-up does not fill; a cent below it does', () => {
    expect(at('buy', '86.89')?.reason).toBe('PRICE_LIMIT');
    expect(at('buy', '86.89')?.message).toBe(
      'PRICE_LIMIT: 601888.SH is at its limit-up 86.89 (price 86.89, previous close 78.99, main board (主板) ±10%); a buy does not fill',
    );
    expect(at('buy', '86.88')).toBeUndefined();
    expect(at('sell', '86.89')).toBeUndefined(); // selling into limit-up is fine
  });

  it('a sell at exactly limit-down does not fill; a cent above it does', () => {
    expect(at('sell', '71.09')?.reason).toBe('PRICE_LIMIT');
    expect(at('sell', '71.10')).toBeUndefined();
    expect(at('buy', '71.09')).toBeUndefined();
  });

  it('STAR ±20%: +10.2% is still tradable, +20% is limit-up', () => {
    expect(at('buy', '327.22', '688111.SH', '297.0')).toBeUndefined(); // 2025-10-13, real
    expect(at('buy', '327.22', '600111.SH', '297.0')?.reason).toBe('PRICE_LIMIT'); // the same move on the main board
    expect(at('buy', '356.40', '688111.SH', '297.0')?.reason).toBe('PRICE_LIMIT');
    expect(at('buy', '356.39', '688111.SH', '297.0')).toBeUndefined();
  });

  it('no previous close (first day of data) or no band (US): no check', () => {
    expect(at('buy', '1000', '601888.SH', null)).toBeUndefined();
    expect(checkPriceLimit('us', { symbol: 'AAPL', side: 'buy', price: dec('1000'), prevClose: dec('100') })).toBeUndefined();
  });

  it('a limit price outside the band is refused, the band edges are allowed', () => {
    const band = (p: string) => checkPriceBand('cn', { symbol: '601888.SH', limitPrice: dec(p), prevClose: dec('78.99') });
    expect(band('86.89')).toBeUndefined();
    expect(band('71.09')).toBeUndefined();
    expect(band('86.90')?.reason).toBe('PRICE_LIMIT');
    expect(band('71.08')?.reason).toBe('PRICE_LIMIT');
  });
});

describe('other checks', () => {
  it('limit prices on the tick', () => {
    expect(checkTick('cn', { symbol: '600028.SH', limitPrice: dec('5.30') })).toBeUndefined();
    expect(checkTick('cn', { symbol: '600028.SH', limitPrice: dec('5.305') })).toEqual({
      reason: 'BROKER_REJECTED',
      message: 'BROKER_REJECTED: limit price 5.305 of 600028.SH is not a positive multiple of the tick 0.01',
    });
    expect(checkTick('us', { symbol: 'XYZ', limitPrice: dec('0.5001') })).toBeUndefined();
    expect(checkTick('us', { symbol: 'AAPL', limitPrice: dec('250.005') })?.reason).toBe('BROKER_REJECTED');
    expect(checkTick('cn', { symbol: '600028.SH', limitPrice: dec('0') })?.reason).toBe('BROKER_REJECTED');
  });

  it('cash: exactly enough passes, a cent short is refused', () => {
    const q = { symbol: '600028.SH', side: 'buy' as const, quantity: 100, required: dec('534.01') };
    expect(checkCash('cn', { ...q, available: dec('534.01') })).toBeUndefined();
    expect(checkCash('cn', { ...q, available: dec('534.00') })).toEqual({
      reason: 'INSUFFICIENT_CASH',
      message: 'INSUFFICIENT_CASH: buying 100 shares of 600028.SH needs 534.01 CNY but 534.00 CNY is available',
    });
  });

  it('market closed', () => {
    expect(checkMarketOpen('cn', sh('2025-10-10T10:00'), true)).toBeUndefined();
    expect(checkMarketOpen('cn', sh('2025-10-10T12:00'), false)?.message).toBe(
      'MARKET_CLOSED: the China A-shares (SSE/SZSE) exchange is not in continuous trading at 2025-10-10 12:00 GMT+8',
    );
  });
});

describe('labelledBarAt (AI-Trader: the latest label not after t on the same exchange day)', () => {
  const cnDaily = storeOf('cn/sse50_daily.jsonl');
  const cnHourly = storeOf('cn/sse50_60min.jsonl');
  const usHourly = storeOf('us/nasdaq100_60min.jsonl');

  it('daily bars: the bar of the date, once it has started', () => {
    expect(labelledBarAt(cnDaily, '600028.SH', sh('2025-10-09T09:35'))?.label).toBe('2025-10-09');
    expect(labelledBarAt(cnDaily, '600028.SH', sh('2025-10-09T09:35'))?.open.toFixed()).toBe('5.29');
    expect(labelledBarAt(cnDaily, '600028.SH', sh('2025-10-09T20:00'))?.label).toBe('2025-10-09');
    expect(labelledBarAt(cnDaily, '600028.SH', sh('2025-10-09T09:00'))).toBeUndefined(); // its open is not known yet
    expect(labelledBarAt(cnDaily, '600028.SH', sh('2025-10-08T09:35'))).toBeUndefined(); // National Day holiday
  });

  it('A-share hourly: the label is the bar END, so 10:35 trades at the open of the bar 09:30-10:30', () => {
    const at = (hhmm: string) => labelledBarAt(cnHourly, '600028.SH', sh(`2025-10-10T${hhmm}`));
    expect(at('10:35')?.label).toBe('2025-10-10 10:30:00');
    expect(at('10:35')?.start.toISO()).toBe('2025-10-10T09:30:00.000+08:00');
    expect(at('11:35')?.label).toBe('2025-10-10 11:30:00');
    expect(at('14:05')?.label).toBe('2025-10-10 14:00:00');
    expect(at('15:05')?.label).toBe('2025-10-10 15:00:00');
    expect(at('10:29')).toBeUndefined(); // no label of the day is before 10:30
    expect(labelledBarAt(cnHourly, '600028.SH', sh('2025-10-13T09:35'))).toBeUndefined(); // never the previous day's
  });

  it('US hourly: the label is the bar START, so 11:05 trades at the open of 11:00-12:00', () => {
    const at = (iso: string) => labelledBarAt(usHourly, 'AAPL', ny(iso));
    expect(at('2025-10-01T10:00')?.label).toBe('2025-10-01 10:00:00');
    expect(at('2025-10-01T11:05')?.label).toBe('2025-10-01 11:00:00');
    expect(at('2025-10-01T15:59')?.label).toBe('2025-10-01 15:00:00');
    expect(at('2025-10-01T09:45')).toBeUndefined();
  });

  it('never returns a bar that starts after t, at any instant of the data', () => {
    for (const [store, symbol, zone] of [
      [cnHourly, '601318.SH', 'Asia/Shanghai'],
      [usHourly, 'NVDA', 'America/New_York'],
      [cnDaily, '600519.SH', 'Asia/Shanghai'],
    ] as const) {
      const range = store.range()!;
      for (let t = range.first.minus({ hours: 1 }); t <= range.last.plus({ hours: 1 }); t = t.plus({ minutes: 47 })) {
        const bar = labelledBarAt(store, symbol, t);
        if (!bar) continue;
        expect(bar.start.toMillis()).toBeLessThanOrEqual(t.toMillis());
        expect(bar.start.setZone(zone).toISODate()).toBe(t.setZone(zone).toISODate());
      }
    }
  });

  it('unknown symbol: undefined', () => {
    expect(labelledBarAt(cnDaily, 'AAPL', sh('2025-10-09T09:35'))).toBeUndefined();
  });
});
