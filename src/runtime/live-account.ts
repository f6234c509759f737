/**
 * One broker account, several agents (src/domain/account-book.ts): the comparison of the account
 * with the agents' virtual sub-accounts + the external book, run by the monitor at start, on every
 * reconnect of the broker's stream, every `monitor.position_sync_minutes`, after each daily report,
 * and soon after an order that is not ours was seen. Each pass:
 *
 * 1. Orders of ours the engine does not follow (their client order id carries one of our signatures,
 *    the engine has no open order with it) whose fills the ledger lacks are adopted: the missing
 *    fills are booked to the signature they carry (`ORDER_ADOPTED`). With the commit before every
 *    submit this happens only when the state directory was replaced or another process trades
 *    under the same signatures; it is the net under that.
 * 2. The account's cash and positions against the sum of the sub-accounts + the external book. A
 *    difference is booked to the external book, journalled (`account.external`) and alerted
 *    (`EXTERNAL_ACTIVITY`), in one commit. Symbols with an order of ours open are left out (a fill
 *    may be on its way), cash too while any order of ours is open, and a pass during which a fill
 *    of ours arrived is dropped and tried again at the next one.
 *
 * The first pass opens the external book with what the account holds beyond the agents (what was
 * there before them): `EXTERNAL_BOOK_OPENED` when that is not nothing.
 */
import { DateTime } from 'luxon';
import type { AccountBroker } from '../actors/brokers/account-broker.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import type { Store } from '../actors/store/store.js';
import { accountDifferences, bookToExternal, describeDifferences, ExternalBookSchema, isEmpty, openExternalBook, type ExternalBook, type Holdings } from '../domain/account-book.js';
import { ownerOf } from '../domain/ids.js';
import { dec } from '../domain/money.js';
import type { Message } from '../domain/messages.js';
import type { EngineRuntime } from './engine-runtime.js';
import { openOrders } from './open-orders.js';

export const EXTERNAL_BOOK_KEY = 'external-book';

type Alert = Message<'monitor.alert'>;

export interface LiveAccountDeps {
  readonly broker: Pick<AccountBroker, 'cash' | 'positions' | 'recentOrders' | 'fillsBeyond' | 'settled' | 'fillsEmitted' | 'reconcileOrders'>;
  readonly ledger: Ledger;
  readonly store: Store;
  readonly engine: () => Pick<EngineRuntime, 'actor'> | undefined;
  readonly signatures: readonly string[];
  readonly zone: string;
  /** The run clock, epoch ms. */
  readonly now: () => number;
  readonly alert: (alert: Alert) => void;
  /** Orders of ours are looked for as far back as this (default 24 h). */
  readonly lookbackMs?: number;
}

export interface LiveAccount {
  /** One pass (see the module comment); the differences booked to external, by book (`external`), and the orders adopted (`adopted`). */
  sync(reason: string): Promise<Record<string, string[]>>;
  /** The external book as committed (undefined before the first pass). */
  external(): ExternalBook | undefined;
}

export async function liveAccount(deps: LiveAccountDeps): Promise<LiveAccount> {
  const saved = await deps.store.loadSnapshot(EXTERNAL_BOOK_KEY);
  let book: ExternalBook | undefined = saved === undefined ? undefined : ExternalBookSchema.parse(saved);
  const raise = (level: Alert['level'], code: string, message: string, signature?: string) =>
    deps.alert({ type: 'monitor.alert', level, code, message, tsEvent: deps.now(), ...(signature ? { signature } : {}) });
  const owner = ownerOf(deps.signatures);

  /** The engine's open orders of ours: client order id -> symbol. */
  const openInEngine = () => {
    const engine = deps.engine();
    return new Map((engine ? openOrders(engine) : []).map((o) => [o.clientOrderId, o.context?.order?.symbol ?? '']));
  };

  const adopt = async (open: Map<string, string>): Promise<string[]> => {
    const since = deps.now() - (deps.lookbackMs ?? 24 * 3_600_000);
    const orders = await deps.broker.recentOrders(since);
    const behind: { order: (typeof orders)[number]; signature: string; known: number }[] = [];
    for (const order of orders) {
      const cid = order.clientOrderId;
      const signature = cid === undefined ? undefined : owner(cid);
      if (cid === undefined || !signature || open.has(cid) || order.filledQuantity === 0) continue;
      const known = await deps.ledger.filledQuantity(cid);
      if (order.filledQuantity > known) behind.push({ order, signature, known });
    }
    if (behind.length === 0) return [];
    // The account's fills once, for every order behind (not a request per order).
    const fillsOf = await deps.broker.fillsBeyond(behind);
    const lines: string[] = [];
    for (const [i, { order, signature }] of behind.entries()) {
      const fills = fillsOf[i] ?? [];
      if (fills.length === 0) continue;
      const cid = order.clientOrderId!;
      const intent = { side: order.side, symbol: order.symbol, quantity: order.quantity, type: 'market' as const };
      for (const fill of fills) await deps.ledger.applyFill({ signature, clientOrderId: cid, intent, fill });
      const line = `${cid}: ${fills.reduce((s, f) => s + f.quantity, 0)} ${order.symbol} ${order.side} booked to ${signature}`;
      lines.push(line);
      raise('warning', 'ORDER_ADOPTED', `an order of ${signature} this process did not follow (${order.status} at the broker): its fills are booked to ${signature}: ${line}`, signature);
    }
    return lines;
  };

  const subAccounts = (): Holdings[] =>
    deps.signatures.map((s) => {
      const a = deps.ledger.account(s);
      return { cash: a.cash, positions: Object.fromEntries(Object.entries(a.positions).map(([k, p]) => [k, p.quantity])) };
    });

  const commitBook = async (next: ExternalBook, entry: Record<string, unknown>) => {
    await deps.store.stage({ snapshots: { [EXTERNAL_BOOK_KEY]: next }, journal: [entry] }, 'external book');
    book = next;
  };

  const sync = async (reason: string): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {};
    // Every order of ours in flight brought up to the broker's state first (what the stream may have missed).
    await deps.broker.reconcileOrders();
    await deps.broker.settled();
    const open = openInEngine();
    const adopted = await adopt(open);
    if (adopted.length > 0) out['adopted'] = adopted;
    await deps.ledger.idle();
    const before = deps.broker.fillsEmitted;
    const [cash, positions] = await Promise.all([deps.broker.cash(), deps.broker.positions()]);
    await deps.broker.settled();
    await deps.ledger.idle();
    // A fill of ours came in while the account was read: the two views are of different moments.
    if (deps.broker.fillsEmitted !== before) return out;
    const broker: Holdings = { cash: dec(cash), positions: Object.fromEntries(positions.map((p) => [p.symbol, p.quantity])) };
    const at = DateTime.fromMillis(deps.now(), { zone: deps.zone }).toISO()!;
    if (!book) {
      const opened = openExternalBook(broker, subAccounts(), at);
      await commitBook(opened, { source: 'account', type: 'account.externalOpened', reason, book: opened });
      const held = Object.entries(opened.positions).map(([s, q]) => `${s} ${q}`);
      if (held.length > 0 || !dec(opened.cash).isZero()) {
        raise('info', 'EXTERNAL_BOOK_OPENED', `the account holds more than the agents' allocations: cash ${opened.cash}${held.length ? `, shares ${held.join(', ')}` : ''} are booked to the external book (no agent trades them)`);
      }
      return out;
    }
    const symbols = new Set(open.values());
    const diffs = accountDifferences(broker, subAccounts(), book, { skipSymbols: symbols, skipCash: open.size > 0 });
    if (isEmpty(diffs)) return out;
    const lines = describeDifferences(diffs);
    await commitBook(bookToExternal(book, diffs), { source: 'account', type: 'account.external', reason, differences: lines, at });
    out['external'] = lines;
    raise('warning', 'EXTERNAL_ACTIVITY', `the broker account changed in a way no agent's fills explain (${reason}): ${lines.join('; ')}; booked to the external book, no agent's account changed`);
    return out;
  };

  // One pass at a time: two at once would both book the same difference.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = (reason: string) => {
    const run = tail.then(() => sync(reason), () => sync(reason));
    tail = run.catch(() => undefined);
    return run;
  };
  return { sync: serial, external: () => book };
}
