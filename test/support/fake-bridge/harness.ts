/**
 * The real BridgeAdapter against the fake bridge in its own process, on virtual time: one world
 * per test (`bridgeWorlds()` stops them after each).
 */
import { afterEach } from 'vitest';
import { BridgeAdapter, type BridgeAdapterOptions } from '../../../src/actors/brokers/bridge/adapter.js';
import type { OrderRequest } from '../../../src/domain/orders.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { FakeBridgeProcess, type FakeBridgeProcessOptions } from './process.js';

/** 2025-11-07 10:00 Shanghai, a Friday: the fake's default clock. */
export const T0 = Date.UTC(2025, 10, 7, 2, 0, 0);
export const TIMEOUT_MS = 10_000;

export interface BridgeWorld {
  readonly fake: FakeBridgeProcess;
  readonly adapter: BridgeAdapter;
  readonly scheduler: EpochVirtualScheduler;
  /** Another adapter on the same fake. */
  another(options?: Partial<BridgeAdapterOptions>): BridgeAdapter;
}

export function bridgeWorlds(): (options?: { fake?: FakeBridgeProcessOptions; adapter?: Partial<BridgeAdapterOptions>; connect?: boolean }) => Promise<BridgeWorld> {
  let fakes: FakeBridgeProcess[] = [];
  afterEach(async () => {
    await Promise.all(fakes.map((f) => f.stop()));
    fakes = [];
  });
  return async (options = {}) => {
    const fake = await FakeBridgeProcess.start({ startMs: T0, ...options.fake });
    fakes.push(fake);
    const scheduler = new EpochVirtualScheduler(T0);
    const make = (o: Partial<BridgeAdapterOptions> = {}) =>
      new BridgeAdapter({ baseUrl: fake.url, client: (options.fake?.client ?? 'universal_client') as BridgeAdapterOptions['client'], login: {}, scheduler, requestTimeoutMs: TIMEOUT_MS, ...options.adapter, ...o });
    const adapter = make();
    if (options.connect !== false) await adapter.connect();
    return { fake, adapter, scheduler, another: make };
  };
}

export const order = (over: Partial<OrderRequest> = {}): OrderRequest => ({ clientOrderId: 'ew.1', signature: 'ew', side: 'buy', symbol: '600519.SH', quantity: 100, type: 'limit', limitPrice: '1700.50', ...over });

/** Poll an async condition (the fake's state over HTTP) until it holds; bounded, never a sleep. */
export async function until(check: () => Promise<boolean>, what = 'a condition', limit = 2_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The rejection of `p` (fails the test when it resolves). */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure, but it resolved');
}
