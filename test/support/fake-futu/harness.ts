/**
 * The real FutuAdapter (and its FutuConnection) against the fake OpenD in its own process, on
 * virtual time: deadlines, back-off and keep-alive move only when the test says so.
 */
import { afterEach } from 'vitest';
import { FutuAdapter, type FutuAdapterEvent } from '../../../src/actors/brokers/futu/adapter.js';
import type { FutuSettings } from '../../../src/actors/brokers/futu/settings.js';
import type { FutuMarket } from '../../../src/actors/brokers/futu/symbols.js';
import type { VenueConnectionEvent, VenuePush } from '../../../src/actors/brokers/venue-adapter.js';
import type { OrderRequest } from '../../../src/domain/orders.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { FakeFutuProcess, type FakeFutuProcessOptions } from './process.js';

/** 2025-11-07 10:00 Shanghai / Hong Kong (a Friday). */
export const T0 = Date.UTC(2025, 10, 7, 2, 0, 0);
export const TIMEOUT_MS = 10_000;
export const REAL_HK = '281756479845123456';
export const REAL_US = '281756479845123457';

export interface FutuWorld {
  readonly fake: FakeFutuProcess;
  readonly adapter: FutuAdapter;
  readonly scheduler: EpochVirtualScheduler;
  readonly pushes: VenuePush[];
  readonly connection: VenueConnectionEvent[];
  readonly events: FutuAdapterEvent[];
  advance(ms: number): void;
  stop(): Promise<void>;
}

export interface WorldOptions {
  readonly paper?: boolean;
  readonly market?: FutuMarket;
  readonly accountId?: string;
  readonly websocketKey?: string;
  readonly tradePassword?: string;
  readonly keepAliveIntervalMs?: number | false;
  /** Don't connect (a test of connect() itself). */
  readonly connect?: boolean;
  readonly fake?: FakeFutuProcess;
  readonly fakeOptions?: FakeFutuProcessOptions;
}

export function worldsPerTest(): (options?: WorldOptions) => Promise<FutuWorld> {
  let worlds: FutuWorld[] = [];
  afterEach(async () => {
    await Promise.all(worlds.map((w) => w.stop()));
    worlds = [];
  });
  return async (options) => {
    const w = await startWorld(options);
    worlds.push(w);
    return w;
  };
}

export async function startFake(options: FakeFutuProcessOptions = {}): Promise<FakeFutuProcess> {
  const fake = await FakeFutuProcess.start({ startMs: T0, ...options });
  await fake.price('600519.SH', '1500.5');
  await fake.price('000001.SZ', '11.25');
  await fake.price('00700.HK', '612.5');
  await fake.price('AAPL', '270.25');
  return fake;
}

export async function startWorld(o: WorldOptions = {}): Promise<FutuWorld> {
  const fake = o.fake ?? (await startFake(o.fakeOptions));
  const scheduler = new EpochVirtualScheduler(T0);
  const paper = o.paper ?? true;
  const settings: FutuSettings = {
    url: fake.url,
    websocketKey: o.websocketKey ?? fake.websocketKey,
    trdEnv: paper ? 0 : 1,
    market: o.market ?? (paper ? 'CN' : 'HKCC'),
    accountId: o.accountId,
    tradePassword: paper ? undefined : (o.tradePassword ?? fake.tradePassword),
    requestTimeoutMs: TIMEOUT_MS,
    keepAliveIntervalMs: o.keepAliveIntervalMs ?? false,
  };
  const adapter = new FutuAdapter({ settings, scheduler, reconnect: { baseMs: 1_000, factor: 2, maxMs: 8_000, jitter: 0 } });
  const world: FutuWorld = {
    fake,
    adapter,
    scheduler,
    pushes: [],
    connection: [],
    events: [],
    advance: (ms) => scheduler.advanceTo(scheduler.now() + ms),
    stop: async () => {
      adapter.close();
      if (!o.fake) await fake.stop();
    },
  };
  adapter.pushes$.subscribe((p) => world.pushes.push(p));
  adapter.connection$.subscribe((e) => world.connection.push(e));
  adapter.events$.subscribe((e) => world.events.push(e));
  if (o.connect !== false) await adapter.connect();
  return world;
}

export const order = (cid: string, over: Partial<OrderRequest> = {}): OrderRequest => ({ clientOrderId: cid, signature: cid.split('.')[0]!, side: 'buy', symbol: '600519.SH', quantity: 100, type: 'market', ...over });

/** Poll an async condition (the fake's state over HTTP) until it holds; bounded, never a sleep. */
export async function until(check: () => Promise<boolean>, what = 'a condition', limit = 2_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The cmds the fake received, in order. */
export const cmds = async (fake: FakeFutuProcess): Promise<number[]> => (await fake.state()).requests.map((r) => r.cmd);
