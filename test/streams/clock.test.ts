import { DateTime } from 'luxon';
import { toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ClockEvent } from '../../src/domain/clock-events.js';
import { defaultScheduleSpec, isoInstant, tradingInstants } from '../../src/domain/schedule.js';
import { clockEvents, ticks } from '../../src/streams/clock.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';

const NY = 'America/New_York';
const ny = (s: string) => DateTime.fromISO(s, { zone: NY });

/** Subscribe, run virtual time to `until`, and return what was emitted with the virtual time of emission. */
function record(scheduler: EpochVirtualScheduler, source: ReturnType<typeof clockEvents>, until: DateTime) {
  const seen: { event: ClockEvent; nowMs: number }[] = [];
  let done = false;
  let error: unknown;
  const sub = source.subscribe({
    next: (event) => seen.push({ event, nowMs: scheduler.now() }),
    complete: () => (done = true),
    error: (e) => (error = e),
  });
  scheduler.advanceTo(until);
  return { seen, done: () => done, error: () => error, sub };
}

const describeEvent = (e: ClockEvent) =>
  e.type === 'CLOCK_JUMP' ? `CLOCK_JUMP ${e.driftMs}` : `${e.type} ${isoInstant(e.at)}${e.type === 'TICK' && e.late ? ' late' : ''}${e.type === 'TICK_MISSED' ? ` ${e.reason}` : ''}`;

describe('clock stream on virtual time', () => {
  it('emits every 2025 US hourly instant exactly at its instant, then completes', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    const scheduler = new EpochVirtualScheduler(ny('2025-01-01T00:00'));
    const until = ny('2025-12-31T23:59');
    const r = record(scheduler, clockEvents(spec, { scheduler, until }), until);
    const expected = tradingInstants(spec, '2025-01-01', '2025-12-31');
    expect(r.seen.map((s) => s.event.type === 'TICK' && isoInstant(s.event.at))).toEqual(expected.map(isoInstant));
    expect(r.seen.every((s) => s.event.type === 'TICK' && s.nowMs === s.event.at.toMillis())).toBe(true);
    expect(r.done()).toBe(true);
  });

  it('waits across a weekend in bounded chunks without losing the Monday tick', () => {
    const spec = defaultScheduleSpec('us', 'daily');
    const scheduler = new EpochVirtualScheduler(ny('2025-03-07T12:00'));
    const r = record(scheduler, ticks(spec, { scheduler, maxWaitMs: 3_600_000 }), ny('2025-03-10T12:00'));
    expect(r.seen.map((s) => describeEvent(s.event))).toEqual(['TICK 2025-03-10T09:35:00-04:00']);
    r.sub.unsubscribe();
  });

  it('does not replay an instant that passed before start (default: no catch-up)', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    const scheduler = new EpochVirtualScheduler(ny('2025-03-10T11:30'));
    const r = record(scheduler, clockEvents(spec, { scheduler }), ny('2025-03-10T12:30'));
    expect(r.seen.map((s) => describeEvent(s.event))).toEqual(['TICK 2025-03-10T12:05:00-04:00']);
    r.sub.unsubscribe();
  });

  it('replays a missed instant inside the catch-up window, marked late, at start', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    const start = ny('2025-03-10T11:30');
    const scheduler = new EpochVirtualScheduler(start);
    const r = record(scheduler, clockEvents(spec, { scheduler, catchUpWindowMs: 3_600_000 }), ny('2025-03-10T12:30'));
    expect(r.seen.map((s) => describeEvent(s.event))).toEqual([
      'TICK 2025-03-10T11:05:00-04:00 late',
      'TICK 2025-03-10T12:05:00-04:00',
    ]);
    expect(r.seen[0]!.nowMs).toBe(start.toMillis());
    r.sub.unsubscribe();
  });

  it('reports instants missed while the process was down when told where it stopped', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    const scheduler = new EpochVirtualScheduler(ny('2025-03-10T11:30'));
    const resumeFrom = ny('2025-03-07T15:05');
    const r = record(scheduler, clockEvents(spec, { scheduler, resumeFrom }), ny('2025-03-10T12:30'));
    expect(r.seen.map((s) => describeEvent(s.event))).toEqual([
      'TICK_MISSED 2025-03-10T10:05:00-04:00 process_down',
      'TICK_MISSED 2025-03-10T11:05:00-04:00 process_down',
      'TICK 2025-03-10T12:05:00-04:00',
    ]);
    r.sub.unsubscribe();
  });

  it('notices a forward clock jump and reports the instants it skipped', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    const scheduler = new EpochVirtualScheduler(ny('2025-03-10T09:00'));
    const seen: ClockEvent[] = [];
    const sub = clockEvents(spec, { scheduler, maxWaitMs: 60_000 }).subscribe((e) => seen.push(e));
    scheduler.advanceTo(ny('2025-03-10T10:30'));
    scheduler.shiftWallClock(2 * 3_600_000); // wall clock now reads 12:30+
    scheduler.advanceTo(ny('2025-03-10T10:32'));
    sub.unsubscribe();
    expect(seen.map(describeEvent)).toEqual([
      'TICK 2025-03-10T10:05:00-04:00',
      'CLOCK_JUMP 7200000',
      'TICK_MISSED 2025-03-10T11:05:00-04:00 clock_jump',
      'TICK_MISSED 2025-03-10T12:05:00-04:00 clock_jump',
    ]);
  });

  it('notices a backward clock jump and never emits an instant twice', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    const scheduler = new EpochVirtualScheduler(ny('2025-03-10T09:00'));
    const seen: { event: ClockEvent; nowMs: number }[] = [];
    const sub = clockEvents(spec, { scheduler }).subscribe((event) => seen.push({ event, nowMs: scheduler.now() }));
    scheduler.advanceTo(ny('2025-03-10T10:30'));
    scheduler.shiftWallClock(-3_600_000); // wall clock reads 09:30 again
    scheduler.advanceTo(ny('2025-03-10T12:10'));
    sub.unsubscribe();
    expect(seen.map((s) => describeEvent(s.event))).toEqual([
      'TICK 2025-03-10T10:05:00-04:00',
      'CLOCK_JUMP -3600000',
      'TICK 2025-03-10T11:05:00-04:00',
    ]);
    // The 11:05 tick fires when the wall clock reads 11:05, not when the timers think it is.
    const last = seen.at(-1)!;
    expect(last.event.type === 'TICK' && last.nowMs).toBe(ny('2025-03-10T11:05').toMillis());
  });

  it('stops when unsubscribed', () => {
    const spec = defaultScheduleSpec('cn', 'hourly');
    const scheduler = new EpochVirtualScheduler(DateTime.fromISO('2025-10-09T09:00', { zone: 'Asia/Shanghai' }));
    const seen: ClockEvent[] = [];
    const sub = ticks(spec, { scheduler }).subscribe((e) => seen.push(e));
    scheduler.advanceTo(DateTime.fromISO('2025-10-09T11:00', { zone: 'Asia/Shanghai' }));
    sub.unsubscribe();
    scheduler.advanceTo(DateTime.fromISO('2025-10-10T16:00', { zone: 'Asia/Shanghai' }));
    expect(seen.map(describeEvent)).toEqual(['TICK 2025-10-09T10:35:00+08:00']);
  });

  it('errors loudly when the calendar coverage ends', () => {
    const spec = defaultScheduleSpec('cn', 'daily');
    const scheduler = new EpochVirtualScheduler(DateTime.fromISO('2026-12-30T12:00', { zone: 'Asia/Shanghai' }));
    const r = record(scheduler, clockEvents(spec, { scheduler }), DateTime.fromISO('2027-01-10T12:00', { zone: 'Asia/Shanghai' }));
    expect(r.seen.map((s) => describeEvent(s.event))).toEqual(['TICK 2026-12-31T09:35:00+08:00']);
    expect(String(r.error())).toMatch(/2027/);
  });

  it('collects with ordinary RxJS operators (a month of A-share hourly ticks)', () => {
    const spec = defaultScheduleSpec('cn', 'hourly');
    const scheduler = new EpochVirtualScheduler(DateTime.fromISO('2025-10-01T00:00', { zone: 'Asia/Shanghai' }));
    const until = DateTime.fromISO('2025-10-31T23:59', { zone: 'Asia/Shanghai' });
    let got: string[] = [];
    ticks(spec, { scheduler, until })
      .pipe(toArray())
      .subscribe((xs) => (got = xs.map((t) => isoInstant(t.at))));
    scheduler.advanceTo(until);
    expect(got).toEqual(tradingInstants(spec, '2025-10-01', '2025-10-31').map(isoInstant));
    expect(got).toHaveLength(4 * 17); // 17 A-share trading days in October 2025
  });
});
