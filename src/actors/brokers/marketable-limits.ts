/**
 * A venue adapter that takes limit orders only, in front of the order tracker: a market order is
 * sent as a marketable limit (domain/marketable-limit.ts) at the latest price; with no price known
 * it is refused (NO_PRICE) rather than sent blind. Everything else passes through.
 */
import { Dec, dec } from '../../domain/money.js';
import type { Market } from '../../domain/markets.js';
import { marketableLimit } from '../../domain/marketable-limit.js';
import { VenueRefused, type VenueAdapter } from './venue-adapter.js';

export interface MarketableLimitsOptions {
  readonly market: Market;
  /** The latest price of a symbol (decimal string), if any. */
  readonly price: (symbol: string) => string | undefined;
  readonly prevClose?: (symbol: string) => string | undefined;
  readonly collarBps: number;
}

const decOrUndefined = (s: string | undefined): Dec | undefined => (s === undefined ? undefined : dec(s));

export function withMarketableLimits(adapter: VenueAdapter, o: MarketableLimitsOptions): VenueAdapter {
  const place: VenueAdapter['place'] = (order) => {
    if (order.type !== 'market') return adapter.place(order);
    const price = o.price(order.symbol);
    if (price === undefined) return Promise.reject(new VenueRefused(`no price of ${order.symbol} is known to send the market order as a limit (${adapter.name} takes limit orders only)`, 'NO_PRICE'));
    const limit = marketableLimit({ market: o.market, symbol: order.symbol, side: order.side, price: dec(price), prevClose: decOrUndefined(o.prevClose?.(order.symbol)), collarBps: o.collarBps });
    return adapter.place({ ...order, type: 'limit', limitPrice: limit.toFixed() });
  };
  return {
    name: adapter.name,
    connect: () => adapter.connect(),
    close: () => adapter.close(),
    place,
    cancel: (order) => adapter.cancel(order),
    orders: () => adapter.orders(),
    ...(adapter.fills ? { fills: () => adapter.fills!() } : {}),
    account: () => adapter.account(),
    positions: () => adapter.positions(),
    ...(adapter.pushes$ ? { pushes$: adapter.pushes$ } : {}),
    ...(adapter.connection$ ? { connection$: adapter.connection$ } : {}),
  };
}
