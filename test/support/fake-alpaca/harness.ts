/**
 * The real AlpacaBroker against the fake Alpaca in its own process, on virtual time: what a test
 * of the broker needs (the updates it emitted, the fake's state, moving time on).
 */
import { afterEach } from 'vitest';
import type { BrokerUpdate } from '../../../src/actors/brokers/broker.js';
import { AlpacaBroker, ownedBy, type AlpacaBrokerOptions, type AlpacaHalt, type ExternalActivity, type RetryEvent, type TradeStreamEvent } from '../../../src/actors/brokers/alpaca/alpaca-broker.js';
import type { OrderRequest } from '../../../src/domain/orders.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { FakeAlpacaProcess, type FakeState } from './process.js';

export const T0 = Date.UTC(2025, 10, 7, 15, 0, 0); // 10:00 New York
export const TIMEOUT_MS = 10_000;

export interface BrokerWorld {
  readonly fake: FakeAlpacaProcess;
  readonly broker: AlpacaBroker;
  readonly scheduler: EpochVirtualScheduler;
  readonly updates: BrokerUpdate[];
  readonly external: ExternalActivity[];
  readonly halts: AlpacaHalt[];
  readonly retries: RetryEvent[];
  readonly connection: TradeStreamEvent[];
  /** Move virtual time on by `ms`; timers due by then run. */
  advance(ms: number): void;
  /** Another broker on the same fake (a restarted process). */
  another(options?: Partial<AlpacaBrokerOptions>): Promise<BrokerWorld>;
  stop(): Promise<void>;
}

/**
 * `startWorld` for a test file: every world a test starts (or hands to `track`, such as one
 * from `another()`) is stopped after it. Call once at the top of the file.
 */
export function worldsPerTest(): { start: (...args: Parameters<typeof startWorld>) => Promise<BrokerWorld>; track: (w: BrokerWorld) => BrokerWorld } {
  let worlds: BrokerWorld[] = [];
  afterEach(async () => {
    await Promise.all(worlds.map((w) => w.stop()));
    worlds = [];
  });
  const track = (w: BrokerWorld) => {
    worlds.push(w);
    return w;
  };
  return { start: async (...args) => track(await startWorld(...args)), track };
}

export async function startWorld(options: Partial<AlpacaBrokerOptions> = {}, fake?: FakeAlpacaProcess): Promise<BrokerWorld> {
  const f =
    fake ??
    (await (async () => {
      const p = await FakeAlpacaProcess.start({ startMs: T0 });
      await p.price('AAPL', '270.25');
      await p.price('MSFT', '500');
      await p.price('NVDA', '190.5');
      return p;
    })());
  const scheduler = new EpochVirtualScheduler(T0);
  const broker = new AlpacaBroker({
    baseUrl: f.baseUrl,
    streamUrl: f.streamUrl,
    keyId: f.key,
    secretKey: f.secret,
    scheduler,
    isOurs: ownedBy(['ew', 'mom']),
    requestTimeoutMs: TIMEOUT_MS,
    retry: { baseMs: 1_000, factor: 2, maxMs: 8_000, jitter: 0, maxRetries: 3 },
    reconnect: { baseMs: 1_000, factor: 2, maxMs: 8_000, jitter: 0 },
    heartbeat: false,
    ...options,
  });
  const world: BrokerWorld = {
    fake: f,
    broker,
    scheduler,
    updates: [],
    external: [],
    halts: [],
    retries: [],
    connection: [],
    advance: (ms) => scheduler.advanceTo(scheduler.now() + ms),
    another: (o) => startWorld(o, f),
    stop: async () => {
      broker.close();
      if (!fake) await f.stop();
    },
  };
  broker.updates$.subscribe((u) => world.updates.push(u));
  broker.external$.subscribe((e) => world.external.push(e));
  broker.halts$.subscribe((h) => world.halts.push(h));
  broker.retries$.subscribe((r) => world.retries.push(r));
  broker.connection$.subscribe((e) => world.connection.push(e));
  await broker.start();
  return world;
}

export const order = (cid: string, over: Partial<OrderRequest> = {}): OrderRequest => ({ clientOrderId: cid, signature: cid.split('.')[0]!, side: 'buy', symbol: 'AAPL', quantity: 10, type: 'market', ...over });

/** Poll an async condition (the fake's state over HTTP) until it holds; bounded, never a sleep. */
export async function until(check: () => Promise<boolean>, what = 'a condition', limit = 2_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The fake received `n` requests matching, and has answered all but `unanswered` of them. */
export const requests = (s: FakeState, method: string, path: string) => s.requests.filter((r) => r.method === method && r.path === path);

/** The update types for one order, in order. */
export const kinds = (updates: readonly BrokerUpdate[], cid: string) => updates.filter((u) => u.clientOrderId === cid).map((u) => u.type);

export const fillsOf = (updates: readonly BrokerUpdate[], cid: string) => updates.flatMap((u) => (u.type === 'broker.fill' && u.clientOrderId === cid ? [u.fill] : []));
