/**
 * Exact decimal arithmetic for prices, cash and fees.
 *
 * Prices arrive as decimal strings ("271.0884") and are kept as Decimal, never as
 * binary floats, so sums over thousands of fills do not drift. Rounding rules:
 * - prices are kept at the precision the source gives (no rounding on load);
 * - cash amounts and fees are rounded to the currency's minor unit (0.01 CNY / USD)
 *   with ROUND_HALF_UP, the way brokers round a commission, only where money moves:
 *   each fee component when it is charged (fees.ts), and each fill's value
 *   (quantity x price) when it is booked (`tradeValue`, rule `cent`). A US price with 4
 *   decimals (256.515 x 3 = 769.545) moves cash by 769.55, so cash always holds whole
 *   cents, and the venue and the ledger, which book with the same function, agree to the
 *   cent. The one exception is `exact`, AI-Trader's own rule (its Python keeps cash as
 *   unrounded floats), used with `--rules ai-trader` so recorded runs reproduce;
 * - every output shows cash as `cashText` (to the cent, half-up): report.json, the
 *   printed table, /api/state, position.jsonl, the daily report.
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

/**
 * How a fill's value becomes cash. `cent` (the real exchange rules, `strict`): quantity x price
 * rounded to the cent, half-up, per fill, as a broker's contract note books it. `exact`
 * (AI-Trader's rules, `ai-trader`): unrounded, as AI-Trader's own cash arithmetic. `cent-even`
 * (an Alpaca account): to the cent per fill, half to even, as Alpaca books a fill's cash (its
 * forum: "transactions are rounded ... round half to even"); with half-up a fill worth 1280.685
 * left the ledger a cent off the account, which the account check books as EXTERNAL_ACTIVITY.
 */
export type CashRule = 'cent' | 'cent-even' | 'exact';

/** The cash rule of each broker rule set (the venue and the ledger look it up here). */
export const CASH_RULES: Readonly<Record<'strict' | 'ai-trader', CashRule>> = { strict: 'cent', 'ai-trader': 'exact' };

/** The value a fill of `quantity` at `price` moves cash by, before fees (see CashRule). */
export function tradeValue(price: Dec, quantity: number, rule: CashRule): Dec {
  const value = price.times(quantity);
  if (rule === 'cent-even') return value.toDecimalPlaces(CENT_DECIMALS, Dec.ROUND_HALF_EVEN);
  return rule === 'cent' ? toCents(value) : value;
}

/** Cash as every output prints it: to the cent, half-up, two decimals ("1872.88", "-3.50", "0.00"). */
export function cashText(cash: Dec): string {
  const text = toCents(cash).toFixed(CENT_DECIMALS);
  return text === '-0.00' ? '0.00' : text;
}
