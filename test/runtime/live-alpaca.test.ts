/**
 * Live trading on an Alpaca paper account, end to end: the fake Alpaca in its own process (REST +
 * binary trade_updates stream) fills market orders at the last trade of the built-in replay server,
 * which also feeds our quote client; two rules agents share the one account, each in its own
 * virtual sub-account; the account already holds cash and shares of its own (the external book).
 * Time is virtual wall time, moved one scheduled action at a time once nothing is in flight.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { openStore } from '../../src/actors/store/store.js';
import type { Config } from '../../src/config/schema.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import { dec } from '../../src/domain/money.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { EXTERNAL_BOOK_KEY } from '../../src/runtime/live-account.js';
import { startPaper, type PaperRun } from '../../src/runtime/paper.js';
import { openQuoteSource, type QuoteSource } from '../../src/runtime/quote-source.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { FakeAlpacaProcess, type FakeState } from '../support/fake-alpaca/process.js';

import { ENV, liveConfig, SAMPLE, turn, WALL0 } from '../support/live-rig.js';

interface Rig {
  readonly source: QuoteSource;
  readonly run: PaperRun;
  readonly wall: EpochVirtualScheduler;
  readonly events: FeedEvent[];
}

async function rig(config: Config, outDir: string, history: PriceStore, source: QuoteSource, wall: EpochVirtualScheduler): Promise<Rig> {
  const symbols = history.symbols();
  const killSwitch = new KillSwitch(outDir, () => wall.now(), { pollMs: 60_000 });
  const events: FeedEvent[] = [];
  const run = await startPaper({
    config,
    outDir,
    scheduler: source.scheduler,
    wall,
    timeScale: source.speed,
    quotes: source.feed,
    history,
    universe: symbols,
    killSwitch,
    env: ENV,
    monitor: { syncEveryMs: 7 * 86_400_000 },
    ...(source.until ? { until: source.until } : {}),
    onAlert: (a) => events.push({ type: 'alert', time: '', payload: { level: a.level, code: a.code, message: a.message } }),
  });
  run.events.subscribe((e) => events.push(e));
  return { source, run, wall, events };
}

const alerts = (r: Rig, code: string) => r.events.filter((e) => e.type === 'alert' && e.payload['code'] === code && e.time === '');

/** Nothing in flight: no session running, the ledger and the engine idle, no new event for a few turns. */
async function settle(r: Rig): Promise<void> {
  let idle = 0;
  for (;;) {
    const before = r.events.length;
    await r.run.ledger.idle();
    await r.run.runtime.flush();
    await turn();
    const running = Object.keys(r.run.runtime.actor.getSnapshot().context.running).length;
    const open = Object.keys(r.run.runtime.actor.getSnapshot().context.openOrders).length;
    if (running === 0 && open === 0 && r.events.length === before) {
      if (++idle > 20) return;
    } else idle = 0;
  }
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !done(); i++) await turn();
  expect(done()).toBe(true);
}

async function drive(r: Rig, done: () => boolean): Promise<void> {
  await settle(r);
  for (let i = 0; i < 100_000 && !done(); i++) {
    const next = r.wall.actions[0];
    if (!next) break;
    r.wall.advanceTo(next.delay);
    await settle(r);
  }
}

describe('live on an Alpaca paper account: two agents on one account', () => {
  let out: string;
  let fake: FakeAlpacaProcess;
  let r: Rig;
  let finished = false;
  let final: FakeState;
  let external: { cash: string; positions: Record<string, number> };
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'agent-trader-live-'));
    const history = await loadPriceStore(SAMPLE, { market: 'us' });
    const wall = new EpochVirtualScheduler(WALL0);
    fake = await FakeAlpacaProcess.start({ startMs: Date.UTC(2025, 10, 7, 14, 0), cash: '50000' });
    const config = liveConfig(fake);
    const source = await openQuoteSource(config, { history, symbols: history.symbols(), wall });
    await fake.price('AAPL', '268');
    // The account's own holding before any agent: 5 AAPL, bought outside agent-trader.
    await fake.externalOrder({ symbol: 'AAPL', side: 'buy', qty: 5, price: '268' });
    await fake.follow(source.replay!.url);
    r = await rig(config, out, history, source, wall);
    void r.run.finished.then(() => (finished = true));
    await until(() => alerts(r, 'BROKER_RECONCILED').length > 0);
    await drive(r, () => finished);
    final = await fake.state();
    await r.run.stop();
    await r.source.close();
    const store = await openStore(join(out, 'state'));
    external = (await store.loadSnapshot(EXTERNAL_BOOK_KEY))!;
    await store.close();
  }, 120_000);
  afterAll(async () => {
    await fake?.stop();
    await rm(out, { recursive: true, force: true });
  });

  it('reconciles with the account before the first session, then runs every session of the day', () => {
    expect(finished).toBe(true);
    const first = r.events.findIndex((e) => e.type === 'alert' && e.payload['code'] === 'BROKER_RECONCILED');
    const firstSession = r.events.findIndex((e) => e.type === 'session');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(firstSession);
    const outcomes = r.events.filter((e) => e.type === 'session' && e.payload['outcome']).map((e) => `${e.signature} ${String(e.payload['state'])}`);
    expect(outcomes).toHaveLength(12);
    expect(outcomes.every((o) => o.endsWith('completed'))).toBe(true);
  });

  it('sends each order to Alpaca once, under our client order id, and books every fill to its agent', () => {
    const posts = final.requests.filter((q) => q.method === 'POST' && q.path === '/v2/orders');
    const cids = posts.map((q) => q.clientOrderId!);
    expect(cids.length).toBeGreaterThan(4);
    expect(new Set(cids).size).toBe(cids.length);
    expect(cids.every((c) => c.startsWith('ew.') || c.startsWith('mom.'))).toBe(true);
    const filled = final.orders.filter((o) => o.status === 'filled' && o.client_order_id !== '' && (o.client_order_id.startsWith('ew.') || o.client_order_id.startsWith('mom.')));
    const fills = r.events.filter((e) => e.type === 'fill');
    expect(fills.length).toBe(filled.length);
  });

  it("ends with the account equal to the agents' sub-accounts plus the external book, share for share and to the cent", () => {
    const ew = r.run.ledger.account('ew');
    const mom = r.run.ledger.account('mom');
    const symbols = new Set([...Object.keys(final.positions), ...Object.keys(ew.positions), ...Object.keys(mom.positions)]);
    for (const s of symbols) {
      const ours = (ew.positions[s]?.quantity ?? 0) + (mom.positions[s]?.quantity ?? 0) + (external.positions[s] ?? 0);
      expect({ s, qty: final.positions[s] ?? 0 }).toEqual({ s, qty: ours });
    }
    // The external book is what the account held before the agents: 5 AAPL and the cash beyond their 2 x 10,000.
    expect(external.positions).toEqual({ AAPL: 5 });
    const ours = ew.cash.plus(mom.cash).plus(dec(external.cash));
    expect(dec(final.cash).minus(ours).abs().lt(dec('0.01'))).toBe(true);
    expect(alerts(r, 'EXTERNAL_ACTIVITY')).toHaveLength(0);
    // Agents traded: their cash moved.
    expect(ew.cash.eq(10000) && mom.cash.eq(10000)).toBe(false);
  });
});

/** A fresh run on a fresh fake (100,000 cash, nothing held), once its start-up reconciliation is done. */
async function reconciledRun(): Promise<{ out: string; fake: FakeAlpacaProcess; source: QuoteSource; r: Rig }> {
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-'));
  const history = await loadPriceStore(SAMPLE, { market: 'us' });
  const wall = new EpochVirtualScheduler(WALL0);
  const fake = await FakeAlpacaProcess.start({ startMs: Date.UTC(2025, 10, 7, 14, 0) });
  const config = liveConfig(fake);
  const source = await openQuoteSource(config, { history, symbols: history.symbols(), wall });
  await fake.follow(source.replay!.url);
  const r = await rig(config, out, history, source, wall);
  await until(() => alerts(r, 'BROKER_RECONCILED').length > 0);
  return { out, fake, source, r };
}

describe('live on an Alpaca paper account: activity that is not ours', () => {
  it('alerts an order of the user, books it and a transfer in kind to the external book, and leaves the agents alone', async () => {
    const { out, fake, source, r } = await reconciledRun();
    try {
      const before = { ew: r.run.ledger.account('ew').cash.toFixed(), mom: r.run.ledger.account('mom').cash.toFixed() };
      // 7 NVDA arrive by transfer; the user buys 4 MSFT in another app. Its fill asks for an account
      // pass at once (in the background), which may run before or after the test's own: together
      // they book each difference once.
      await fake.positionChange('NVDA', 7, '190');
      await fake.externalOrder({ symbol: 'MSFT', side: 'buy', qty: 4, price: '500' });
      await until(() => alerts(r, 'EXTERNAL_ORDER').length > 0);
      const diffs = await r.run.monitor.sync('test');
      const booked = alerts(r, 'EXTERNAL_ACTIVITY').map((a) => String(a.payload['message']));
      for (const line of ['MSFT: agents + external 0, broker 4 (+4 booked to external)', 'NVDA: agents + external 0, broker 7 (+7 booked to external)', 'cash: agents + external 100000, broker 98000 (-2000 booked to external)']) {
        expect(booked.filter((m) => m.includes(line)), line).toHaveLength(1);
      }
      expect(diffs['external'] === undefined || diffs['external'].length > 0).toBe(true);
      expect({ ew: r.run.ledger.account('ew').cash.toFixed(), mom: r.run.ledger.account('mom').cash.toFixed() }).toEqual(before);
      expect(r.run.ledger.account('ew').positions).toEqual({});
      // Booked once: the next pass finds nothing.
      expect(await r.run.monitor.sync('again')).toEqual({});
      await r.run.stop();
      await source.close();
    } finally {
      await fake.stop();
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('live on an Alpaca paper account: the keys refused mid-run', () => {
  it('halts every agent at the first 401, alerts once, and sends no order after it', async () => {
    const { out, fake, source, r } = await reconciledRun();
    try {
      // The keys are revoked (rotated in Alpaca's dashboard) before the first session.
      await fake.credentials('PKOTHER', 'other-secret');
      const before = (await fake.state()).requests.length;
      let finished = false;
      void r.run.finished.then(() => (finished = true));
      await drive(r, () => finished);
      const after = (await fake.state()).requests.slice(before);
      expect(after.some((q) => q.status === 401)).toBe(true);
      expect(after.filter((q) => q.method === 'POST' && q.path === '/v2/orders')).toEqual([]);
      const halts = r.events.filter((e) => e.type === 'alert' && e.time === '' && e.payload['code'] === 'BROKER_AUTH_FAILED');
      expect(halts).toHaveLength(1);
      expect(halts[0]!.payload['level']).toBe('critical');
      expect(r.run.health().killSwitch).toMatchObject({ active: true, signatures: 'all' });
      // Agents hold what they had: nothing.
      expect(r.run.ledger.account('ew').cash.eq(10000) && r.run.ledger.account('mom').cash.eq(10000)).toBe(true);
      await r.run.stop();
      await source.close();
    } finally {
      await fake.stop();
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
