/**
 * The live ramp (`risk_control.live_ramp`): a new live account starts small. Each signature's
 * capital in use (its positions at cost, plus what its open buys have committed, plus the buy
 * being checked) may not exceed a cap that is `start_cap` on the signature's first live trading
 * day and grows by `growth_per_trading_day` on each trading day of the exchange calendar after
 * it, up to `max`:
 *
 *   cap(today) = min(max, start_cap + growth_per_trading_day x n),
 *   n = trading days d with firstDay < d <= today (0 on the first day; weekends and holidays do not count)
 *
 * Pure: the first day is given (the risk actor keeps it in the store), the calendar is the
 * exchange's (src/domain/calendar; a year it does not cover throws, and risk fails closed).
 * Sells are never capped: they lower the capital in use.
 */
import { tradingDays } from '../calendar/index.js';
import type { Market } from '../markets.js';
import { Dec, dec } from '../money.js';

/** `risk_control.live_ramp` (src/config/schema.ts), amounts in the market's currency. */
export interface LiveRamp {
  readonly start_cap: number;
  readonly growth_per_trading_day: number;
  readonly max: number;
}

export interface LiveRampCap {
  readonly ramp: LiveRamp;
  /** The signature's first live trading day (exchange-local YYYY-MM-DD). */
  readonly firstDay: string;
  /** The day of the order being checked. */
  readonly today: string;
  /** Trading days since the first one: 0 on it. */
  readonly tradingDay: number;
  readonly cap: Dec;
}

/** The day after `date` (YYYY-MM-DD), by the calendar's own arithmetic (no time zone involved). */
function dayAfter(date: string): string {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Trading days of `market` strictly after `firstDay`, up to and including `today`. */
export function tradingDaysSince(market: Market, firstDay: string, today: string): number {
  if (today <= firstDay) return 0;
  return tradingDays(market, dayAfter(firstDay), today).length;
}

/** The cap on a signature's capital in use on `today`. */
export function liveRampCap(ramp: LiveRamp, market: Market, firstDay: string, today: string): LiveRampCap {
  const n = tradingDaysSince(market, firstDay, today);
  const grown = dec(ramp.start_cap).plus(dec(ramp.growth_per_trading_day).times(n));
  return { ramp, firstDay, today, tradingDay: n, cap: Dec.min(grown, ramp.max) };
}
