/**
 * The commit unit's participants and the restart's reconciliation (docs/persistence.md).
 *
 * Every part of the system whose state must survive a crash joins the store's commit: the
 * engine (engine-runtime.ts), the simulated venue and the stop-loss watcher (here). The
 * store takes each one's changed state at the end of the step, with what the ledger and risk
 * staged, in ONE LevelDB batch; effects (a broker call, a feed event) wait for that batch.
 *
 * Restart: before the engine resumes, `reconcile` makes the ledger agree with what is
 * committed and with the broker: fills the order machines received (fill facts) and fills the
 * venue has that the ledger lacks are applied (the broker wins), fills the ledger has that the
 * venue does not know are alerted.
 */
import type { SimulatedBroker, VenueOrderState } from '../actors/brokers/simulated-broker.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import { LEDGER_SUBLEVELS } from '../actors/ledger/ledger.js';
import type { Alert } from '../actors/monitor/alert-collector.actor.js';
import type { StopLossWatcher } from '../actors/risk/stop-loss-watcher.js';
import type { Store } from '../actors/store/store.js';
import type { Message } from '../domain/messages.js';
import { FILL_FACTS_SUBLEVEL, fillFactKey } from './engine-runtime.js';
import { VENUE_KEY, VENUE_ORDERS_SUBLEVEL, WATCHER_KEY } from './assemble.js';

/** The venue joins every commit after a change (every change is announced on `updates$`): its books snapshot and the changed orders' records. */
export function joinVenue(store: Store, venue: SimulatedBroker): () => void {
  let dirty = false;
  const sub = venue.updates$.subscribe(() => {
    dirty = true;
    store.touch();
  });
  const leave = store.participate({
    name: 'venue',
    collect: () => {
      // Only the orders this step changed, and the accounts: a commit's cost follows the step, not the history.
      const orders = venue.takeChangedOrders();
      if (!dirty && orders.length === 0) return undefined;
      dirty = false;
      return {
        snapshots: { [VENUE_KEY]: venue.books() },
        puts: orders.map((o) => ({ sublevel: VENUE_ORDERS_SUBLEVEL, key: o.order.clientOrderId, value: o })),
      };
    },
  });
  return () => {
    sub.unsubscribe();
    leave();
  };
}

/**
 * The stop-loss watcher's records (which positions already fired) join the commit when they
 * change: its `revision` says when, so a commit the watcher did not change costs a compare
 * (building and comparing the whole snapshot at every commit was 11% of a big backtest's CPU).
 */
export function joinWatcher(store: Store, watcher: Pick<StopLossWatcher, 'snapshot' | 'revision'>): () => void {
  let seen = watcher.revision;
  return store.participate({
    name: 'stop-loss',
    collect: () => {
      if (watcher.revision === seen) return undefined;
      seen = watcher.revision;
      return { snapshots: { [WATCHER_KEY]: watcher.snapshot() } };
    },
  });
}

type FillFact = Pick<Message<'ledger.applyFill'>, 'signature' | 'clientOrderId' | 'intent' | 'fill'>;

export interface Reconciliation {
  /** Fill facts the ledger had not applied when the process stopped. */
  readonly replayed: number;
  /** Fills the venue had that neither the ledger nor the fill facts knew (the broker wins). */
  readonly fromBroker: number;
  /** Fills the ledger has that the venue does not know (alerted, not changed). */
  readonly unknownToBroker: number;
}

const byId = (a: FillFact, b: FillFact) => (a.fill.fillId < b.fill.fillId ? -1 : a.fill.fillId > b.fill.fillId ? 1 : 0);

/**
 * The venue's order of its fills: by instant, then (at one instant) in the order the venue
 * received the orders, which is the order it tries them in, then each order's fills in turn.
 * position.jsonl follows the order fills are applied, so a repaired log reads as the venue
 * made them; a fill the venue does not know goes by its id.
 */
function venueOrder(orders: readonly VenueOrderState[]): (a: FillFact, b: FillFact) => number {
  const rank = new Map<string, number>();
  orders.forEach((o, i) => o.fills.forEach((f, j) => rank.set(fillFactKey(o.order.signature, f.fillId), (o.received ?? i) * 1e6 + j)));
  const of = (f: FillFact) => rank.get(fillFactKey(f.signature, f.fill.fillId));
  return (a, b) => {
    if (a.fill.atMs !== b.fill.atMs) return a.fill.atMs - b.fill.atMs;
    const ra = of(a);
    const rb = of(b);
    return ra !== undefined && rb !== undefined && ra !== rb ? ra - rb : byId(a, b);
  };
}

/**
 * Before the first session resumes: apply every committed fill fact the ledger lacks, then
 * every venue fill the ledger still lacks; alert the reverse. Idempotent (fills apply once
 * per fill id), so a crash during it is repaired by the next start.
 */
export async function reconcile(store: Store, ledger: Ledger, venue: SimulatedBroker | undefined, alert: (a: Alert) => void, nowMs: number): Promise<Reconciliation> {
  // The ledger's fill ids and the fill facts' ids, keys only and read once (one read per fill
  // made a restart with 10,000 orders take a second); values only for the facts it lacks.
  const key = fillFactKey;
  // The venue's orders, built once: a restart with 10,000 of them should not copy them twice.
  const venueOrders = venue?.state().orders ?? [];
  const byTime = venueOrder(venueOrders);
  const inLedger = new Set(await store.listKeys(LEDGER_SUBLEVELS.fills));
  const facts: FillFact[] = [];
  for (const k of await store.listKeys(FILL_FACTS_SUBLEVEL)) {
    if (inLedger.has(k)) continue;
    const f = await store.getRecord<FillFact>(FILL_FACTS_SUBLEVEL, k);
    if (f) facts.push(f);
  }
  let replayed = 0;
  for (const f of facts.sort(byTime)) {
    if ((await ledger.applyFill(f).catch(() => ({ applied: false }))).applied) {
      replayed++;
      inLedger.add(key(f.signature, f.fill.fillId));
    }
  }

  let fromBroker = 0;
  let unknownToBroker = 0;
  if (venue) {
    const venueFills = new Set<string>();
    const missing: FillFact[] = [];
    for (const o of venueOrders) {
      for (const fill of o.fills) {
        venueFills.add(key(o.order.signature, fill.fillId));
        if (!ledger.signatures().includes(o.order.signature)) continue;
        if (!inLedger.has(key(o.order.signature, fill.fillId))) {
          const { clientOrderId, signature, ...intent } = o.order;
          missing.push({ signature, clientOrderId, intent, fill });
        }
      }
    }
    for (const f of missing.sort(byTime)) {
      if ((await ledger.applyFill(f).catch(() => ({ applied: false }))).applied) {
        fromBroker++;
        alert({ type: 'monitor.alert', level: 'warning', code: 'RECONCILE_FILL_APPLIED', message: `restart: fill ${f.fill.fillId} of ${f.clientOrderId} (${f.intent.side} ${f.fill.quantity} ${f.intent.symbol} at ${f.fill.price}) was at the broker but not in the ledger; applied`, signature: f.signature, clientOrderId: f.clientOrderId, tsEvent: nowMs });
      }
    }
    // Only a fill unknown to the venue needs its record (for the alert's words).
    for (const k of inLedger) {
      if (venueFills.has(k)) continue;
      const value = await store.getRecord<FillFact>(LEDGER_SUBLEVELS.fills, k);
      if (!value) continue;
      unknownToBroker++;
      alert({ type: 'monitor.alert', level: 'critical', code: 'RECONCILE_FILL_UNKNOWN', message: `restart: the ledger has fill ${value.fill.fillId} of ${value.clientOrderId} that the broker does not know; the books were not changed, check the account`, signature: value.signature, clientOrderId: value.clientOrderId, tsEvent: nowMs });
    }
  }
  await ledger.idle();
  return { replayed, fromBroker, unknownToBroker };
}
