/**
 * The s2c bodies we read (protobuf decoded to plain objects by protos.ts, 64-bit ids as strings),
 * as zod schemas, and their mapping to the adapter contract's types.
 *
 * Numbers: Futu sends prices, quantities and money as protobuf doubles. Each is first written as
 * its shortest round-trip decimal (`String(n)`, which gives back the decimal Futu meant: 10.01,
 * not 10.0099999999999997868), then:
 *   - order prices and fill prices: rounded half-even to 3 decimals (Futu's stated precision,
 *     "3位精度"; removes arithmetic noise like 10.010000000000002);
 *   - an order's average fill price: kept as it is (Futu states no precision, "无精度限制");
 *   - cash: rounded half-up to the currency's minor unit (2 decimals for HKD, USD, CNH), as
 *     money.ts rounds cash;
 *   - buying power: rounded DOWN to the minor unit (never claim a cent the broker does not give);
 *   - quantities: whole shares, rounded down after a 1e-6 tolerance (99.99999999 -> 100; a
 *     fractional share is not ours to sell).
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { Dec, dec } from '../../../domain/money.js';
import { priceText } from '../../../streams/alpaca-quotes.js';
import type { BrokerPosition } from '../broker.js';
import type { VenueAccount, VenueFill, VenueOrder, VenueOrderState } from '../venue-adapter.js';
import { FUTU_MARKETS, fromFutu, type FutuMarket } from './symbols.js';

const u64 = z.string().regex(/^\d+$/, { error: 'expected a uint64 as decimal text' });
const int = z.number().int();

export const TrdHeaderWire = z.object({ trdEnv: int, accID: u64, trdMarket: int });

export const TrdAccWire = z.object({
  trdEnv: int,
  accID: u64,
  trdMarketAuthList: z.array(int).default([]),
  accType: int.optional(),
  simAccType: int.optional(),
  accStatus: int.optional(),
});
export type TrdAccWire = z.infer<typeof TrdAccWire>;
export const GetAccListS2C = z.object({ accList: z.array(TrdAccWire).default([]) });

export const OrderWire = z.object({
  trdSide: int,
  orderType: int,
  orderStatus: int,
  orderID: u64,
  code: z.string(),
  qty: z.number(),
  price: z.number().optional(),
  createTime: z.string(),
  updateTime: z.string(),
  fillQty: z.number().optional(),
  fillAvgPrice: z.number().optional(),
  lastErrMsg: z.string().optional(),
  secMarket: int.optional(),
  createTimestamp: z.number().optional(),
  updateTimestamp: z.number().optional(),
  remark: z.string().optional(),
});
export type OrderWire = z.infer<typeof OrderWire>;
export const GetOrderListS2C = z.object({ header: TrdHeaderWire, orderList: z.array(OrderWire).default([]) });
export const UpdateOrderS2C = z.object({ header: TrdHeaderWire, order: OrderWire });

export const OrderFillWire = z.object({
  trdSide: int,
  fillID: u64,
  orderID: u64.optional(),
  code: z.string(),
  qty: z.number(),
  price: z.number(),
  createTime: z.string(),
  secMarket: int.optional(),
  createTimestamp: z.number().optional(),
  status: int.optional(),
});
export type OrderFillWire = z.infer<typeof OrderFillWire>;
export const GetOrderFillListS2C = z.object({ header: TrdHeaderWire, orderFillList: z.array(OrderFillWire).default([]) });
export const UpdateOrderFillS2C = z.object({ header: TrdHeaderWire, orderFill: OrderFillWire });

export const FundsWire = z.object({ power: z.number(), cash: z.number(), netCashPower: z.number().optional() });
export const GetFundsS2C = z.object({ header: TrdHeaderWire, funds: FundsWire });

export const PositionWire = z.object({ positionSide: int, code: z.string(), qty: z.number(), canSellQty: z.number(), secMarket: int.optional() });
export const GetPositionListS2C = z.object({ header: TrdHeaderWire, positionList: z.array(PositionWire).default([]) });

export const PlaceOrderS2C = z.object({ header: TrdHeaderWire, orderID: u64.optional() });

/** Trd_Common.OrderStatus -> our state. Data, not code: every status Futu documents has a row. */
export const ORDER_STATUS: Readonly<Record<number, VenueOrderState>> = {
  0: 'pending', // Unsubmitted
  [-1]: 'pending', // Unknown: not terminal, keep asking
  1: 'pending', // WaitingSubmit
  2: 'pending', // Submitting
  3: 'rejected', // SubmitFailed
  4: 'pending', // TimeOut: "处理超时，结果未知", keep asking
  5: 'open', // Submitted
  10: 'open', // Filled_Part
  11: 'filled', // Filled_All
  12: 'cancelling', // Cancelling_Part
  13: 'cancelling', // Cancelling_All
  14: 'cancelled', // Cancelled_Part (the rest cancelled)
  15: 'cancelled', // Cancelled_All
  21: 'rejected', // Failed (the broker refused)
  22: 'expired', // Disabled ("已失效"; only Futu's app can enable it again)
  23: 'cancelled', // Deleted (only unfilled orders can be)
  24: 'rejected', // FillCancelled: the fills were reversed, the order void (ASSUMED rare; see docs/brokers/futu.md)
};

/** A status Futu adds later: not terminal, so the tracker keeps asking rather than settling wrongly. */
export const UNKNOWN_STATUS_STATE: VenueOrderState = 'pending';

export function orderState(status: number): VenueOrderState {
  return ORDER_STATUS[status] ?? UNKNOWN_STATUS_STATE;
}

/** Trd_Common.TrdSide -> ours (SellShort and BuyBack are what OpenD calls US sells / buys of shorts). */
export const TRD_SIDE: Readonly<Record<number, 'buy' | 'sell'>> = { 1: 'buy', 2: 'sell', 3: 'sell', 4: 'buy' };

const shortest = (n: number): Dec => dec(priceText(n));

export function priceOf(n: number): string {
  return shortest(n).toDecimalPlaces(3, Dec.ROUND_HALF_EVEN).toFixed();
}

export function avgPriceOf(n: number): string {
  return shortest(n).toFixed();
}

export function cashOf(n: number, market: FutuMarket): string {
  return shortest(n).toDecimalPlaces(FUTU_MARKETS[market].minorUnitDecimals, Dec.ROUND_HALF_UP).toFixed();
}

export function buyingPowerOf(n: number, market: FutuMarket): string {
  return shortest(n).toDecimalPlaces(FUTU_MARKETS[market].minorUnitDecimals, Dec.ROUND_DOWN).toFixed();
}

export function sharesOf(n: number): number {
  return Math.max(0, Math.floor(n + 1e-6));
}

/** Epoch ms from Futu's timestamp (seconds, fractional), else its "YYYY-MM-DD HH:MM:SS[.mmm]" in the market's zone. */
export function timeOf(timestamp: number | undefined, text: string | undefined, market: FutuMarket): number | undefined {
  return timeIn(timestamp, text, FUTU_MARKETS[market].zone);
}

/** `timeOf` in a zone named outright (quotes: the exchange's zone, from the security's own market). */
export function timeIn(timestamp: number | undefined, text: string | undefined, zone: string): number | undefined {
  if (timestamp !== undefined && Number.isFinite(timestamp) && timestamp > 0) return Math.round(timestamp * 1000);
  if (!text) return undefined;
  const t = DateTime.fromFormat(text, text.includes('.') ? 'yyyy-MM-dd HH:mm:ss.SSS' : 'yyyy-MM-dd HH:mm:ss', { zone });
  return t.isValid ? t.toMillis() : undefined;
}

/** Futu's order types that carry a limit price (Normal, AbsoluteLimit, AuctionLimit, SpecialLimit(_All), StopLimit, ...). */
const LIMIT_TYPES: ReadonlySet<number> = new Set([1, 5, 7, 8, 9, 11, 13, 15, 17, 19]);

export function toVenueOrder(o: OrderWire, market: FutuMarket): VenueOrder {
  const filled = sharesOf(o.fillQty ?? 0);
  return {
    brokerOrderId: o.orderID,
    clientOrderId: o.remark ? o.remark : undefined,
    symbol: fromFutu(o.code, o.secMarket, market),
    side: TRD_SIDE[o.trdSide] ?? 'buy',
    quantity: sharesOf(o.qty),
    limitPrice: LIMIT_TYPES.has(o.orderType) && o.price !== undefined && o.price > 0 ? priceOf(o.price) : undefined,
    filledQuantity: filled,
    avgFillPrice: filled > 0 && o.fillAvgPrice !== undefined && o.fillAvgPrice > 0 ? avgPriceOf(o.fillAvgPrice) : undefined,
    state: orderState(o.orderStatus),
    message: o.lastErrMsg ? o.lastErrMsg : undefined,
    rawStatus: String(o.orderStatus),
    createdAtMs: timeOf(o.createTimestamp, o.createTime, market) ?? 0,
    updatedAtMs: timeOf(o.updateTimestamp, o.updateTime, market),
  };
}

/** Trd_Common.OrderFillStatus: OK (0) and Changed (2) are fills that stand; Cancelled (1) is not a fill. */
export const FILL_STANDS: Readonly<Record<number, boolean>> = { 0: true, 1: false, 2: true };

export function toVenueFill(f: OrderFillWire, market: FutuMarket): VenueFill | undefined {
  if (FILL_STANDS[f.status ?? 0] === false || !f.orderID) return undefined;
  const quantity = sharesOf(f.qty);
  if (quantity <= 0) return undefined;
  return { fillId: f.fillID, brokerOrderId: f.orderID, quantity, price: priceOf(f.price), atMs: timeOf(f.createTimestamp, f.createTime, market) ?? 0 };
}

export function toVenueAccount(f: z.infer<typeof FundsWire>, market: FutuMarket): VenueAccount {
  // netCashPower: what cash alone buys (no margin financing); `power` includes margin. We trade cash.
  return { cash: cashOf(f.cash, market), buyingPower: buyingPowerOf(f.netCashPower ?? f.power, market) };
}

export function toBrokerPosition(p: z.infer<typeof PositionWire>, market: FutuMarket): BrokerPosition | undefined {
  // PositionSide_Long = 0; shorts are not ours to hold.
  if (p.positionSide !== 0) return undefined;
  const quantity = sharesOf(p.qty);
  if (quantity <= 0) return undefined;
  return { symbol: fromFutu(p.code, p.secMarket, market), quantity, sellable: Math.min(quantity, sharesOf(p.canSellQty)) };
}

// ---------------------------------------------------------------------------------------------
// Quotes (Qot_GetBasicQot 3004, Qot_UpdateBasicQot 3005): only what a quote of ours needs is read;
// Futu's other required fields (high, low, volume, ...) may be anything.

export const QotSecurityWire = z.object({ market: int, code: z.string() });
export const BasicQotWire = z.object({
  security: QotSecurityWire,
  isSuspended: z.boolean().optional(),
  /** The last price's time, "YYYY-MM-DD HH:MM:SS[.mmm]" in the exchange's zone (ASSUMED, as for orders). */
  updateTime: z.string().optional(),
  curPrice: z.number(),
  /** The last price's time, epoch seconds (fractional). */
  updateTimestamp: z.number().optional(),
});
export type BasicQotWire = z.infer<typeof BasicQotWire>;
/** Items are checked one by one (a bad one must not cost the others): unknown here. */
export const BasicQotListS2C = z.object({ basicQotList: z.array(z.unknown()).default([]) });
