/**
 * src/runtime/commit.ts: the simulated venue in the commit (its books snapshot plus one
 * record per changed order, so a step's write follows what the step changed, never the
 * venue's whole history), the stop-loss watcher in the commit (its snapshot built only when
 * its revision moved) and the restart's reconciliation of ledger, fill facts and venue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedBroker, type SimulatedBrokerState } from '../../src/actors/brokers/simulated-broker.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { openStore, type Store } from '../../src/actors/store/store.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { loadVenueState, VENUE_KEY, VENUE_ORDERS_SUBLEVEL, WATCHER_KEY } from '../../src/runtime/assemble.js';
import { joinVenue, joinWatcher, reconcile } from '../../src/runtime/commit.js';
import { StopLossWatcher, type StopLossWatcherSnapshot } from '../../src/actors/risk/stop-loss-watcher.js';
import { RiskControlSchema } from '../../src/config/schema.js';
import { isOpenAt, nextOpen } from '../../src/domain/calendar/index.js';
import { applyFill, openAccount } from '../../src/domain/portfolio.js';
import { stopRatiosFromConfig } from '../../src/domain/risk/stop-loss.js';
import { FILL_FACTS_SUBLEVEL, fillFactKey } from '../../src/runtime/engine-runtime.js';
import { Ledger } from '../../src/actors/ledger/ledger.js';
import type { Alert } from '../../src/actors/monitor/alert-collector.actor.js';
import type { Message } from '../../src/domain/messages.js';
import type { PointInTimeView } from '../../src/domain/point-in-time.js';
import { AI_TRADER } from '../support/fixtures.js';

let prices: PriceStore;
beforeAll(async () => {
  prices = await loadPriceStore(new URL('cn/sse50_daily.jsonl', AI_TRADER));
}, 60_000);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const t = DateTime.fromISO('2025-10-10T09:35', { zone: 'Asia/Shanghai' });

async function open(): Promise<{ store: Store; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'venue-commit-'));
  dirs.push(dir);
  return { store: await openStore(dir), dir };
}

const newVenue = (state?: SimulatedBrokerState) =>
  new SimulatedBroker({ market: 'cn', store: prices, now: () => t, accounts: { s: { cash: '1000000' } }, ...(state ? { state } : {}) });
const buy = (cid: string, extra: object = {}) => ({ clientOrderId: cid, signature: 's', side: 'buy' as const, symbol: '600028.SH', quantity: 100, type: 'market' as const, ...extra });

describe('the venue in the commit', () => {
  it('writes the books and only the orders a step changed; restores every order from the records', async () => {
    const { store, dir } = await open();
    const venue = newVenue();
    joinVenue(store, venue);
    for (let i = 1; i <= 5; i++) {
      await venue.submit(buy(`o${i}`));
      await store.commitNow();
    }
    await venue.submit(buy('rest', { type: 'limit', limitPrice: '5.00' }));
    await store.commitNow();
    const books = await store.loadSnapshot<Record<string, unknown>>(VENUE_KEY);
    expect(Object.keys(books!).sort()).toEqual(['accounts', 'liquidity']);
    const state = await loadVenueState(store);
    expect(state!.orders.map((o) => o.order.clientOrderId).sort()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5', 'rest']);
    await store.close();

    // A cancel rewrites that one order and nothing else.
    const again = await openStore(dir);
    const restored = newVenue(await loadVenueState(again));
    expect(restored.state()).toEqual(venue.state());
    joinVenue(again, restored);
    const puts: string[] = [];
    // What the commit wrote is read back from the store: the record of `rest` changed, the others did not.
    const beforeCancel = new Map<string, string>();
    for await (const { key, value } of again.listRecords(VENUE_ORDERS_SUBLEVEL)) beforeCancel.set(key, JSON.stringify(value));
    await restored.cancel('rest');
    await again.commitNow();
    for await (const { key, value } of again.listRecords(VENUE_ORDERS_SUBLEVEL)) if (beforeCancel.get(key) !== JSON.stringify(value)) puts.push(key);
    expect(puts).toEqual(['rest']);
    expect(restored.state().orders.find((o) => o.order.clientOrderId === 'rest')?.status).toBe('cancelled');
    await again.close();
  });

  it('a snapshot from before per-order records keeps its orders and moves them to records at the next commit', async () => {
    const { store } = await open();
    const venue = newVenue();
    await venue.submit(buy('a'));
    await venue.submit(buy('b'));
    const legacy = JSON.parse(JSON.stringify(venue.state())) as SimulatedBrokerState;
    const old = { ...legacy, orders: legacy.orders.map(({ received: _, ...o }) => o) };
    await store.saveSnapshot(VENUE_KEY, old);
    const loaded = await loadVenueState(store);
    expect(loaded!.orders.map((o) => o.order.clientOrderId)).toEqual(['a', 'b']);
    const restored = newVenue(loaded);
    joinVenue(store, restored);
    await store.commitNow();
    const keys: string[] = [];
    for await (const { key } of store.listRecords(VENUE_ORDERS_SUBLEVEL)) keys.push(key);
    expect(keys).toEqual(['a', 'b']);
    expect(Object.keys((await store.loadSnapshot<object>(VENUE_KEY))!).sort()).toEqual(['accounts', 'liquidity']);
    expect((await loadVenueState(store))!.orders).toEqual(restored.state().orders);
    await store.close();
  });
});

describe('the stop-loss watcher in the commit', () => {
  it('builds and writes its snapshot only at the commits after it changed; a restart restores what was written', async () => {
    const { store, dir } = await open();
    const positions = { s: applyFill(openAccount(1_000_000), { side: 'buy', symbol: 'X', quantity: 100, price: '100', date: '2025-10-09' }).positions };
    const deps = {
      market: 'cn' as const,
      ratios: stopRatiosFromConfig(RiskControlSchema.parse({})),
      signatures: ['s'],
      positions: (sig: string) => positions[sig as 's'],
      now: () => t.toMillis(),
      isOpenAt,
      nextOpen,
      placeOrder: () => {},
    };
    const watcher = new StopLossWatcher(deps);
    let built = 0;
    joinWatcher(store, {
      get revision() {
        return watcher.revision;
      },
      snapshot: () => (built++, watcher.snapshot()),
    });
    const quote = (price: string) => watcher.onQuote({ symbol: 'X', price, atMs: t.toMillis(), source: 'test' });
    await store.commitNow();
    expect([built, await store.loadSnapshot(WATCHER_KEY)]).toEqual([0, undefined]);
    quote('99'); // the record appears
    await store.commitNow();
    await store.commitNow();
    expect(built).toBe(1);
    expect(await store.loadSnapshot(WATCHER_KEY)).toEqual(watcher.snapshot());
    for (const px of ['98', '97', '101']) {
      quote(px); // between the thresholds: nothing changes, nothing is built
      await store.commitNow();
    }
    expect(built).toBe(1);
    quote('92'); // the stop (100 x 0.92): a protective order in flight
    await store.commitNow();
    expect(built).toBe(2);
    const written = await store.loadSnapshot<StopLossWatcherSnapshot>(WATCHER_KEY);
    expect(written).toEqual(watcher.snapshot());
    expect(written!.records[0]!.phase.kind).toBe('pending');
    await store.close();

    const again = await openStore(dir);
    const restored = new StopLossWatcher(deps);
    restored.restore((await again.loadSnapshot<StopLossWatcherSnapshot>(WATCHER_KEY))!);
    expect(restored.snapshot()).toEqual(watcher.snapshot());
    await again.close();
  });
});

describe('reconcile (restart, before the first session)', () => {
  const view = (when: DateTime): PointInTimeView => ({
    at: when,
    symbols: () => [],
    price: () => undefined,
    bars: () => [],
    previousClose: () => undefined,
    labelledBar: () => undefined,
  });

  it('applies committed fill facts and venue fills the ledger lacks, alerts ledger fills the venue does not know; once', async () => {
    const { store, dir } = await open();
    const ledger = new Ledger({ market: 'cn', frequency: 'daily', signatures: [{ signature: 's', initialCash: '1000000' }], store, stateDir: join(dir, 'out'), view, universe: ['600028.SH'], startDate: '2025-10-01', fsync: false });
    const venue = newVenue();
    const fills: Message<'ledger.applyFill'>[] = [];
    venue.updates$.subscribe((u) => {
      if (u.type !== 'broker.fill') return;
      const { clientOrderId, signature: _s, ...intent } = buy(u.clientOrderId);
      fills.push({ type: 'ledger.applyFill', signature: 's', clientOrderId, intent, fill: u.fill });
    });
    for (const cid of ['in-ledger', 'fact-only', 'venue-only']) await venue.submit(buy(cid));
    expect(fills).toHaveLength(3);
    const [inLedger, factOnly, venueOnly] = fills as [Message<'ledger.applyFill'>, Message<'ledger.applyFill'>, Message<'ledger.applyFill'>];
    await ledger.applyFill(inLedger);
    // What the order machine committed before the process died, the ledger's write not yet done.
    await store.putRecord(FILL_FACTS_SUBLEVEL, fillFactKey('s', factOnly.fill.fillId), factOnly);
    await store.putRecord(FILL_FACTS_SUBLEVEL, fillFactKey('s', inLedger.fill.fillId), inLedger);
    // A fill in our books the broker never made.
    await ledger.applyFill({ ...venueOnly, clientOrderId: 'ghost', fill: { ...venueOnly.fill, fillId: 'ghost#1' } });

    const alerts: Alert[] = [];
    const r = await reconcile(store, ledger, venue, (a) => alerts.push(a), t.toMillis());
    expect(r).toEqual({ replayed: 1, fromBroker: 1, unknownToBroker: 1 });
    expect(alerts.map((a) => [a.code, a.clientOrderId])).toEqual([
      ['RECONCILE_FILL_APPLIED', 'venue-only'],
      ['RECONCILE_FILL_UNKNOWN', 'ghost'],
    ]);
    for (const f of fills) expect(await ledger.hasFill('s', f.fill.fillId), f.clientOrderId).toBe(true);
    expect(ledger.summary('s').fills).toBe(4);
    expect(ledger.account('s').positions['600028.SH']?.quantity).toBe(400);

    // Idempotent: nothing more to apply; the ghost is still told.
    const again = await reconcile(store, ledger, venue, () => {}, t.toMillis());
    expect(again).toEqual({ replayed: 0, fromBroker: 0, unknownToBroker: 1 });
    expect(ledger.summary('s').fills).toBe(4);
    await store.close();
  });

  it('applies fills the ledger lacks in the order the venue made them (at one instant: the order it received them)', async () => {
    const { store, dir } = await open();
    const ledger = new Ledger({ market: 'cn', frequency: 'daily', signatures: [{ signature: 's', initialCash: '1000000' }], store, stateDir: join(dir, 'out'), view, universe: ['600028.SH'], startDate: '2025-10-01', fsync: false });
    const venue = newVenue();
    // Received .2 before .10: by id, ".10" would sort first.
    for (const cid of ['s.t.2', 's.t.10']) await venue.submit(buy(cid));
    const alerts: Alert[] = [];
    await reconcile(store, ledger, venue, (a) => alerts.push(a), t.toMillis());
    expect(alerts.map((a) => a.clientOrderId)).toEqual(['s.t.2', 's.t.10']);
    await store.close();
  });
});
