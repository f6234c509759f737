/**
 * The risk actor in the real engine (sessions, orders, runtime, LevelDB) with the
 * deterministic World around it: the World's own risk stand-in is swapped for the real one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JournalEntry } from '../../src/runtime/engine-runtime.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { riskActor, type RiskActorDeps } from '../../src/actors/risk/risk.actor.js';
import { DEFAULT_FEE_RATES } from '../../src/domain/fees.js';
import type { AccountView, Message } from '../../src/domain/messages.js';
import type { RiskDecision } from '../../src/domain/risk/book.js';
import { AT_MS, engineInput, startHarness, tick, type Harness } from '../support/engine-harness.js';
import { World } from '../support/world.js';

let harness: Harness | undefined;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-risk-engine-'));
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await rm(dir, { recursive: true, force: true });
});

const ACCOUNT: AccountView = { signature: 'alpha', cash: '100000', positions: {}, equity: '100000', startOfDayEquity: '100000' };

function riskDeps(world: World, over: Partial<RiskActorDeps> = {}): RiskActorDeps {
  return {
    mode: 'backtest',
    market: 'cn',
    riskConfig: {
      max_single_position_ratio: 0.3,
      max_daily_loss_ratio: 0.05,
      min_cash_reserve: 10_000,
      max_orders_per_session: 10,
      max_orders_per_minute: 30,
      duplicate_window_seconds: 60,
    },
    staleQuoteSeconds: 30,
    account: async (signature) => ({ ...ACCOUNT, signature }),
    quote: () => ({ price: '10.00', atMs: world.now }),
    knownSymbol: () => true,
    fees: DEFAULT_FEE_RATES,
    now: () => world.now,
    killSwitch: new KillSwitch(dir, () => world.now, { pollMs: 20 }),
    ...over,
  };
}

/** Run the World's steps, letting the risk actor's async account reads settle in between. */
async function drain(world: World): Promise<void> {
  for (let idle = 0; idle < 5; ) {
    if (world.step()) idle = 0;
    else {
      idle++;
      await new Promise((r) => setImmediate(r));
    }
  }
}

const resultsOf = (h: Harness, signature: string) =>
  h.runtime.actor
    .getSnapshot()
    .context.history.filter((o) => o.signature === signature)
    .flatMap((o) => o.results.map((r) => [r.clientOrderId, r.status, r.reason ?? '']));

describe('risk actor in the engine', () => {
  it('stands between the agent and the order: approved orders fill, refused ones come back denied with the reason', async () => {
    const world = new World(AT_MS, {
      intents: {
        alpha: [
          { side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' },
          { side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' },
          { side: 'buy', symbol: 'AAPL', quantity: 5000, type: 'market' },
        ],
      },
    });
    harness = await startHarness(world, engineInput(), { actors: { ...world.actors(), risk: riskActor(riskDeps(world)) } });
    harness.runtime.send(tick());
    await drain(world);
    await harness.runtime.flush();

    expect(resultsOf(harness, 'alpha')).toEqual([
      ['alpha.20251009T0935.1', 'filled', ''],
      ['alpha.20251009T0935.2', 'denied', 'DUPLICATE_ORDER'],
      ['alpha.20251009T0935.3', 'denied', 'MAX_POSITION_RATIO'],
    ]);
    const outcome = harness.runtime.actor.getSnapshot().context.history[0]!;
    expect(outcome.results[2]?.message).toBe('MAX_POSITION_RATIO: AAPL would be 50.0% of equity, limit 30%');
    expect([...world.venue.keys()]).toEqual(['alpha.20251009T0935.1']);

    // The decision, with the checks that ran, is in the engine's journal.
    const journal: JournalEntry[] = [];
    for await (const r of harness.store.readJournal<JournalEntry>()) journal.push(r.entry);
    const decisions = journal.filter((e) => e.event.type === 'risk.approved' || e.event.type === 'risk.rejected');
    expect(decisions.map((e) => [e.to, e.event.type])).toEqual([
      ['session:alpha@2025-10-09T09:35:00+08:00', 'risk.approved'],
      ['session:alpha@2025-10-09T09:35:00+08:00', 'risk.rejected'],
      ['session:alpha@2025-10-09T09:35:00+08:00', 'risk.rejected'],
    ]);
    const approved = decisions[0]!.event as Message<'risk.approved'>;
    expect(approved.checks?.find((c) => c.rule === 'min_cash_reserve')).toMatchObject({ passed: true, limit: '10000.00' });
  });

  it('kill switch thrown from another process: the engine cancels that signature\'s open orders and later orders are refused', async () => {
    const limit = { side: 'buy' as const, symbol: 'NVDA', quantity: 100, type: 'limit' as const, limitPrice: '9.50' };
    const world = new World(AT_MS, { intents: { a: [limit], b: [limit] }, venue: { NVDA: 'rest' } });
    harness = await startHarness(
      world,
      engineInput({ agents: [{ signature: 'a', enabled: true }, { signature: 'b', enabled: true }] }),
      { actors: { ...world.actors(), risk: riskActor(riskDeps(world)) } },
    );
    harness.runtime.send(tick());
    await drain(world);
    expect(Object.keys(harness.runtime.actor.getSnapshot().context.openOrders).sort()).toEqual(['a.20251009T0935.1', 'b.20251009T0935.1']);

    await new KillSwitch(dir, () => world.now).activate({ signature: 'a', reason: 'runaway' });
    await vi.waitFor(() => expect(world.received.some((r) => r.message.type === 'broker.cancel')).toBe(true));
    await drain(world);
    expect(world.venue.get('a.20251009T0935.1')?.status).toBe('cancelled');
    expect(world.venue.get('b.20251009T0935.1')?.status).toBe('accepted');
    expect(world.alerts.filter((a) => a.code === 'KILL_SWITCH')).toMatchObject([{ level: 'critical', signature: 'a' }]);

    // The next day a's agent asks again: refused before any broker sees it.
    const at = '2025-10-10T09:35:00+08:00';
    world.now = DateTime.fromISO(at).toMillis();
    harness.runtime.send(tick({ at, atMs: world.now, nextOpenMs: world.now, tsEvent: world.now }));
    await drain(world);
    expect(resultsOf(harness, 'a')).toEqual([
      ['a.20251009T0935.1', 'cancelled', 'KILL_SWITCH'],
      ['a.20251010T0935.1', 'denied', 'KILL_SWITCH'],
    ]);
    expect(world.venue.has('a.20251010T0935.1')).toBe(false);
  });

  it('kill switch thrown while the process was down: on restart the restored open orders of that signature are cancelled', async () => {
    const limit = { side: 'buy' as const, symbol: 'NVDA', quantity: 100, type: 'limit' as const, limitPrice: '9.50' };
    const world = new World(AT_MS, { intents: { a: [limit], b: [limit] }, venue: { NVDA: 'rest' } });
    const file = new KillSwitch(dir, () => world.now);
    // No watcher: only what the actor does on start is under test.
    const killSwitch = { state: () => file.state(), watch: () => () => {} };
    harness = await startHarness(
      world,
      engineInput({ agents: [{ signature: 'a', enabled: true }, { signature: 'b', enabled: true }] }),
      { actors: { ...world.actors(), risk: riskActor(riskDeps(world, { killSwitch })) } },
    );
    harness.runtime.send(tick());
    await drain(world);
    expect(Object.keys(harness.runtime.actor.getSnapshot().context.openOrders).sort()).toEqual(['a.20251009T0935.1', 'b.20251009T0935.1']);

    await file.activate({ signature: 'a', reason: 'thrown while down' });
    await harness.restart();
    await drain(world);
    await harness.runtime.flush();
    expect(world.venue.get('a.20251009T0935.1')?.status).toBe('cancelled');
    expect(world.venue.get('b.20251009T0935.1')?.status).toBe('accepted');
    expect(Object.keys(harness.runtime.actor.getSnapshot().context.openOrders)).toEqual(['b.20251009T0935.1']);
    expect(world.alerts.filter((a) => a.code === 'KILL_SWITCH')).toMatchObject([{ level: 'critical', signature: 'a' }]);
  });

  it('a check re-asked after a restart gets the decision recorded before the crash, without reading the account again', async () => {
    const world = new World(AT_MS, { intents: { alpha: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    const decisions: RiskDecision[] = [];
    let accountReads = 0;
    let crashOnJournal = true;
    const deps = riskDeps(world, {
      account: async (signature) => {
        accountReads++;
        await harness!.runtime.flush(); // the session waiting in `executing.checking` is in the store
        return { ...ACCOUNT, signature };
      },
      // Journalled, then the process dies before the answer reaches the session.
      journal: (d) => {
        decisions.push(d);
        if (crashOnJournal) harness!.runtime.crash();
      },
      history: decisions,
    });
    harness = await startHarness(world, engineInput(), { actors: { ...world.actors(), risk: riskActor(deps) } });
    harness.runtime.send(tick());
    await drain(world);
    await vi.waitFor(() => expect(decisions.map((d) => [d.clientOrderId, d.approved])).toEqual([['alpha.20251009T0935.1', true]]));
    expect(world.venue.size).toBe(0);

    crashOnJournal = false;
    await harness.restart();
    await drain(world);
    await harness.runtime.flush();

    expect(accountReads).toBe(1);
    expect(decisions).toHaveLength(1);
    expect(resultsOf(harness, 'alpha')).toEqual([['alpha.20251009T0935.1', 'filled', '']]);
    expect(world.submitsOf('alpha.20251009T0935.1')).toBe(1);
  });
});
