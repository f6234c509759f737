/**
 * Pure fill bookkeeping for the order machine. Fills are facts reported by the
 * broker, deduplicated by `fillId` (a fill seen twice is never counted twice);
 * quantities are whole shares, prices and fees exact decimals kept as strings.
 *
 * The average price is the exact notional (sum of quantity x price, kept as a
 * string so nothing drifts however many fills arrive) divided by the filled
 * quantity, rounded half-up to AVERAGE_PRICE_DECIMALS places: exact whenever the
 * true average has that many decimals or fewer ("10.01" x 30 + "10.02" x 70 =
 * "10.017").
 */
import { dec } from '../../domain/money.js';
import type { Fill } from '../../domain/orders.js';

export const AVERAGE_PRICE_DECIMALS = 10;

export interface FillBook {
  readonly fills: readonly Fill[];
  readonly filledQuantity: number;
  /** Sum of quantity x price, exact. */
  readonly notional: string;
  /** notional / filledQuantity; absent while nothing is filled. */
  readonly averagePrice?: string | undefined;
  /** Sum of fees, exact. */
  readonly fees: string;
}

export const EMPTY_FILL_BOOK: FillBook = { fills: [], filledQuantity: 0, notional: '0', fees: '0' };

/** The fills among `incoming` not yet in `book` (nor repeated within `incoming`), in order. */
export function newFills(book: Pick<FillBook, 'fills'>, incoming: readonly Fill[]): Fill[] {
  const seen = new Set(book.fills.map((f) => f.fillId));
  const fresh: Fill[] = [];
  for (const fill of incoming) {
    if (seen.has(fill.fillId)) continue;
    seen.add(fill.fillId);
    fresh.push(fill);
  }
  return fresh;
}

/** The book with `incoming` merged in (duplicates by fillId ignored). */
export function addFills(book: FillBook, incoming: readonly Fill[]): FillBook {
  const fresh = newFills(book, incoming);
  if (fresh.length === 0) return book;
  let quantity = book.filledQuantity;
  let notional = dec(book.notional);
  let fees = dec(book.fees);
  for (const fill of fresh) {
    quantity += fill.quantity;
    notional = notional.plus(dec(fill.price).times(fill.quantity));
    fees = fees.plus(dec(fill.fee));
  }
  return {
    fills: [...book.fills, ...fresh],
    filledQuantity: quantity,
    notional: notional.toFixed(),
    averagePrice: notional.dividedBy(quantity).toDecimalPlaces(AVERAGE_PRICE_DECIMALS).toFixed(),
    fees: fees.toFixed(),
  };
}
