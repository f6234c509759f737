/**
 * Several agents on one broker account: each signature keeps its own virtual sub-account (the
 * ledger's account: cash allocation = its initial cash, its positions, its fills), and what the
 * account holds beyond the sum of the sub-accounts belongs to the `external` book: what was there
 * before the first agent traded, what the user traded by hand, a corporate action, a fee the
 * broker charged outside a fill. The broker's account is always
 *
 *   broker = sum of the sub-accounts + external
 *
 * share for share per symbol, and for cash within `CASH_TOLERANCE`. A difference is booked to the
 * external book (journalled and alerted, `EXTERNAL_ACTIVITY`), never into an agent's account.
 *
 * Pure: the runtime (src/runtime/live-account.ts) fetches, compares and commits.
 */
import { z } from 'zod';
import { dec, type Dec } from './money.js';

/** Cash differences below one cent are rounding (the broker books cash to the cent; our fills are exact). */
export const CASH_TOLERANCE = '0.01';

export const ExternalBookSchema = z.object({
  /** Cash of the account that is no agent's (decimal string; negative when the allocations exceed the cash). */
  cash: z.string(),
  /** Shares per symbol that are no agent's (signed: an agent's shares sold by hand make it negative). */
  positions: z.record(z.string(), z.number().int()),
  /** When the book was opened (ISO instant with zone). */
  openedAt: z.string(),
});
export type ExternalBook = z.infer<typeof ExternalBookSchema>;

export interface Holdings {
  readonly cash: Dec;
  readonly positions: Readonly<Record<string, number>>;
}

export interface AccountDifferences {
  /** broker - (sum of sub-accounts + external), per symbol with a difference. */
  readonly positions: readonly { readonly symbol: string; readonly ours: number; readonly broker: number; readonly difference: number }[];
  /** The cash difference, when compared and beyond the tolerance. */
  readonly cash?: { readonly ours: string; readonly broker: string; readonly difference: string };
}

export interface CompareOptions {
  /** Symbols not compared now (an order of ours is open on them: a fill may be on its way). */
  readonly skipSymbols?: ReadonlySet<string>;
  /** Cash not compared now (an order of ours is open). */
  readonly skipCash?: boolean;
}

/** What the agents' sub-accounts hold together. */
export function sumOf(subAccounts: readonly Holdings[]): Holdings {
  const positions: Record<string, number> = {};
  let cash = dec(0);
  for (const a of subAccounts) {
    cash = cash.plus(a.cash);
    for (const [symbol, qty] of Object.entries(a.positions)) positions[symbol] = (positions[symbol] ?? 0) + qty;
  }
  return { cash, positions };
}

/** The external book at the first start: everything the account holds that no agent does. */
export function openExternalBook(broker: Holdings, subAccounts: readonly Holdings[], openedAt: string): ExternalBook {
  const ours = sumOf(subAccounts);
  const positions: Record<string, number> = {};
  for (const symbol of symbolsOf(broker.positions, ours.positions)) {
    const d = (broker.positions[symbol] ?? 0) - (ours.positions[symbol] ?? 0);
    if (d !== 0) positions[symbol] = d;
  }
  return { cash: broker.cash.minus(ours.cash).toFixed(), positions, openedAt };
}

export function accountDifferences(broker: Holdings, subAccounts: readonly Holdings[], external: ExternalBook, options: CompareOptions = {}): AccountDifferences {
  const agents = sumOf(subAccounts);
  const positions: { symbol: string; ours: number; broker: number; difference: number }[] = [];
  for (const symbol of symbolsOf(broker.positions, agents.positions, external.positions)) {
    if (options.skipSymbols?.has(symbol)) continue;
    const ours = (agents.positions[symbol] ?? 0) + (external.positions[symbol] ?? 0);
    const theirs = broker.positions[symbol] ?? 0;
    if (ours !== theirs) positions.push({ symbol, ours, broker: theirs, difference: theirs - ours });
  }
  if (options.skipCash) return { positions };
  const ours = agents.cash.plus(dec(external.cash));
  const difference = broker.cash.minus(ours);
  if (difference.abs().lt(dec(CASH_TOLERANCE))) return { positions };
  return { positions, cash: { ours: ours.toFixed(), broker: broker.cash.toFixed(), difference: difference.toFixed() } };
}

/** The external book with `diffs` booked to it. */
export function bookToExternal(external: ExternalBook, diffs: AccountDifferences): ExternalBook {
  const positions = { ...external.positions };
  for (const d of diffs.positions) {
    const next = (positions[d.symbol] ?? 0) + d.difference;
    if (next === 0) delete positions[d.symbol];
    else positions[d.symbol] = next;
  }
  const cash = diffs.cash ? dec(external.cash).plus(dec(diffs.cash.difference)).toFixed() : external.cash;
  return { ...external, cash, positions };
}

export function isEmpty(diffs: AccountDifferences): boolean {
  return diffs.positions.length === 0 && diffs.cash === undefined;
}

/** One line per difference, for the alert and the journal. */
export function describeDifferences(diffs: AccountDifferences): string[] {
  return [
    ...diffs.positions.map((d) => `${d.symbol}: agents + external ${d.ours}, broker ${d.broker} (${d.difference > 0 ? '+' : ''}${d.difference} booked to external)`),
    ...(diffs.cash ? [`cash: agents + external ${diffs.cash.ours}, broker ${diffs.cash.broker} (${diffs.cash.difference} booked to external)`] : []),
  ];
}

function symbolsOf(...books: readonly Readonly<Record<string, number>>[]): string[] {
  return [...new Set(books.flatMap((b) => Object.keys(b)))].sort();
}
