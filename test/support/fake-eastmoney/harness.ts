/**
 * The real EastMoneyAdapter against the fake EastMoney in its own process, on virtual time.
 */
import { EastMoneyAdapter } from '../../../src/actors/brokers/eastmoney/adapter.js';
import type { EastMoneySettings } from '../../../src/actors/brokers/eastmoney/settings.js';
import type { OrderRequest } from '../../../src/domain/orders.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import type { FakeEastMoneyProcess } from './process.js';

/** Friday 2025-11-07 10:00 Shanghai. */
export const T0 = Date.UTC(2025, 10, 7, 2, 0, 0);
export const TIMEOUT_MS = 10_000;

export function settingsFor(fake: FakeEastMoneyProcess, over: Partial<EastMoneySettings> = {}): EastMoneySettings {
  return { baseUrl: fake.baseUrl, cookie: fake.cookie, validatekey: fake.validatekey, trading: true, maxOrderShares: 10_000, maxOrderValue: '500000', requestTimeoutMs: TIMEOUT_MS, ...over };
}

export function adapterFor(fake: FakeEastMoneyProcess, over: Partial<EastMoneySettings> = {}, pageSize?: number): { adapter: EastMoneyAdapter; scheduler: EpochVirtualScheduler } {
  const scheduler = new EpochVirtualScheduler(T0);
  const adapter = new EastMoneyAdapter({ settings: settingsFor(fake, over), scheduler, ...(pageSize !== undefined ? { pageSize } : {}) });
  return { adapter, scheduler };
}

export const limitOrder = (cid: string, over: Partial<OrderRequest> = {}): OrderRequest => ({
  clientOrderId: cid,
  signature: cid.split('.')[0]!,
  side: 'buy',
  symbol: '600519.SH',
  quantity: 100,
  type: 'limit',
  limitPrice: '1500.00',
  ...over,
});

/** The error a promise ends with (fails the test when it resolves). */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure, got an answer');
}

/** Every secret part of the fake's session: none may be in an error. */
export function secretsOf(fake: FakeEastMoneyProcess): string[] {
  return [fake.cookie, fake.validatekey, ...fake.cookie.split(';').map((p) => p.slice(p.indexOf('=') + 1).trim()).filter((v) => v.length >= 6)];
}

/** Poll an async condition (the fake's state over HTTP) until it holds; bounded, never a sleep. */
export async function until(check: () => Promise<boolean>, what = 'a condition', limit = 2_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}
