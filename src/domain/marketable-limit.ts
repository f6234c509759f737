/**
 * A market order for a venue that takes limit orders only (EastMoney's web form, most terminal
 * bridges): a limit `collarBps` through the latest price (a buy above it, a sell below), on the
 * tick grid, inside the day's price band. It fills at once like a market order in all but a fast
 * market, and never further than the collar from the price the agent decided on.
 *
 * Rounding: a buy's limit is rounded down to the tick, a sell's up (the collar is a bound), but
 * never to the wrong side of the price itself (a buy's limit is at least the price rounded up).
 */
import { priceBand, roundToTick, tickSize } from './market-rules.js';
import type { Market } from './markets.js';
import { Dec, dec } from './money.js';
import type { OrderSide } from './orders.js';

export interface MarketableLimitInput {
  readonly market: Market;
  readonly symbol: string;
  readonly side: OrderSide;
  /** The latest price (the quote risk priced the order at). */
  readonly price: Dec;
  readonly prevClose?: Dec | undefined;
  readonly collarBps: number;
}

export function marketableLimit(i: MarketableLimitInput): Dec {
  const tick = tickSize(i.market, i.price);
  const through = dec(i.collarBps).dividedBy(10_000);
  const raw = i.side === 'buy' ? i.price.times(dec(1).plus(through)) : i.price.times(dec(1).minus(through));
  let limit = roundToTick(raw, tick, i.side === 'buy' ? 'down' : 'up');
  const atPrice = roundToTick(i.price, tick, i.side === 'buy' ? 'up' : 'down');
  limit = i.side === 'buy' ? Dec.max(limit, atPrice) : Dec.min(limit, atPrice);
  const band = i.prevClose === undefined ? undefined : priceBand(i.market, i.symbol, i.prevClose);
  if (band) limit = Dec.min(Dec.max(limit, band.down), band.up);
  return limit;
}
