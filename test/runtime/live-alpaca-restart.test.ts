/**
 * A live run on the fake Alpaca stopped with orders of ours open at the broker, the broker acting
 * while we are away (a fill, a partial fill then a cancel, an order left open), and the run started
 * again on the same state: before its first new session it learns what happened, once, and only
 * that; no order is sent twice; the account ends equal to the sub-accounts + the external book.
 * Also an order whose submit reached Alpaca but whose answer never came back to us.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import { dec } from '../../src/domain/money.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { startPaper, type PaperRun } from '../../src/runtime/paper.js';
import { openQuoteSource, type QuoteSource } from '../../src/runtime/quote-source.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { FakeAlpacaProcess, type FakeState } from '../support/fake-alpaca/process.js';

const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
const DAY = '2025-11-07';
const WALL0 = Date.UTC(2030, 0, 1);
const ENV = { LIVE_T_KEY: 'PKFAKEKEY0001', LIVE_T_SECRET: 'fake-secret-0001' };

const liveConfig = (fake: FakeAlpacaProcess): Config =>
  parseConfig(
    {
      mode: 'live',
      market: 'us',
      frequency: 'hourly',
      schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
      data_source: { type: 'replay', bars_file: SAMPLE, replay_date: DAY, replay_speed: 390, stale_quote_seconds: 1800 },
      broker: { type: 'alpaca', paper: true, base_url: fake.baseUrl, api_key_env: 'LIVE_T_KEY', api_secret_env: 'LIVE_T_SECRET', alpaca: { stream_url: fake.streamUrl, request_timeout_seconds: 86_400 } },
      risk_control: { min_cash_reserve: 1000 },
      models: [
        { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: 10000 },
    },
    'test',
  );

interface Rig {
  readonly source: QuoteSource;
  readonly run: PaperRun;
  readonly wall: EpochVirtualScheduler;
  readonly events: FeedEvent[];
  readonly codes: string[];
}

const turn = () => new Promise<void>((r) => setImmediate(r));

async function rig(config: Config, outDir: string, history: PriceStore, fake: FakeAlpacaProcess): Promise<Rig> {
  const wall = new EpochVirtualScheduler(WALL0);
  const source = await openQuoteSource(config, { history, symbols: history.symbols(), wall });
  await fake.follow(source.replay!.url);
  const killSwitch = new KillSwitch(outDir, () => wall.now(), { pollMs: 60_000 });
  const events: FeedEvent[] = [];
  const codes: string[] = [];
  const run = await startPaper({
    config,
    outDir,
    scheduler: source.scheduler,
    wall,
    timeScale: source.speed,
    quotes: source.feed,
    history,
    universe: history.symbols(),
    killSwitch,
    env: ENV,
    stopGraceMs: 0,
    monitor: { syncEveryMs: 7 * 86_400_000 },
    ...(source.until ? { until: source.until } : {}),
    onAlert: (a) => codes.push(a.code),
  });
  run.events.subscribe((e) => events.push(e));
  return { source, run, wall, events, codes };
}

/** Wait, turn by turn (each asking the fake once, which paces it), until `cond`. */
async function waitFor(fake: FakeAlpacaProcess, cond: (s: FakeState) => boolean, what: string): Promise<FakeState> {
  for (let i = 0; i < 3000; i++) {
    const s = await fake.state();
    if (cond(s)) return s;
    await turn();
  }
  throw new Error(`never happened: ${what}`);
}

const engineOrders = (r: Rig) => {
  const snap = r.run.runtime.actor.getSnapshot();
  return Object.keys(snap.context.openOrders).map((cid) => ({ cid, state: (snap.children[`order:${cid}`]?.getSnapshot() as { value?: unknown } | undefined)?.value }));
};

/** Move virtual wall time one scheduled action at a time until `done()`, letting loopback I/O happen between. */
async function drive(r: Rig, fake: FakeAlpacaProcess, done: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !done(); i++) {
    await r.run.ledger.idle();
    await r.run.runtime.flush();
    await fake.state(); // a loopback round trip: what was in flight lands
    await turn();
    if (done()) return;
    const busy = Object.keys(r.run.runtime.actor.getSnapshot().context.running).length > 0 && engineOrders(r).some((o) => o.state !== 'accepted');
    if (busy) continue;
    const next = r.wall.actions[0];
    if (!next) return;
    r.wall.advanceTo(next.delay);
  }
}

async function stop(r: Rig): Promise<void> {
  const stopping = r.run.stop();
  let stopped = false;
  void stopping.finally(() => (stopped = true));
  for (let i = 0; i < 100_000 && !stopped; i++) {
    r.wall.advanceTo(r.wall.now() + 1);
    await turn();
  }
  await stopping;
  await r.source.close();
}

const ours = (s: FakeState) => s.orders.filter((o) => o.client_order_id.startsWith('ew.') || o.client_order_id.startsWith('mom.'));

function expectAccountEqualsBooks(r: Rig, s: FakeState): void {
  const ew = r.run.ledger.account('ew');
  const mom = r.run.ledger.account('mom');
  // The external book is empty here (the account held only cash, 100,000 - 2 x 10,000 = 80,000).
  for (const sym of new Set([...Object.keys(s.positions), ...Object.keys(ew.positions), ...Object.keys(mom.positions)])) {
    expect({ sym, qty: s.positions[sym] ?? 0 }).toEqual({ sym, qty: (ew.positions[sym]?.quantity ?? 0) + (mom.positions[sym]?.quantity ?? 0) });
  }
  expect(dec(s.cash).minus(ew.cash).minus(mom.cash).minus(80_000).abs().lt(dec('0.01'))).toBe(true);
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  cleanup = [];
});

describe('a live run restarted with orders open at Alpaca', () => {
  it('learns what the broker did while it was down, once, before trading again', async () => {
    const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-restart-'));
    cleanup.push(() => rm(out, { recursive: true, force: true }));
    const history = await loadPriceStore(SAMPLE, { market: 'us' });
    const fake = await FakeAlpacaProcess.start({ startMs: Date.UTC(2025, 10, 7, 14, 0) });
    cleanup.push(() => fake.stop());
    const config = liveConfig(fake);
    // Market orders rest at the broker: the first session's orders stay open.
    await fake.mode('manual');
    const first = await rig(config, out, history, fake);
    await drive(first, fake, () => engineOrders(first).length >= 2 && engineOrders(first).every((o) => o.state === 'accepted'));
    const open = engineOrders(first).map((o) => o.cid);
    expect(open.length).toBeGreaterThanOrEqual(2);
    await stop(first);

    // While we are away: one order fills, one fills in part and is cancelled.
    const [full, part] = open;
    await fake.fill(full!);
    const partOrder = (await fake.state()).orders.find((o) => o.client_order_id === part)!;
    await fake.fill(part!, Math.max(1, Math.floor(Number(partOrder['qty']) / 2)));
    await fake.end(part!, 'canceled');
    await fake.mode('auto');

    const second = await rig(config, out, history, fake);
    cleanup.push(() => stop(second));
    await waitFor(fake, () => second.codes.includes('BROKER_RECONCILED') || second.codes.includes('BROKER_RECONCILE_FAILED'), 'the start-up reconciliation');
    expect(second.codes).toContain('BROKER_RECONCILED');
    // Before any new session: the fills made while down are in the ledger, once each.
    await second.run.ledger.idle();
    const atBroker = await fake.state();
    for (const cid of [full!, part!]) {
      const o = atBroker.orders.find((x) => x.client_order_id === cid)!;
      expect(second.events.filter((e) => e.type === 'fill' && e.payload['clientOrderId'] === cid).reduce((n, e) => n + Number((e.payload['fill'] as { quantity: number }).quantity), 0)).toBe(Number(o.filled_qty));
    }
    expect(second.events.some((e) => e.type === 'tick')).toBe(false);

    let finished = false;
    void second.run.finished.then(() => (finished = true));
    // The orders left open: the agents' later sessions go on; the day ends.
    await drive(second, fake, () => finished);
    const end = await fake.state();
    const posts = end.requests.filter((q) => q.method === 'POST' && q.path === '/v2/orders').map((q) => q.clientOrderId!);
    expect(new Set(posts).size).toBe(posts.length);
    // Every filled share at the broker is in the ledger: the account equals the books.
    await second.run.ledger.idle();
    for (const o of ours(end).filter((x) => Number(x.filled_qty) > 0 && x.status !== 'new')) {
      expect(await second.run.ledger.filledQuantity(o.client_order_id)).toBe(Number(o.filled_qty));
    }
    const openAtEnd = ours(end).filter((o) => o.status === 'new' || o.status === 'partially_filled');
    expect(openAtEnd).toEqual([]);
    expectAccountEqualsBooks(second, end);
    expect(second.codes).not.toContain('EXTERNAL_ACTIVITY');
  }, 120_000);

  it('adopts an order whose submit reached Alpaca while its answer was lost, instead of sending it again', async () => {
    const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-restart-'));
    cleanup.push(() => rm(out, { recursive: true, force: true }));
    const history = await loadPriceStore(SAMPLE, { market: 'us' });
    const fake = await FakeAlpacaProcess.start({ startMs: Date.UTC(2025, 10, 7, 14, 0) });
    cleanup.push(() => fake.stop());
    const config = liveConfig(fake);
    // The first submit is booked (and filled) at Alpaca; its answer never comes.
    await fake.fault('POST', '/v2/orders', { kind: 'hang', commit: true });
    const first = await rig(config, out, history, fake);
    await drive(first, fake, () => engineOrders(first).some((o) => o.state === 'submitting'));
    const [lost] = engineOrders(first).filter((o) => o.state === 'submitting').map((o) => o.cid);
    expect(lost).toBeDefined();
    await waitFor(fake, (s) => s.orders.some((o) => o.client_order_id === lost && o.status === 'filled'), 'the hung submit booked at the broker');
    await stop(first);

    const second = await rig(config, out, history, fake);
    cleanup.push(() => stop(second));
    let finished = false;
    void second.run.finished.then(() => (finished = true));
    await drive(second, fake, () => finished);
    const end = await fake.state();
    // Sent twice in all (the hung one, then the restart's, answered 422 "must be unique" and adopted); one order, one fill.
    expect(end.requests.filter((q) => q.method === 'POST' && q.clientOrderId === lost).length).toBeLessThanOrEqual(2);
    expect(end.orders.filter((o) => o.client_order_id === lost)).toHaveLength(1);
    const atBroker = end.orders.find((o) => o.client_order_id === lost)!;
    expect(await second.run.ledger.filledQuantity(lost!)).toBe(Number(atBroker.filled_qty));
    expect(ours(end).filter((o) => o.status === 'new')).toEqual([]);
    expectAccountEqualsBooks(second, end);
  }, 120_000);
});
