/**
 * A live run in this process on the fake Alpaca (its own process), on virtual wall time: the config
 * (two rules agents on one paper account, the built-in replay of a sample day, the fake following
 * its trades), the run, and moving time on only while no order waits on an answer from Alpaca (the
 * run clock runs 390x the wall: a loopback answer would come after its deadline otherwise).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
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
import { FakeAlpacaProcess, type FakeState } from './fake-alpaca/process.js';

export const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
export const DAY = '2025-11-07';
export const WALL0 = Date.UTC(2030, 0, 1);
export const ENV = { LIVE_T_KEY: 'PKFAKEKEY0001', LIVE_T_SECRET: 'fake-secret-0001' };

export const liveConfig = (fake: FakeAlpacaProcess, over: { maxRetries?: number; risk?: Record<string, unknown> } = {}): Config =>
  parseConfig(
    {
      mode: 'live',
      market: 'us',
      frequency: 'hourly',
      schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
      data_source: { type: 'replay', bars_file: SAMPLE, replay_date: DAY, replay_speed: 390, stale_quote_seconds: 1800 },
      broker: {
        type: 'alpaca',
        paper: true,
        base_url: fake.baseUrl,
        api_key_env: 'LIVE_T_KEY',
        api_secret_env: 'LIVE_T_SECRET',
        alpaca: { stream_url: fake.streamUrl, request_timeout_seconds: 86_400, ...(over.maxRetries !== undefined ? { max_retries: over.maxRetries } : {}) },
      },
      risk_control: { min_cash_reserve: 1000, ...over.risk },
      models: [
        { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: 10000 },
    },
    'test',
  );

/** What the rig needs of a fake broker in its own process (every fake of test/support has it). */
export interface FakeBroker {
  follow(url: string): Promise<unknown>;
  /** One control round trip: loopback I/O settles while it is answered. */
  state(): Promise<unknown>;
}

export interface Rig {
  readonly source: QuoteSource;
  readonly run: PaperRun;
  readonly wall: EpochVirtualScheduler;
  readonly killSwitch: KillSwitch;
  readonly events: FeedEvent[];
  readonly codes: string[];
}

export const turn = () => new Promise<void>((r) => setImmediate(r));

export async function rig(config: Config, outDir: string, history: PriceStore, fake: FakeBroker, env: Record<string, string> = ENV): Promise<Rig> {
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
    env,
    stopGraceMs: 0,
    monitor: { syncEveryMs: 7 * 86_400_000 },
    ...(source.until ? { until: source.until } : {}),
    onAlert: (a) => codes.push(a.code),
  });
  run.events.subscribe((e) => events.push(e));
  return { source, run, wall, killSwitch, events, codes };
}

export const engineOrders = (r: Rig) => {
  const snap = r.run.runtime.actor.getSnapshot();
  return Object.keys(snap.context.openOrders).map((cid) => ({ cid, state: (snap.children[`order:${cid}`]?.getSnapshot() as { value?: unknown } | undefined)?.value }));
};

/** States in which an order waits for time, not for an answer: the wall may move on. */
export const WAITS_ON_TIME = new Set(['accepted', 'partially_filled', 'backing_off', 'queued']);

export async function drive(r: Rig, fake: FakeBroker, done: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !done(); i++) {
    await r.run.ledger.idle();
    await r.run.runtime.flush();
    await fake.state();
    await turn();
    if (done()) return;
    // An order waiting for Alpaca's answer holds time still, a protective one (in no session) too: the
    // run clock runs 390x the wall, and its 30 s submit deadline would pass before a loopback answer.
    const busy = engineOrders(r).some((o) => !WAITS_ON_TIME.has(String(o.state)));
    if (busy) continue;
    const next = r.wall.actions[0];
    if (!next) return;
    r.wall.advanceTo(next.delay);
  }
}

/** Turns (each a loopback round trip to the fake) until `cond`, without moving time. */
export async function until(fake: FakeBroker, r: Rig, cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    await r.run.ledger.idle();
    await r.run.runtime.flush();
    if (cond()) return;
    await fake.state();
    await turn();
  }
  throw new Error(`never happened: ${what}`);
}

export async function stop(r: Rig): Promise<void> {
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

export const ours = (s: FakeState) => s.orders.filter((o) => o.client_order_id.startsWith('ew.') || o.client_order_id.startsWith('mom.'));

/** No order twice, every filled share booked once, the account = the books (external: `externalCash`, no shares). */
export async function expectBooksMatch(r: Rig, s: FakeState, externalCash = 80_000): Promise<void> {
  const cids = ours(s).map((o) => o.client_order_id);
  expect(new Set(cids).size).toBe(cids.length);
  await r.run.ledger.idle();
  for (const o of ours(s)) {
    expect({ cid: o.client_order_id, booked: await r.run.ledger.filledQuantity(o.client_order_id) }).toEqual({ cid: o.client_order_id, booked: Number(o.filled_qty) });
  }
  const ew = r.run.ledger.account('ew');
  const mom = r.run.ledger.account('mom');
  for (const sym of new Set([...Object.keys(s.positions), ...Object.keys(ew.positions), ...Object.keys(mom.positions)])) {
    expect({ sym, qty: s.positions[sym] ?? 0 }).toEqual({ sym, qty: (ew.positions[sym]?.quantity ?? 0) + (mom.positions[sym]?.quantity ?? 0) });
  }
  // Alpaca books cash to the cent per execution, as the ledger does: equal, not merely close.
  expect(dec(s.cash).minus(ew.cash).minus(mom.cash).minus(externalCash).toFixed()).toBe('0');
}


/**
 * What a test opened, undone after it, last-opened first (a failure undoing one does not stop
 * the rest). Call once at the top of a test file; push to the list it returns.
 */
export function cleanupsPerTest(): (() => Promise<unknown>)[] {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });
  return cleanup;
}

/** A temporary run directory, the sample bars, and a fake Alpaca in its own process; undone after the test. */
export async function world(cleanup: (() => Promise<unknown>)[]): Promise<{ out: string; history: PriceStore; fake: FakeAlpacaProcess }> {
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));
  const history = await loadPriceStore(SAMPLE, { market: 'us' });
  const fake = await FakeAlpacaProcess.start({ startMs: Date.UTC(2025, 10, 7, 14, 0) });
  cleanup.push(() => fake.stop());
  return { out, history, fake };
}

/**
 * Wall time to `to`, a second at a time, with loopback I/O settling after each, whatever waits:
 * for phases where an order waits on Alpaca while time must move (a Retry-After, a retried pass).
 */
export async function stepWall(r: Rig, fake: FakeBroker, to: number): Promise<void> {
  for (let t = r.wall.now() + 1000; t <= to; t += 1000) {
    r.wall.advanceTo(t);
    for (let k = 0; k < 5; k++) {
      await r.run.ledger.idle();
      await r.run.runtime.flush();
      await fake.state();
      await turn();
    }
  }
}
