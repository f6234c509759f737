/**
 * Orders made while the exchange does not trade (the A-share 11:35 session is in the lunch
 * break, 15:05 after the close) under `execution.orders_outside_hours: queue_next_open`: the
 * order waits and goes to the broker at the next open (13:00 after lunch, the next trading
 * day's 09:30 after the close), as brokers take orders in the break and for the next day.
 *
 * PROTECTIVE LIMIT: a queued MARKET order would fill at whatever the open is, after a gap of
 * any size. It waits instead as a limit order at the decision price (the price the agent saw
 * when it decided) moved by `execution.queued_limit_band` in the order's favour of filling: a
 * buy at most price x (1 + band), rounded DOWN to the tick; a sell at least price x (1 - band),
 * rounded UP; never below one tick. So the band is never exceeded by rounding. A limit order
 * keeps its own limit. An order without a decision price (the stop-loss's own sells, which
 * must go whatever the price) stays a market order.
 *
 * The agent is told, in the order's answer (status `queued`), when the order goes out and at
 * what limit (`queuedUntil`, `message`). Pure: no clock, no I/O.
 */
import { DateTime } from 'luxon';
import { roundToTick, tickSize } from './market-rules.js';
import { MARKETS, type Market } from './markets.js';
import { dec, type Dec } from './money.js';
import type { OrderRequest, OrderSide } from './orders.js';

/** `execution.queued_limit_band`'s default: 2% either side of the decision price. */
export const DEFAULT_QUEUED_LIMIT_BAND = 0.02;

/** How a queued order waits (kept in the order machine's context: plain JSON). */
export interface QueuedOrder {
  /** The order as it goes out at the open (a market order: with its protective limit). */
  readonly order: OrderRequest;
  /** When it goes out: ISO instant with the exchange's offset. */
  readonly until: string;
  /** What the agent is told (the answer to its order). */
  readonly message: string;
}

export interface QueueInput {
  /** When the order was placed (the session's instant), epoch ms. */
  readonly atMs: number;
  /** The next open, epoch ms. */
  readonly nextOpenMs: number;
  /** The price the agent saw when it decided (decimal string); absent: no protective limit. */
  readonly decisionPrice?: string | undefined;
  /** `execution.queued_limit_band`, a ratio in (0, 1). */
  readonly band: number;
}

/** The protective limit of a queued market order (see the header). */
export function protectiveLimit(market: Market, side: OrderSide, decisionPrice: Dec, band: number): Dec {
  const raw = side === 'buy' ? decisionPrice.times(dec(band).plus(1)) : decisionPrice.times(dec(1).minus(band));
  const tick = tickSize(market, raw);
  const limit = roundToTick(raw, tick, side === 'buy' ? 'down' : 'up');
  return limit.gt(0) ? limit : tick;
}

const DECIMAL = /^\d+(\.\d+)?$/;

/** The order as it waits for the next open, and what the agent is told about it. */
export function queuedOrder(market: Market, order: OrderRequest, q: QueueInput): QueuedOrder {
  const zone = MARKETS[market].zone;
  const at = DateTime.fromMillis(q.atMs, { zone });
  const open = DateTime.fromMillis(q.nextOpenMs, { zone });
  const until = open.toISO({ suppressMilliseconds: true })!;
  const when = `${open.toFormat('HH:mm')} ${at.toISODate() === open.toISODate() ? 'today' : `on ${open.toISODate()}`} (${until})`;
  const head = `the exchange does not trade at ${at.toFormat('HH:mm')}; the order waits for the next open, ${when},`;
  const price = q.decisionPrice !== undefined && DECIMAL.test(q.decisionPrice) && dec(q.decisionPrice).gt(0) ? dec(q.decisionPrice) : undefined;
  if (order.type === 'limit') return { order, until, message: `${head} at its limit ${order.limitPrice ?? ''}`.trimEnd() };
  if (!price) return { order, until, message: `${head} as a market order` };
  const limit = protectiveLimit(market, order.side, price, q.band);
  const pct = dec(q.band).times(100).toFixed();
  const sign = order.side === 'buy' ? '+' : '-';
  return {
    order: { ...order, type: 'limit', limitPrice: limit.toFixed() },
    until,
    message:
      `${head} as a limit ${order.side} at ${limit.toFixed()} (the decision price ${q.decisionPrice} ${sign} ${pct}%, ` +
      `execution.queued_limit_band): if the open gaps beyond it, it does not fill`,
  };
}
