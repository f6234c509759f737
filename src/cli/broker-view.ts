/**
 * `broker status|positions|orders|fills`: the broker's own view of the account next to the
 * ledger's, differences marked. The broker side is what the broker answers now (Alpaca through
 * AlpacaBroker's REST calls; Futu OpenD, the terminal bridge, EastMoney through their venue
 * adapters' list calls: ./broker-sources.ts), in the neutral shapes below (`BrokerOrder`,
 * `BrokerFill`, `BrokerAccount`); the ledger side is the run's store under `state_dir`, opened
 * read-only (a directory that holds no run, or a store a running process holds, leaves the ledger
 * side out and says why).
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
 * - Venues that cannot carry our client order id (the bridge, EastMoney): the broker's order
 *   number is ours when the run committed it (`orderIdsOfLedger`): an open order's context holds
 *   its `brokerOrderId`, a booked fill's id is the one the broker lists for that order (or, made
 *   from the order's totals, `<number>:cum:<filled>`).
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
  /** The broker's number for it, once the broker took it (the engine's committed order context). */
  readonly brokerOrderId?: string | undefined;
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
  readonly children?: Readonly<Record<string, { readonly snapshot?: { readonly value?: unknown; readonly context?: { readonly order?: OrderRequest; readonly filledQuantity?: number; readonly brokerOrderId?: string } } }>>;
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
      return [{ clientOrderId: cid, signature: o.signature ?? order.signature, symbol: order.symbol, side: order.side, quantity: order.quantity, state: typeof child.value === 'string' ? child.value : JSON.stringify(child.value), filledQuantity: child.context?.filledQuantity ?? 0, ...(child.context?.brokerOrderId ? { brokerOrderId: child.context.brokerOrderId } : {}) }];
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

/** An order as the broker lists it, in our words (Alpaca's wire order, a venue adapter's order). */
export interface BrokerOrder {
  readonly orderId: string;
  /**
   * The client order id the broker carries (ours, or another app's own on Alpaca / in Futu's
   * remark), else ours when the ledger maps the broker's number to it; undefined: none known.
   */
  readonly clientOrderId: string | undefined;
  readonly symbol: string;
  readonly side: string;
  readonly quantity: number;
  readonly filledQuantity: number;
  /** The broker's own word for where it is. */
  readonly status: string;
  /** The order machine's state that word means, when there is one (a state in between is then said). */
  readonly state: string | undefined;
}

/** A fill as the broker reports it, in our words. */
export interface BrokerFill {
  readonly fillId: string;
  readonly orderId: string;
  /** As on BrokerOrder: carried, or mapped from the ledger; undefined: none known. */
  readonly clientOrderId: string | undefined;
  readonly symbol: string;
  readonly side: string;
  readonly quantity: number;
  readonly price: string;
  readonly atMs: number;
  /**
   * Made from the order's cumulative quantity and average price (the venue lists no fills: Futu's
   * simulate environment): the ledger holds the same shares as one fill per increase it saw.
   */
  readonly cumulative?: boolean;
}

/** The account as the broker reports it; null where this broker does not say. */
export interface BrokerAccount {
  readonly id: string | null;
  readonly account_number: string | null;
  readonly status: string | null;
  readonly currency: string | null;
  readonly cash: string;
  readonly buying_power: string | null;
  readonly equity: string | null;
}

const shares = (text: string | null | undefined): number => Number(text ?? '0');

/** A FILL activity's execution id: the part after `::` of its id. */
const executionId = (a: WireFillActivity): string => (a.id.includes('::') ? a.id.slice(a.id.indexOf('::') + 2) : a.id);

export const fromAlpacaOrder = (o: WireOrder): BrokerOrder => ({
  orderId: o.id,
  clientOrderId: o.client_order_id,
  symbol: o.symbol,
  side: o.side,
  quantity: shares(o.qty),
  filledQuantity: shares(o.filled_qty),
  status: o.status,
  state: ALPACA_STATUS[o.status],
});

/** `cidOf`: Alpaca's order id -> the order's client order id (activities name only the former). */
export const fromAlpacaFill = (a: WireFillActivity, cidOf: ReadonlyMap<string, string>): BrokerFill => ({
  fillId: executionId(a),
  orderId: a.order_id,
  clientOrderId: cidOf.get(a.order_id),
  symbol: a.symbol,
  side: a.side,
  quantity: shares(a.qty),
  price: a.price,
  atMs: Date.parse(a.transaction_time),
});

export const fromAlpacaAccount = (a: WireAccount): BrokerAccount => ({
  id: a.id,
  account_number: a.account_number ?? null,
  status: a.status,
  currency: a.currency ?? null,
  cash: a.cash,
  buying_power: a.buying_power,
  equity: a.equity ?? null,
});

/**
 * Broker order number -> our client order id, as far as the run committed it: each open order's
 * `brokerOrderId` (the engine's order context), and each booked fill the broker lists too (its
 * fill id names the broker's order) or that was made from an order's totals (`<number>:cum:<n>`,
 * polled-broker.ts). What neither holds (an order of ours that ended without a fill, before the
 * ledger's fills) stays unmapped: shown without a client order id, as the broker lists it.
 */
export function orderIdsOfLedger(ledger: LedgerView | undefined, brokerFills: readonly { readonly fillId: string; readonly brokerOrderId: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  if (!ledger) return out;
  for (const o of ledger.openOrders) if (o.brokerOrderId) out.set(o.brokerOrderId, o.clientOrderId);
  const orderOfFill = new Map(brokerFills.map((f) => [f.fillId, f.brokerOrderId]));
  for (const f of ledger.fills) {
    const cum = /^(.+):cum:\d+$/.exec(f.fillId);
    const orderId = orderOfFill.get(f.fillId) ?? cum?.[1];
    if (orderId !== undefined && !out.has(orderId)) out.set(orderId, f.clientOrderId);
  }
  return out;
}

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
  /** null: the broker carries none and the ledger maps none to its number (an order not ours on the bridge or EastMoney). */
  readonly client_order_id: string | null;
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

/** Alpaca's open orders against the ledger's (see compareBrokerOrders). */
export function compareOrders(brokerOpen: readonly WireOrder[], ledger: LedgerView | undefined, owner: Owner): OrderRow[] {
  return compareBrokerOrders(brokerOpen.map(fromAlpacaOrder), ledger, owner);
}

export function compareBrokerOrders(brokerOpen: readonly BrokerOrder[], ledger: LedgerView | undefined, owner: Owner): OrderRow[] {
  // Keyed by client order id; an order without one by its broker number (it cannot be the ledger's).
  const keyOf = (o: BrokerOrder) => (o.clientOrderId !== undefined ? `c:${o.clientOrderId}` : `o:${o.orderId}`);
  const atBroker = new Map(brokerOpen.map((o) => [keyOf(o), o]));
  const ours = new Map((ledger?.openOrders ?? []).map((o) => [`c:${o.clientOrderId}`, o]));
  const keys = [...new Set([...atBroker.keys(), ...ours.keys()])].sort();
  return keys.map((key): OrderRow => {
    const b = atBroker.get(key);
    const l = ours.get(key);
    const cid = b ? (b.clientOrderId ?? null) : l!.clientOrderId;
    const signature = l?.signature ?? (cid !== null ? owner(cid) : undefined) ?? null;
    const base = {
      client_order_id: cid,
      signature,
      ours: signature !== null,
      symbol: (b?.symbol ?? l?.symbol)!,
      side: (b?.side ?? l?.side)!,
      quantity: b ? b.quantity : l!.quantity,
      broker: b ? { order_id: b.orderId, status: b.status, filled_quantity: b.filledQuantity } : null,
      ledger: l ? { state: l.state, filled_quantity: l.filledQuantity } : null,
    };
    if (!ledger) return { ...base, differs: false };
    if (b && !l) return { ...base, differs: true, note: signature === null ? 'external: not placed by agent-trader' : 'open at the broker, unknown to the ledger' };
    if (l && !b) {
      if (NOT_AT_BROKER_YET.has(l.state)) return { ...base, differs: false, note: `not at the broker yet (${l.state})` };
      return { ...base, differs: true, note: `not open at the broker (the ledger has it ${l.state})` };
    }
    if (b!.filledQuantity !== l!.filledQuantity) return { ...base, differs: true, note: `filled ${b!.filledQuantity} at the broker, ${l!.filledQuantity} in the ledger` };
    // Working on both sides; a state in between (the ledger reconciling) is said, not marked.
    return { ...base, differs: false, ...(b!.state && b!.state !== l!.state ? { note: `broker ${b!.status}, ledger ${l!.state}` } : {}) };
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

/** Alpaca's FILL activities against the ledger's fills (see compareBrokerFills). */
export function compareFills(activities: readonly WireFillActivity[], cidOf: ReadonlyMap<string, string>, ledger: LedgerView | undefined, owner: Owner, zone: string): FillRow[] {
  return compareBrokerFills(activities.map((a) => fromAlpacaFill(a, cidOf)), ledger, owner, zone);
}

export function compareBrokerFills(brokerFills: readonly BrokerFill[], ledger: LedgerView | undefined, owner: Owner, zone: string): FillRow[] {
  const time = (ms: number) => DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true })!;
  const pending = new Map((ledger?.fills ?? []).map((f) => [f.fillId, f]));
  const rows: FillRow[] = [];
  const unmatched: { row: Omit<FillRow, 'ledger' | 'differs' | 'note'>; cid: string | undefined; cumulative: boolean }[] = [];
  for (const b of brokerFills) {
    const cid = b.clientOrderId;
    const signature = cid ? (owner(cid) ?? null) : null;
    const row = { fill_id: b.fillId, client_order_id: cid ?? null, signature, ours: signature !== null, symbol: b.symbol, side: b.side, quantity: b.quantity, price: dec(b.price).toFixed(), time: time(b.atMs), broker: true };
    // A fill made from totals is compared by its order's shares (its id may be one of the ledger's, with fewer).
    if (!b.cumulative && pending.delete(row.fill_id)) rows.push({ ...row, ledger: true, differs: false });
    else unmatched.push({ row, cid, cumulative: b.cumulative === true });
  }
  for (const { row, cid, cumulative } of unmatched) {
    // The order's totals against every fill the ledger booked for it (one per increase the run saw).
    const booked = cumulative && cid !== undefined ? [...pending.values()].filter((f) => f.clientOrderId === cid) : [];
    if (booked.length > 0) {
      for (const f of booked) pending.delete(f.fillId);
      const qty = booked.reduce((n, f) => n + f.quantity, 0);
      const as = booked.map((f) => f.fillId).join(', ');
      if (qty === row.quantity) rows.push({ ...row, ledger: true, differs: false, ...(as ? { note: `in the ledger as ${as}` } : {}) });
      else rows.push({ ...row, ledger: true, differs: true, note: `filled ${row.quantity} at the broker, ${qty} in the ledger (${as})` });
      continue;
    }
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
  readonly account: BrokerAccount;
  readonly signatures: readonly { readonly signature: string; readonly cash: string; readonly positions: number; readonly open_orders: number }[] | null;
  readonly cash: { readonly broker: string; readonly ledger: string | null; readonly difference: string | null; readonly differs: boolean };
  /** A live run's external book (its cash counts in `cash.ledger`, its shares in the positions). */
  readonly external: { readonly cash: string; readonly positions: Readonly<Record<string, number>> } | null;
  readonly positions: { readonly broker: number; readonly ledger: number | null; readonly differing: number };
  readonly open_orders: { readonly broker: number; readonly ledger: number | null; readonly differing: number };
}

const amount = (text: string | null): string | null => (text === null ? null : dec(text).toFixed());

export function statusView(a: BrokerAccount, positions: readonly PositionRow[], orders: readonly OrderRow[], ledger: LedgerView | undefined): StatusView {
  const ledgerCash = ledger ? ledger.signatures.reduce((sum, s) => sum.plus(s.cash), dec(ledger.external?.cash ?? 0)) : undefined;
  const difference = ledgerCash ? dec(a.cash).minus(ledgerCash) : undefined;
  return {
    account: { ...a, cash: dec(a.cash).toFixed(), buying_power: amount(a.buying_power), equity: amount(a.equity) },
    signatures: ledger
      ? ledger.signatures.map((s) => ({
          signature: s.signature,
          cash: dec(s.cash).toFixed(),
          positions: Object.keys(s.positions).length,
          open_orders: ledger.openOrders.filter((o) => o.signature === s.signature).length,
        }))
      : null,
    cash: { broker: dec(a.cash).toFixed(), ledger: ledgerCash?.toFixed() ?? null, difference: difference?.toFixed() ?? null, differs: difference !== undefined && !difference.isZero() },
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
