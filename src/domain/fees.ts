/**
 * Trading fees, pure and exact (Dec, never floats).
 *
 * A-shares (CNY), per order:
 *   commission   = max(notional x commission_rate, commission_min)      both sides
 *   stamp duty   = notional x stamp_duty_rate                           sells only
 *   transfer fee = notional x transfer_fee_rate                         both sides
 * US (USD), per order:
 *   commission   = max(shares x commission_per_share, commission_min)   both sides
 *   SEC fee      = notional x sec_fee_rate                              sells only
 *   FINRA TAF    = shares x taf_fee_per_share                           sells only
 *
 * ROUNDING: each component is rounded to the cent, half-up, on its own, and the total is
 * the sum of the rounded components (a broker's statement lists them that way). Real US
 * brokers round the SEC fee up and cap the TAF per trade; neither is modelled (the config
 * has no cap, and the defaults charge nothing).
 *
 * Rates are the config file's numbers (`broker.fees`, src/config/schema.ts); the shapes here
 * mirror that schema so `config.broker.fees` can be passed as it is (domain/ cannot import
 * config/; a test checks the defaults agree). A JS number like 0.00025 is read through its
 * shortest decimal text, so it is exact.
 */
import type { Market } from './markets.js';
import { dec, toCents, type Dec } from './money.js';
import type { OrderSide } from './orders.js';

export interface CnFeeRates {
  readonly commission_rate: number;
  readonly commission_min: number;
  readonly stamp_duty_rate: number;
  readonly transfer_fee_rate: number;
}

export interface UsFeeRates {
  readonly commission_per_share: number;
  readonly commission_min: number;
  readonly sec_fee_rate: number;
  readonly taf_fee_per_share: number;
}

export interface FeeRates {
  readonly cn: CnFeeRates;
  readonly us: UsFeeRates;
}

/** Today's defaults, the same as the config schema's (checked by a test). */
export const DEFAULT_FEE_RATES: FeeRates = {
  cn: { commission_rate: 0.00025, commission_min: 5, stamp_duty_rate: 0.0005, transfer_fee_rate: 0.00001 },
  us: { commission_per_share: 0, commission_min: 0, sec_fee_rate: 0, taf_fee_per_share: 0 },
};

/** Every rate zero: AI-Trader's rules. */
export const NO_FEE_RATES: FeeRates = {
  cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 },
  us: { commission_per_share: 0, commission_min: 0, sec_fee_rate: 0, taf_fee_per_share: 0 },
};

export interface FeeBreakdown {
  readonly commission: Dec;
  /** cn sells. */
  readonly stampDuty: Dec;
  /** cn both sides. */
  readonly transferFee: Dec;
  /** us sells. */
  readonly secFee: Dec;
  /** us sells. */
  readonly taf: Dec;
  /** Sum of the rounded components. */
  readonly total: Dec;
}

export interface FeeQuery {
  readonly side: OrderSide;
  /** Shares. */
  readonly quantity: number;
  /** Sum of quantity x price over the order's fills, exact. */
  readonly notional: Dec;
}

const ZERO = dec(0);

function breakdown(parts: Omit<FeeBreakdown, 'total'>): FeeBreakdown {
  const total = parts.commission.plus(parts.stampDuty).plus(parts.transferFee).plus(parts.secFee).plus(parts.taf);
  return { ...parts, total };
}

export function cnFees(q: FeeQuery, rates: CnFeeRates): FeeBreakdown {
  const commission = toCents(maxDec(q.notional.times(dec(rates.commission_rate)), dec(rates.commission_min)));
  const stampDuty = q.side === 'sell' ? toCents(q.notional.times(dec(rates.stamp_duty_rate))) : ZERO;
  const transferFee = toCents(q.notional.times(dec(rates.transfer_fee_rate)));
  return breakdown({ commission, stampDuty, transferFee, secFee: ZERO, taf: ZERO });
}

export function usFees(q: FeeQuery, rates: UsFeeRates): FeeBreakdown {
  const commission = toCents(maxDec(dec(rates.commission_per_share).times(q.quantity), dec(rates.commission_min)));
  const secFee = q.side === 'sell' ? toCents(q.notional.times(dec(rates.sec_fee_rate))) : ZERO;
  const taf = q.side === 'sell' ? toCents(dec(rates.taf_fee_per_share).times(q.quantity)) : ZERO;
  return breakdown({ commission, stampDuty: ZERO, transferFee: ZERO, secFee, taf });
}

/** The fees of one order of `quantity` shares worth `notional`, by the market's table. */
export function orderFees(market: Market, q: FeeQuery, rates: FeeRates = DEFAULT_FEE_RATES): FeeBreakdown {
  return FEE_TABLES[market](q, rates);
}

/** Which fee table a market uses. */
export const FEE_TABLES: Readonly<Record<Market, (q: FeeQuery, rates: FeeRates) => FeeBreakdown>> = {
  cn: (q, rates) => cnFees(q, rates.cn),
  us: (q, rates) => usFees(q, rates.us),
};

/**
 * What a venue says an order would cost if it reached it now, by the venue's own rules: the
 * price it would fill at (a limit order: its limit, the most a buy pays / the least a sell
 * gets) and the fees it would charge. Risk values orders with it, so risk and the venue
 * cannot disagree (src/actors/brokers/broker.ts, `OrderEstimates`).
 */
export interface OrderEstimate {
  readonly price: Dec;
  readonly fees: FeeBreakdown;
}

function maxDec(a: Dec, b: Dec): Dec {
  return a.gte(b) ? a : b;
}
