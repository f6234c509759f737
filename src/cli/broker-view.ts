/**
 * `broker status|positions|orders|fills`: the broker's own view of the account next to the
 * ledger's, differences marked. The broker side is what Alpaca answers now (AlpacaBroker's REST
 * calls); the ledger side is the run's store under `state_dir`, opened read-only (a directory that
 * holds no run, or a store a running process holds, leaves the ledger side out and says why).
 *
 * The comparisons are pure functions of the two views (below), so what counts as a difference is
 * one rule each:
 * - positions: the broker's shares of a symbol against the sum of every signature's (the
 *   signatures share the account); any other number is a difference (a hand trade, a transfer,
 *   a corporate action, a fill the ledger lacks).
 * - orders: open orders by client order id. At the broker and not in the ledger: a difference
 *   (ours unknown to the ledger, or external: not placed by agent-trader). In the ledger and not
 *   open at the broker: a difference, unless the order is not meant to be there yet (queued for
 *   the next open, backing off before a resubmission). On both: a difference when the filled
 *   quantities disagree.
 * - fills: by execution id, then (for fills the broker's totals implied) by order, quantity and
 *   price; one side only is a difference.
 * - cash: the broker's against the sum of the signatures'; cash the agents were never given shows
 *   as a difference too (it is one), unless a live run booked it to its external book.
 * - A live run's external book (src/domain/account-book.ts: what the account holds beyond the
 *   agents, booked by the run's reconciliation) counts on the ledger's side, as `(external)`.
 *
 * JSON (`--json`) is a contract (README, "broker"): keys are added, never renamed.
 */
import { DateTime } from 'luxon';
import type { WireAccount, WireFillActivity, WireOrder } from '../actors/brokers/alpaca/wire.js';
import { ALPACA_STATUS } from '../actors/brokers/alpaca/alpaca-broker.js';
import { LEDGER_SNAPSHOT_KEY, LEDGER_SUBLEVELS, type LedgerSnapshot } from '../actors/ledger/ledger.js';
import { InputError } from '../domain/errors.js';
import { dec } from '../domain/money.js';
import type { Fill, OrderIntent, OrderRequest } from '../domain/orders.js';
import { openRunStore } from './run-dir.js';
import { ownerOf } from '../domain/ids.js';
import { ExternalBookSchema } from '../domain/account-book.js';
import { EXTERNAL_BOOK_KEY } from '../runtime/live-account.js';

/** The external book's name among the signatures (a signature cannot hold parentheses). */
export const EXTERNAL = '(external)';

// ---------------------------------------------------------------------------------------
// The ledger's side, from the store

export interface LedgerOrder {
  readonly clientOrderId: string;
  readonly signature: string;
  readonly symbol: string;
  readonly side: string;
  readonly quantity: number;
  /** The order machine's state (accepted, reconciling, queued, ...). */
  readonly state: string;
  readonly filledQuantity: number;
}

export interface LedgerFill {
  readonly fillId: string;
  readonly clientOrderId: string;
  readonly signature: string;
  readonly symbol: string;
  readonly side: string;
  readonly quantity: number;
  readonly price: string;
  readonly atMs: number;
}

export interface LedgerView {
  readonly signatures: readonly { readonly signature: string; readonly cash: string; readonly positions: Readonly<Record<string, number>> }[];
  /** A live run's external book, when it has one. */
  readonly external?: { readonly cash: string; readonly positions: Readonly<Record<string, number>> };
  readonly openOrders: readonly LedgerOrder[];
  readonly fills: readonly LedgerFill[];
}

export interface LedgerSide {
  readonly stateDir: string;
  readonly view?: LedgerView;
  /** Why there is no view. */
  readonly note?: string;
}

interface PersistedEngine {
  readonly context?: { readonly openOrders?: Readonly<Record<string, { readonly signature?: string }>> };
  readonly children?: Readonly<Record<string, { readonly snapshot?: { readonly value?: unknown; readonly context?: { readonly order?: OrderRequest; readonly filledQuantity?: number } } }>>;
}

interface FillRecord {
  readonly signature: string;
  readonly clientOrderId: string;
  readonly intent: OrderIntent;
  readonly fill: Fill;
}

/** The ledger's view of the run at `stateDir`, read-only; fills from `sinceMs` on. */
export async function readLedger(stateDir: string, sinceMs = -Infinity): Promise<LedgerSide> {
  let store;
  try {
    store = await openRunStore(stateDir);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const why = /already in use/.test(e.message) ? `${e.message} (the running process shows its ledger at /api/state)` : e.message;
    return { stateDir, note: `${why}; only the broker's side is shown` };
  }
  try {
    const ledger = await store.loadSnapshot<LedgerSnapshot>(LEDGER_SNAPSHOT_KEY);
    const signatures = Object.values(ledger?.signatures ?? {}).map((s) => ({
      signature: s.signature,
      cash: s.account.cash,
      positions: Object.fromEntries(Object.entries(s.account.positions).map(([symbol, p]) => [symbol, p.quantity])),
    }));
    const engine = await store.loadSnapshot<PersistedEngine>('engine');
    const openOrders: LedgerOrder[] = Object.entries(engine?.context?.openOrders ?? {}).flatMap(([cid, o]) => {
      const child = engine?.children?.[`order:${cid}`]?.snapshot;
      const order = child?.context?.order;
      if (!order) return [];
      return [{ clientOrderId: cid, signature: o.signature ?? order.signature, symbol: order.symbol, side: order.side, quantity: order.quantity, state: typeof child.value === 'string' ? child.value : JSON.stringify(child.value), filledQuantity: child.context?.filledQuantity ?? 0 }];
    });
    const fills: LedgerFill[] = [];
    for await (const { value: r } of store.listRecords<FillRecord>(LEDGER_SUBLEVELS.fills)) {
      if (r.fill.atMs < sinceMs) continue;
      fills.push({ fillId: r.fill.fillId, clientOrderId: r.clientOrderId, signature: r.signature, symbol: r.intent.symbol, side: r.intent.side, quantity: r.fill.quantity, price: r.fill.price, atMs: r.fill.atMs });
    }
    fills.sort((a, b) => a.atMs - b.atMs || a.fillId.localeCompare(b.fillId));
    const saved = await store.loadSnapshot(EXTERNAL_BOOK_KEY);
    const external = saved === undefined ? undefined : ExternalBookSchema.parse(saved);
    return { stateDir, view: { signatures, openOrders, fills, ...(external ? { external: { cash: external.cash, positions: external.positions } } : {}) } };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------
// The comparisons (pure)

/** Who placed a client order id: the signature whose prefix it carries, or nobody we know (external). */
export type Owner = (clientOrderId: string) => string | undefined;

export { ownerOf };

export interface PositionRow {
  readonly symbol: string;
  readonly broker: number;
  /** The signatures' shares summed; null without a ledger. */
  readonly ledger: number | null;
  readonly signatures: Readonly<Record<string, number>>;
  /** broker - ledger; null without a ledger. */
  readonly difference: number | null;
  readonly differs: boolean;
}

export function comparePositions(broker: readonly { symbol: string; quantity: number }[], ledger: LedgerView | undefined): PositionRow[] {
  const books = [...(ledger?.signatures ?? []), ...(ledger?.external ? [{ signature: EXTERNAL, positions: ledger.external.positions }] : [])];
  const symbols = new Set([...broker.map((p) => p.symbol), ...books.flatMap((s) => Object.keys(s.positions))]);
  return [...symbols].sort().map((symbol) => {
    const theirs = broker.find((p) => p.symbol === symbol)?.quantity ?? 0;
    const bySig = Object.fromEntries(books.flatMap((s) => (s.positions[symbol] ? [[s.signature, s.positions[symbol]!]] : [])));
    const ours = ledger ? Object.values(bySig).reduce((a, b) => a + b, 0) : null;
    const difference = ours === null ? null : theirs - ours;
    return { symbol, broker: theirs, ledger: ours, signatures: bySig, difference, differs: difference !== null && difference !== 0 };
  });
}

export interface OrderRow {
  readonly client_order_id: string;
  readonly signature: string | null;
  /** Placed by agent-trader (its client order id carries one of the config's signatures). */
  readonly ours: boolean;
  readonly symbol: string;
  readonly side: string;
  readonly quantity: number;
  readonly broker: { readonly order_id: string; readonly status: string; readonly filled_quantity: number } | null;
  readonly ledger: { readonly state: string; readonly filled_quantity: number } | null;
  readonly differs: boolean;
  readonly note?: string;
}

/** Ledger states of an order that is rightly not (yet) at the broker. */
const NOT_AT_BROKER_YET: ReadonlySet<string> = new Set(['new', 'queued', 'backing_off']);

const shares = (text: string | null | undefined): number => Number(text ?? '0');

export function compareOrders(brokerOpen: readonly WireOrder[], ledger: LedgerView | undefined, owner: Owner): OrderRow[] {
  const byCid = new Map(brokerOpen.map((o) => [o.client_order_id, o]));
  const ours = new Map((ledger?.openOrders ?? []).map((o) => [o.clientOrderId, o]));
  const cids = [...new Set([...byCid.keys(), ...ours.keys()])].sort();
  return cids.map((cid): OrderRow => {
    const b = byCid.get(cid);
    const l = ours.get(cid);
    const signature = l?.signature ?? owner(cid) ?? null;
    const base = {
      client_order_id: cid,
      signature,
      ours: signature !== null,
      symbol: (b?.symbol ?? l?.symbol)!,
      side: (b?.side ?? l?.side)!,
      quantity: b ? shares(b.qty) : l!.quantity,
      broker: b ? { order_id: b.id, status: b.status, filled_quantity: shares(b.filled_qty) } : null,
      ledger: l ? { state: l.state, filled_quantity: l.filledQuantity } : null,
    };
    if (!ledger) return { ...base, differs: false };
    if (b && !l) return { ...base, differs: true, note: signature === null ? 'external: not placed by agent-trader' : 'open at the broker, unknown to the ledger' };
    if (l && !b) {
      if (NOT_AT_BROKER_YET.has(l.state)) return { ...base, differs: false, note: `not at the broker yet (${l.state})` };
      return { ...base, differs: true, note: `not open at the broker (the ledger has it ${l.state})` };
    }
    const bf = shares(b!.filled_qty);
    if (bf !== l!.filledQuantity) return { ...base, differs: true, note: `filled ${bf} at the broker, ${l!.filledQuantity} in the ledger` };
    const status = ALPACA_STATUS[b!.status];
    // Working on both sides; a state in between (the ledger reconciling) is said, not marked.
    return { ...base, differs: false, ...(status && status !== l!.state ? { note: `broker ${b!.status}, ledger ${l!.state}` } : {}) };
  });
}

export interface FillRow {
  readonly fill_id: string;
  readonly client_order_id: string | null;
  readonly signature: string | null;
  readonly ours: boolean;
  readonly symbol: string;
  readonly side: string;
  readonly quantity: number;
  readonly price: string;
  readonly time: string;
  /** Reported by the broker. */
  readonly broker: boolean;
  /** In the ledger; null without a ledger. */
  readonly ledger: boolean | null;
  readonly differs: boolean;
  readonly note?: string;
}

/** A FILL activity's execution id: the part after `::` of its id. */
const executionId = (a: WireFillActivity): string => (a.id.includes('::') ? a.id.slice(a.id.indexOf('::') + 2) : a.id);

export function compareFills(activities: readonly WireFillActivity[], cidOf: ReadonlyMap<string, string>, ledger: LedgerView | undefined, owner: Owner, zone: string): FillRow[] {
  const time = (ms: number) => DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true })!;
  const pending = new Map((ledger?.fills ?? []).map((f) => [f.fillId, f]));
  const rows: FillRow[] = [];
  const unmatched: { row: Omit<FillRow, 'ledger' | 'differs' | 'note'>; cid: string | undefined }[] = [];
  for (const a of activities) {
    const cid = cidOf.get(a.order_id);
    const signature = cid ? (owner(cid) ?? null) : null;
    const row = { fill_id: executionId(a), client_order_id: cid ?? null, signature, ours: signature !== null, symbol: a.symbol, side: a.side, quantity: shares(a.qty), price: dec(a.price).toFixed(), time: time(Date.parse(a.transaction_time)), broker: true };
    if (pending.delete(row.fill_id)) rows.push({ ...row, ledger: true, differs: false });
    else unmatched.push({ row, cid });
  }
  for (const { row, cid } of unmatched) {
    // A fill the broker's totals implied before its activity was listed has another id in the ledger.
    const same = [...pending.values()].find((f) => f.clientOrderId === cid && f.quantity === row.quantity && dec(f.price).eq(row.price));
    if (same) {
      pending.delete(same.fillId);
      rows.push({ ...row, ledger: true, differs: false, note: `in the ledger as ${same.fillId}` });
    } else if (!ledger) rows.push({ ...row, ledger: null, differs: false });
    else rows.push({ ...row, ledger: false, differs: true, note: row.ours ? 'at the broker, not in the ledger' : 'external: not placed by agent-trader' });
  }
  for (const f of pending.values()) {
    rows.push({ fill_id: f.fillId, client_order_id: f.clientOrderId, signature: f.signature, ours: true, symbol: f.symbol, side: f.side, quantity: f.quantity, price: dec(f.price).toFixed(), time: time(f.atMs), broker: false, ledger: true, differs: true, note: 'in the ledger, not reported by the broker' });
  }
  return rows.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.fill_id.localeCompare(b.fill_id));
}

export interface StatusView {
  readonly account: { readonly id: string; readonly account_number: string | null; readonly status: string; readonly currency: string | null; readonly cash: string; readonly buying_power: string; readonly equity: string | null };
  readonly signatures: readonly { readonly signature: string; readonly cash: string; readonly positions: number; readonly open_orders: number }[] | null;
  readonly cash: { readonly broker: string; readonly ledger: string | null; readonly difference: string | null; readonly differs: boolean };
  /** A live run's external book (its cash counts in `cash.ledger`, its shares in the positions). */
  readonly external: { readonly cash: string; readonly positions: Readonly<Record<string, number>> } | null;
  readonly positions: { readonly broker: number; readonly ledger: number | null; readonly differing: number };
  readonly open_orders: { readonly broker: number; readonly ledger: number | null; readonly differing: number };
}

export function statusView(account: WireAccount, positions: readonly PositionRow[], orders: readonly OrderRow[], ledger: LedgerView | undefined): StatusView {
  const ledgerCash = ledger ? ledger.signatures.reduce((sum, s) => sum.plus(s.cash), dec(ledger.external?.cash ?? 0)) : undefined;
  const difference = ledgerCash ? dec(account.cash).minus(ledgerCash) : undefined;
  return {
    account: { id: account.id, account_number: account.account_number ?? null, status: account.status, currency: account.currency ?? null, cash: dec(account.cash).toFixed(), buying_power: dec(account.buying_power).toFixed(), equity: account.equity !== undefined ? dec(account.equity).toFixed() : null },
    signatures: ledger
      ? ledger.signatures.map((s) => ({
          signature: s.signature,
          cash: dec(s.cash).toFixed(),
          positions: Object.keys(s.positions).length,
          open_orders: ledger.openOrders.filter((o) => o.signature === s.signature).length,
        }))
      : null,
    cash: { broker: dec(account.cash).toFixed(), ledger: ledgerCash?.toFixed() ?? null, difference: difference?.toFixed() ?? null, differs: difference !== undefined && !difference.isZero() },
    external: ledger?.external ? { cash: dec(ledger.external.cash).toFixed(), positions: { ...ledger.external.positions } } : null,
    positions: { broker: positions.filter((p) => p.broker !== 0).length, ledger: ledger ? positions.filter((p) => (p.ledger ?? 0) !== 0).length : null, differing: positions.filter((p) => p.differs).length },
    open_orders: { broker: orders.filter((o) => o.broker).length, ledger: ledger ? orders.filter((o) => o.ledger).length : null, differing: orders.filter((o) => o.differs).length },
  };
}

// ---------------------------------------------------------------------------------------
// Text

/** Columns padded to their widest cell; the first column is the difference mark. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export const MARK = '!';
