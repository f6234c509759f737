/** Start the real engine runtime on a temp LevelDB store with a deterministic World around it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { startEngine, type EngineRuntime } from '../../src/runtime/engine-runtime.js';
import { openStore, type Store } from '../../src/actors/store/store.js';
import type { Message } from '../../src/domain/messages.js';
import type { EngineInput } from '../../src/machines/engine.machine.js';
import type { World } from './world.js';

export const AT = '2025-10-09T09:35:00+08:00';
export const AT_MS = DateTime.fromISO(AT).toMillis();

export function engineInput(overrides: Partial<EngineInput> = {}): EngineInput {
  return {
    market: 'cn',
    frequency: 'daily',
    agents: [{ signature: 'alpha', enabled: true }],
    budgets: { fetchingMs: 600_000, analyzingMs: 600_000, decidingMs: 600_000, executingMs: 3_600_000, recordingMs: 600_000 },
    maxIntents: 10,
    orders: {
      outsideHours: 'reject',
      submitTimeoutMs: 30_000,
      cancelTimeoutMs: 30_000,
      limitTimeoutMs: 60_000,
      queryRetryMs: 30_000,
    },
    historyLimit: 100,
    ...overrides,
  };
}

export function tick(overrides: Partial<Message<'clock.tick'>> = {}): Message<'clock.tick'> {
  return {
    type: 'clock.tick',
    market: 'cn',
    frequency: 'daily',
    at: AT,
    atMs: AT_MS,
    marketOpen: true,
    nextOpenMs: AT_MS,
    tsEvent: AT_MS,
    ...overrides,
  };
}

export interface Harness {
  readonly dir: string;
  store: Store;
  runtime: EngineRuntime;
  /** Simulate a process death after persisting what happened so far, then start again from the store. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(world: World, input: EngineInput, extra: Partial<Parameters<typeof startEngine>[0]> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-engine-'));
  const start = async (store: Store) =>
    startEngine({ store, input, actors: world.actors(), now: () => world.now, ...extra });
  const store = await openStore(dir);
  const h: Harness = {
    dir,
    store,
    runtime: await start(store),
    async restart() {
      await h.runtime.flush();
      h.runtime.crash();
      world.crash();
      await h.store.close();
      h.store = await openStore(dir);
      h.runtime = await start(h.store);
    },
    async close() {
      await h.runtime.stop();
      await h.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}
