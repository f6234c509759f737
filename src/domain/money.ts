/**
 * Exact decimal arithmetic for prices, cash and fees.
 *
 * Prices arrive as decimal strings ("271.0884") and are kept as Decimal, never as
 * binary floats, so sums over thousands of fills do not drift. Rounding rules:
 * - prices are kept at the precision the source gives (no rounding on load);
 * - cash amounts and fees are rounded to the currency's minor unit (0.01 CNY / USD)
 *   with ROUND_HALF_UP, the way brokers round a commission, only where money moves.
 */
import { Decimal } from 'decimal.js';

/** Our own Decimal constructor: 40 significant digits, half-up, independent of global config. */
export const Dec = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });
export type Dec = InstanceType<typeof Dec>;

export const CENT_DECIMALS = 2;

/** Parse a decimal string or integer into a Dec, refusing NaN/Infinity and malformed text. */
export function dec(value: string | number | Dec): Dec {
  const d = new Dec(value);
  if (!d.isFinite()) throw new RangeError(`not a finite decimal: ${String(value)}`);
  return d;
}

/** Round a money amount to cents, half-up. */
export function toCents(value: Dec): Dec {
  return value.toDecimalPlaces(CENT_DECIMALS, Dec.ROUND_HALF_UP);
}
