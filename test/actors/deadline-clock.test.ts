import { DateTime } from 'luxon';
import { assign, createActor, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { deadlineClock } from '../../src/actors/clock/deadline-clock.actor.js';
import { tickMessage } from '../../src/domain/clock-events.js';
import type { Message } from '../../src/domain/messages.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';

const start = DateTime.fromISO('2025-10-09T09:35:00+08:00');

/** A tiny system: the clock actor, and a waiter that records the deadlines it receives. */
function system(scheduler: EpochVirtualScheduler) {
  const waiter = setup({
    types: {} as { context: { got: { key: string; tsEvent: number }[] }; events: Message<'clock.deadline'> },
  }).createMachine({
    context: { got: [] },
    on: { 'clock.deadline': { actions: assign({ got: ({ context, event }) => [...context.got, { key: event.key, tsEvent: event.tsEvent }] }) } },
  });
  const root = setup({ actors: { clock: deadlineClock(scheduler), waiter } }).createMachine({
    invoke: [
      { src: 'clock', id: 'clock', systemId: 'clock' },
      { src: 'waiter', id: 'waiter', systemId: 'waiter' },
    ],
  });
  const actor = createActor(root).start();
  const clock = actor.system.get('clock')!;
  const got = () => (actor.system.get('waiter')!.getSnapshot() as { context: { got: { key: string; tsEvent: number }[] } }).context.got;
  return { actor, clock, got };
}

const schedule = (atMs: number, key: string): Message<'clock.schedule'> => ({ type: 'clock.schedule', target: 'waiter', atMs, key });

describe('deadline clock actor', () => {
  it('delivers each deadline at its instant, on the injected scheduler', () => {
    const scheduler = new EpochVirtualScheduler(start);
    const { clock, got } = system(scheduler);
    clock.send(schedule(start.toMillis() + 60_000, 'fetching#1'));
    clock.send(schedule(start.toMillis() + 30_000, 'limit#1'));
    scheduler.advanceTo(start.toMillis() + 45_000);
    expect(got()).toEqual([{ key: 'limit#1', tsEvent: start.toMillis() + 30_000 }]);
    scheduler.advanceTo(start.toMillis() + 120_000);
    expect(got().map((g) => g.key)).toEqual(['limit#1', 'fetching#1']);
  });

  it('replaces a repeated request (a resume) instead of doubling it, and fires an overdue one at once', () => {
    const scheduler = new EpochVirtualScheduler(start);
    const { clock, got } = system(scheduler);
    clock.send(schedule(start.toMillis() + 60_000, 'deciding#3'));
    clock.send(schedule(start.toMillis() + 60_000, 'deciding#3'));
    clock.send(schedule(start.toMillis() - 1_000, 'submit#1'));
    scheduler.advanceTo(start.toMillis() + 120_000);
    expect(got()).toEqual([
      { key: 'submit#1', tsEvent: start.toMillis() },
      { key: 'deciding#3', tsEvent: start.toMillis() + 60_000 },
    ]);
  });

  it('cancels what is pending when stopped', () => {
    const scheduler = new EpochVirtualScheduler(start);
    const { actor, clock } = system(scheduler);
    clock.send(schedule(start.toMillis() + 60_000, 'x#1'));
    actor.stop();
    scheduler.advanceTo(start.toMillis() + 120_000);
    expect(scheduler.actions.length).toBe(0);
  });
});

describe('tick message', () => {
  it('marks an A-share 15:05 session as outside hours with the next open the following trading day', () => {
    const at = DateTime.fromISO('2025-10-10T15:05:00+08:00', { setZone: true });
    const m = tickMessage({ type: 'TICK', market: 'cn', frequency: 'hourly', at, late: false }, at.toMillis());
    expect(m).toMatchObject({ at: '2025-10-10T15:05:00+08:00', marketOpen: false });
    expect(DateTime.fromMillis(m.nextOpenMs, { zone: 'Asia/Shanghai' }).toISO({ suppressMilliseconds: true })).toBe(
      '2025-10-13T09:30:00+08:00',
    );
  });

  it('marks a 09:35 session as open', () => {
    const at = DateTime.fromISO('2025-10-10T09:35:00+08:00', { setZone: true });
    const m = tickMessage({ type: 'TICK', market: 'cn', frequency: 'daily', at, late: false }, at.toMillis());
    expect(m).toMatchObject({ marketOpen: true, nextOpenMs: at.toMillis(), atMs: at.toMillis() });
  });
});
