import { DateTime } from 'luxon';
import { Subject, VirtualTimeScheduler, queueScheduler, type SchedulerAction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ClockEvent } from '../../src/domain/clock-events.js';
import { defaultScheduleSpec, isoInstant, tradingInstants } from '../../src/domain/schedule.js';
import { clockEvents } from '../../src/streams/clock.js';
import { ReplayClock, type MarketTimeReading } from '../../src/streams/replay-clock.js';

const NY = 'America/New_York';
const ny = (s: string) => DateTime.fromISO(s, { zone: NY }).toMillis();
const OPEN_LEAD = ny('2025-10-30T09:25');

/** Wall time starts at 0 on the underlying virtual scheduler; the replayed market runs 60x. */
function setup(reading: MarketTimeReading = { atMs: OPEN_LEAD, speed: 60 }) {
  const wall = new VirtualTimeScheduler();
  wall.maxFrames = Infinity;
  const clock = new ReplayClock(reading, wall);
  const advanceTo = (wallMs: number) => {
    wall.maxFrames = wallMs;
    wall.flush();
    if (wall.frame < wallMs) wall.frame = wallMs;
  };
  return { wall, clock, advanceTo };
}

describe('ReplayClock: a scheduler on replayed market time', () => {
  it('maps wall time to market time at the replay speed', () => {
    const { clock, advanceTo } = setup();
    expect(clock.now()).toBe(OPEN_LEAD);
    advanceTo(1_000);
    expect(clock.now()).toBe(OPEN_LEAD + 60_000);
    advanceTo(35_000);
    expect(DateTime.fromMillis(clock.now(), { zone: NY }).toISO()).toBe('2025-10-30T10:00:00.000-04:00');
  });

  it('runs scheduled work after the market delay divided by the speed, rounded up to a wall millisecond', () => {
    const { clock, advanceTo } = setup();
    const ran: { work: string; market: number }[] = [];
    clock.schedule(() => ran.push({ work: 'a market minute', market: clock.now() }), 60_000);
    clock.schedule(() => ran.push({ work: '90 market ms', market: clock.now() }), 90); // 1.5 wall ms -> 2
    advanceTo(1);
    expect(ran).toEqual([]);
    advanceTo(2);
    expect(ran).toEqual([{ work: '90 market ms', market: OPEN_LEAD + 120 }]);
    advanceTo(999);
    expect(ran).toHaveLength(1);
    advanceTo(1_000);
    expect(ran[1]).toEqual({ work: 'a market minute', market: OPEN_LEAD + 60_000 });
  });

  it('never asks the wall scheduler for a delay beyond what a Node timer holds (a slow replay waits in steps, then runs on time)', () => {
    // Node turns a timer beyond 2^31-1 ms (24.8 days) into 1 ms: at replay_speed 0.01 the daily
    // report's wait (2.4e9 wall ms) fired at once, again and again: an alert storm.
    const wall = new VirtualTimeScheduler();
    wall.maxFrames = Infinity;
    const asked: number[] = [];
    const recording = { now: () => wall.now(), schedule: (work: () => void, delay?: number) => (asked.push(delay ?? 0), wall.schedule(work, delay)) };
    const clock = new ReplayClock({ atMs: OPEN_LEAD, speed: 0.01 }, recording as never);
    const ran: number[] = [];
    clock.schedule(() => ran.push(clock.now()), 10 * 3_600_000); // 3.6e9 wall ms
    const runTo = (ms: number) => {
      wall.maxFrames = ms;
      wall.flush();
    };
    runTo(2 ** 31 - 1);
    expect(ran).toEqual([]);
    runTo(4_000_000_000);
    expect(ran).toEqual([OPEN_LEAD + 10 * 3_600_000]);
    expect(Math.max(...asked)).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('rescheduling from inside the work is in market time too, and unsubscribing stops it', () => {
    const { clock, advanceTo } = setup();
    const at: number[] = [];
    const sub = clock.schedule(function (this: SchedulerAction<number>, n?: number) {
      at.push(clock.now() - OPEN_LEAD);
      if (n! < 4) this.schedule(n! + 1, 60_000);
    }, 0, 0);
    advanceTo(2_500);
    expect(at).toEqual([0, 60_000, 120_000]);
    sub.unsubscribe();
    advanceTo(10_000);
    expect(at).toHaveLength(3);
  });

  it('works on a synchronous underlying scheduler', () => {
    const clock = new ReplayClock({ atMs: 0, speed: 10 }, queueScheduler);
    const seen: number[] = [];
    clock.schedule(function (this: SchedulerAction<number>, n?: number) {
      seen.push(n!);
      if (n! < 3) this.schedule(n! + 1);
    }, 0, 1);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('re-anchors on each announcement and never goes backwards', () => {
    const { clock, advanceTo } = setup();
    const readings = new Subject<MarketTimeReading>();
    clock.follow(readings);
    advanceTo(1_000);
    expect(clock.now()).toBe(OPEN_LEAD + 60_000);
    // The server says 09:26:30 at this instant: we were 30 s behind.
    readings.next({ atMs: OPEN_LEAD + 90_000, speed: 60 });
    expect(clock.now()).toBe(OPEN_LEAD + 90_000);
    // A late reading would move it back: it holds until the mapping catches up.
    readings.next({ atMs: OPEN_LEAD + 60_000, speed: 60 });
    expect(clock.now()).toBe(OPEN_LEAD + 90_000);
    advanceTo(1_400);
    expect(clock.now()).toBe(OPEN_LEAD + 90_000);
    advanceTo(2_000);
    expect(clock.now()).toBe(OPEN_LEAD + 120_000);
    // A new speed from here on.
    readings.next({ atMs: OPEN_LEAD + 120_000, speed: 600 });
    advanceTo(3_000);
    expect(clock.now()).toBe(OPEN_LEAD + 720_000);
    expect(clock.speed).toBe(600);
  });

  it('never passes endAt (the end of the replayed day), and work scheduled past it still runs on its wall delay', () => {
    const { clock, advanceTo } = setup();
    const end = ny('2025-10-30T23:59:59.999');
    clock.endAt(end);
    const ran: number[] = [];
    clock.schedule(() => ran.push(clock.now()), ny('2025-10-31T10:00') - OPEN_LEAD); // a deadline tomorrow
    advanceTo(14_500_000); // 241 wall minutes x 60: past midnight without the cap
    expect(clock.now()).toBe(end);
    advanceTo(1_475_000);
    expect(ran).toEqual([end]);
    clock.anchor({ atMs: ny('2025-10-31T01:00'), speed: 60 }); // a reading past the end changes nothing
    expect(clock.now()).toBe(end);
  });

  it('stands still while the server holds its clock', () => {
    const { clock, advanceTo } = setup({ atMs: OPEN_LEAD, speed: 60, held: true });
    advanceTo(5_000);
    expect(clock.now()).toBe(OPEN_LEAD);
    expect(clock.held).toBe(true);
    clock.anchor({ atMs: OPEN_LEAD, speed: 60 });
    advanceTo(6_000);
    expect(clock.now()).toBe(OPEN_LEAD + 60_000);
  });

  it('follow() resolves at the first reading, rejects if the stream ends without one', async () => {
    const { wall } = setup();
    const readings = new Subject<MarketTimeReading>();
    const pending = ReplayClock.follow(readings, wall);
    readings.next({ atMs: 42, speed: 2 });
    const clock = await pending;
    expect(clock.now()).toBe(42);
    readings.next({ atMs: 1_000, speed: 2 });
    expect(clock.now()).toBe(1_000);
    const empty = new Subject<MarketTimeReading>();
    const never = ReplayClock.follow(empty, wall);
    empty.complete();
    await expect(never).rejects.toThrow('ended before announcing');
    expect(() => new ReplayClock({ atMs: 0, speed: 0 })).toThrow(RangeError);
  });

  it('drives the engine\'s tick stream: a replayed day\'s hourly sessions fire at their market instants', () => {
    const { clock, advanceTo } = setup();
    const spec = defaultScheduleSpec('us', 'hourly');
    const seen: { event: ClockEvent; market: number }[] = [];
    let done = false;
    clockEvents(spec, { scheduler: clock, until: DateTime.fromMillis(ny('2025-10-30T16:00'), { zone: NY }) }).subscribe({
      next: (event) => seen.push({ event, market: clock.now() }),
      complete: () => (done = true),
    });
    advanceTo((ny('2025-10-30T16:00') - OPEN_LEAD) / 60); // 395 wall seconds for 6 h 35 min
    expect(done).toBe(true);
    const expected = tradingInstants(spec, '2025-10-30', '2025-10-30');
    expect(seen.map((s) => (s.event.type === 'TICK' ? `${isoInstant(s.event.at)}${s.event.late ? ' late' : ''}` : s.event.type))).toEqual(expected.map(isoInstant));
    expect(seen.every((s) => s.event.type === 'TICK' && s.market === s.event.at.toMillis())).toBe(true);
  });
});
