import { afterEach, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { enqueueActions } from 'xstate';
import { tickMessage } from '../../src/domain/clock-events.js';
import { defaultScheduleSpec } from '../../src/domain/schedule.js';
import { ticks } from '../../src/streams/clock.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import type { JournalEntry } from '../../src/runtime/engine-runtime.js';
import { createInspectionRecorder } from '../../src/actors/store/inspection-recorder.js';
import { sessionMachine } from '../../src/machines/session.machine.js';
import { ledgerGetAccount } from '../../src/machines/session/context.js';
import { AT_MS, engineInput, startHarness, tick, type Harness } from '../support/engine-harness.js';
import { World } from '../support/world.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const outcomes = (h: Harness) =>
  Object.fromEntries(h.runtime.actor.getSnapshot().context.history.map((o) => [o.signature, o]));

describe('engine', () => {
  it('runs one session per agent side by side, each with its own orders', async () => {
    const world = new World(AT_MS, {
      intents: {
        alpha: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }],
        beta: [
          { side: 'buy', symbol: 'MSFT', quantity: 200, type: 'market' },
          { side: 'buy', symbol: 'NVDA', quantity: 100, type: 'market' },
        ],
      },
    });
    harness = await startHarness(
      world,
      engineInput({ agents: [{ signature: 'alpha', enabled: true }, { signature: 'beta', enabled: true }] }),
    );
    harness.runtime.send(tick());
    world.runToEnd();
    await harness.runtime.flush();

    const byAgent = outcomes(harness);
    expect(byAgent['alpha']?.status).toBe('completed');
    expect(byAgent['alpha']?.results.map((r) => [r.clientOrderId, r.status, r.filledQuantity])).toEqual([
      ['alpha.20251009T0935.1', 'filled', 100],
    ]);
    expect(byAgent['beta']?.results.map((r) => [r.clientOrderId, r.status])).toEqual([
      ['beta.20251009T0935.1', 'filled'],
      ['beta.20251009T0935.2', 'filled'],
    ]);
    expect([...world.venue.keys()].sort()).toEqual(['alpha.20251009T0935.1', 'beta.20251009T0935.1', 'beta.20251009T0935.2']);
    expect(world.recorded.map((o) => o.signature).sort()).toEqual(['alpha', 'beta']);
    // Finished sessions and orders are forgotten by the engine (kept in history only).
    const snap = harness.runtime.actor.getSnapshot();
    expect(snap.context.running).toEqual({});
    expect(snap.context.openOrders).toEqual({});
    expect(Object.keys(snap.children).filter((id) => id.startsWith('session:') || id.startsWith('order:'))).toEqual([]);

    // The journal in the store holds every message, in order, with who sent it to whom.
    const journal: JournalEntry[] = [];
    for await (const r of harness.store.readJournal<JournalEntry>()) journal.push(r.entry);
    const submits = journal.filter((e) => e.event.type === 'broker.submit');
    expect(submits.map((e) => [e.from, e.to])).toEqual([
      ['order:alpha.20251009T0935.1', 'broker'],
      ['order:beta.20251009T0935.1', 'broker'],
      ['order:beta.20251009T0935.2', 'broker'],
    ]);
    const types = journal.map((e) => e.event.type);
    expect(types.indexOf('clock.tick')).toBeLessThan(types.indexOf('session.start'));
    expect(types.filter((t) => t === 'session.finished')).toHaveLength(2);
  });

  it('runs a session at every tick of the clock stream (a day of A-share hourly sessions in virtual time)', async () => {
    const world = new World(AT_MS, { intents: { alpha: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    harness = await startHarness(world, engineInput({ frequency: 'hourly' }));
    const runtime = harness.runtime;
    const scheduler = new EpochVirtualScheduler(DateTime.fromISO('2025-10-10T00:00', { zone: 'Asia/Shanghai' }));
    const until = DateTime.fromISO('2025-10-10T23:59', { zone: 'Asia/Shanghai' });
    ticks(defaultScheduleSpec('cn', 'hourly'), { scheduler, until }).subscribe((t) => {
      world.now = scheduler.now();
      runtime.send(tickMessage(t, scheduler.now()));
      while (world.step());
    });
    scheduler.advanceTo(until);
    const history = runtime.actor.getSnapshot().context.history;
    expect(history.map((o) => [o.at, o.status, o.results[0]?.status, o.results[0]?.reason])).toEqual([
      ['2025-10-10T10:35:00+08:00', 'completed', 'filled', undefined],
      // 11:35 falls in the lunch break and 15:05 after the close: with the default
      // orders_outside_hours `reject`, the agent is told MARKET_CLOSED.
      ['2025-10-10T11:35:00+08:00', 'completed', 'rejected', 'MARKET_CLOSED'],
      ['2025-10-10T14:05:00+08:00', 'completed', 'filled', undefined],
      ['2025-10-10T15:05:00+08:00', 'completed', 'rejected', 'MARKET_CLOSED'],
    ]);
  });

  it('a clean stop leaves a snapshot to resume from (the stop itself is not persisted)', async () => {
    const world = new World(AT_MS, { intents: { alpha: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    harness = await startHarness(world, engineInput());
    harness.runtime.send(tick());
    world.runToEnd();
    await harness.runtime.stop();
    const saved = await harness.store.loadSnapshot<{ children: Record<string, unknown>; context: { ticks: number } }>('engine');
    expect(Object.keys(saved!.children).sort()).toEqual(['agent', 'broker', 'clock', 'ledger', 'marketData', 'monitor', 'risk']);
    expect(saved!.context.ticks).toBe(1);
    await harness.restart();
    expect(harness.runtime.restored).toBe(true);
    harness.runtime.send(tick({ at: '2025-10-10T09:35:00+08:00', atMs: AT_MS + 86_400_000, tsEvent: AT_MS + 86_400_000 }));
    world.runToEnd();
    expect(harness.runtime.actor.getSnapshot().context.history.map((o) => o.status)).toEqual(['completed', 'completed']);
  });

  it('cancels the open orders of one signature on request (the kill switch), leaving the others', async () => {
    const limit = { side: 'buy' as const, symbol: 'NVDA', quantity: 100, type: 'limit' as const, limitPrice: '9.50' };
    const world = new World(AT_MS, { intents: { a: [limit], b: [limit] }, venue: { NVDA: 'rest' } });
    harness = await startHarness(
      world,
      engineInput({ agents: [{ signature: 'a', enabled: true }, { signature: 'b', enabled: true }] }),
    );
    harness.runtime.send(tick());
    while (world.step());
    expect(Object.keys(harness.runtime.actor.getSnapshot().context.openOrders).sort()).toEqual(['a.20251009T0935.1', 'b.20251009T0935.1']);
    harness.runtime.send({ type: 'engine.cancelOpenOrders', signature: 'a', reason: 'KILL_SWITCH', tsEvent: AT_MS + 1_000 });
    while (world.step());
    expect(world.venue.get('a.20251009T0935.1')?.status).toBe('cancelled');
    expect(world.venue.get('b.20251009T0935.1')?.status).toBe('accepted');
    expect(Object.keys(harness.runtime.actor.getSnapshot().context.openOrders)).toEqual(['b.20251009T0935.1']);
  });

  it('skips a disabled agent and records why', async () => {
    const world = new World(AT_MS, { intents: {} });
    harness = await startHarness(world, engineInput({ agents: [{ signature: 'off', enabled: false }] }));
    harness.runtime.send(tick());
    world.runToEnd();
    expect(outcomes(harness)['off']).toMatchObject({ status: 'skipped', reason: 'AGENT_DISABLED' });
  });

  it('refuses a new session while the previous one of the same agent still runs, then fails the stuck one at its deadline', async () => {
    const world = new World(AT_MS, { intents: {}, silentAgents: ['mute'] });
    harness = await startHarness(world, engineInput({ agents: [{ signature: 'mute', enabled: true }] }));
    harness.runtime.send(tick());
    while (world.step());
    const later = '2025-10-09T10:35:00+08:00';
    harness.runtime.send(tick({ at: later, atMs: AT_MS + 3_600_000, tsEvent: AT_MS + 60_000 }));
    const history = () => harness!.runtime.actor.getSnapshot().context.history;
    expect(history()).toEqual([expect.objectContaining({ at: later, status: 'skipped', reason: 'PREVIOUS_SESSION_RUNNING' })]);
    expect(world.alerts.map((a) => a.code)).toContain('PREVIOUS_SESSION_RUNNING');

    world.runToEnd();
    expect(history().at(-1)).toMatchObject({
      status: 'failed',
      error: { step: 'deciding', reason: 'DEADLINE' },
    });
    expect(world.alerts.map((a) => a.code)).toContain('SESSION_FAILED');
  });

  it('supervises: a session that throws fails alone, the others complete', async () => {
    const world = new World(AT_MS, { intents: { good: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    // Fault injection: the account request throws for one agent and works as usual for the others.
    const crashy = sessionMachine.provide({
      actions: {
        requestAccount: enqueueActions(({ enqueue, context, system }) => {
          if (context.input.signature === 'crashy') {
            enqueue(() => {
              throw new Error('ledger view exploded');
            });
          } else {
            enqueue.sendTo(system.get('ledger'), ledgerGetAccount(context));
          }
        }),
      },
    });
    let fatal: unknown;
    harness = await startHarness(
      world,
      engineInput({ agents: [{ signature: 'crashy', enabled: true }, { signature: 'good', enabled: true }] }),
      { machines: { session: crashy }, onFatal: (e) => (fatal = e) },
    );
    harness.runtime.send(tick());
    world.runToEnd();
    await harness.runtime.flush();
    const byAgent = outcomes(harness);
    expect(byAgent['crashy']).toMatchObject({
      status: 'failed',
      reason: 'ACTOR_FAILED',
      // The step is the last state the session reached: it crashed leaving fetching.
      error: { step: 'fetching', message: expect.stringContaining('ledger view exploded') },
    });
    expect(byAgent['good']).toMatchObject({ status: 'completed' });
    expect(world.alerts).toContainEqual(expect.objectContaining({ code: 'SESSION_CRASHED', signature: 'crashy', level: 'critical' }));
    expect(fatal).toBeUndefined();
    expect(harness.runtime.actor.getSnapshot().status).toBe('active');
  });

  it('queues an order made outside hours for the next open; it outlives its session', async () => {
    const world = new World(AT_MS, { intents: { night: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    const input = engineInput({
      agents: [{ signature: 'night', enabled: true }],
      orders: { ...engineInput().orders, outsideHours: 'queue_next_open' },
    });
    harness = await startHarness(world, input);
    const nextOpen = AT_MS + 18 * 3_600_000;
    harness.runtime.send(tick({ marketOpen: false, nextOpenMs: nextOpen }));
    while (world.step());
    const snap = harness.runtime.actor.getSnapshot();
    expect(snap.context.history[0]).toMatchObject({ status: 'completed', results: [expect.objectContaining({ status: 'queued' })] });
    expect(Object.keys(snap.context.openOrders)).toEqual(['night.20251009T0935.1']);
    expect(world.venue.size).toBe(0);

    // It waits as a limit at the price the agent saw (10.00) + the default band (2%), and the agent is told so.
    expect(snap.context.history[0]?.results[0]).toMatchObject({
      intent: { type: 'limit', limitPrice: '10.2' },
      queuedUntil: DateTime.fromMillis(nextOpen, { zone: 'Asia/Shanghai' }).toISO({ suppressMilliseconds: true }),
      message: expect.stringContaining('as a limit buy at 10.2 (the decision price 10.00 + 2%'),
    });

    world.runToEnd();
    expect(world.venue.get('night.20251009T0935.1')).toMatchObject({ status: 'filled', fills: [{ atMs: nextOpen }] });
    expect(world.venue.get('night.20251009T0935.1')?.request).toMatchObject({ type: 'limit', limitPrice: '10.2' });
    expect(harness.runtime.actor.getSnapshot().context.orderHistory).toEqual([
      expect.objectContaining({ clientOrderId: 'night.20251009T0935.1', status: 'filled', filledQuantity: 100 }),
    ]);
  });

  it('records every actor transition and message as JSONL when inspected live', async () => {
    const world = new World(AT_MS, { intents: { alpha: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    const lines: string[] = [];
    const recorder = createInspectionRecorder((line) => lines.push(line));
    harness = await startHarness(world, engineInput(), { inspect: recorder });
    harness.runtime.send(tick());
    world.runToEnd();
    const records = lines.map((l) => JSON.parse(l) as { type: string; systemId?: string; event?: { type: string }; snapshot?: { value: unknown } });
    expect(records.every((r) => r.type.startsWith('@xstate.'))).toBe(true);
    const order = 'order:alpha.20251009T0935.1';
    expect(records.filter((r) => r.systemId === order && r.type === '@xstate.snapshot').map((r) => r.snapshot?.value)).toEqual([
      'new',
      'submitting',
      'accepted',
      'filled',
    ]);
    expect(records.some((r) => r.type === '@xstate.event' && r.event?.type === 'broker.submit')).toBe(true);
  });

  it('rejects an order made while the market is closed with MARKET_CLOSED by default, and tells the agent', async () => {
    const world = new World(AT_MS, { intents: { late: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    harness = await startHarness(world, engineInput({ agents: [{ signature: 'late', enabled: true }] }));
    harness.runtime.send(tick({ marketOpen: false, nextOpenMs: AT_MS + 3_600_000 }));
    world.runToEnd();
    expect(outcomes(harness)['late']?.results).toEqual([
      expect.objectContaining({ status: 'rejected', reason: 'MARKET_CLOSED', filledQuantity: 0 }),
    ]);
    const decide = world.received.filter((r) => r.message.type === 'agent.decide').at(-1)?.message;
    expect(decide).toMatchObject({ results: [expect.objectContaining({ reason: 'MARKET_CLOSED' })] });
    expect(world.venue.size).toBe(0);
  });
});
