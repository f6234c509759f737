/**
 * The clock stream: one RxJS pipeline emitting a TICK at each trading instant of a
 * schedule, on an injected scheduler (the real one live, a virtual one in
 * backtests and tests), reading time only from `scheduler.now()`.
 *
 * - It never sleeps longer than `maxWaitMs` at once: long waits (a weekend, a
 *   holiday) are cut into chunks, which keeps under setTimeout's 24.8-day limit and
 *   lets every wake-up compare the wall clock with the expected one (jump check).
 * - Instants that passed before start are not replayed, except those inside the
 *   catch-up window; with `resumeFrom` (the last instant the engine processed)
 *   the older ones are reported as TICK_MISSED so nothing disappears silently.
 * - With `until`, the stream completes after the last instant not later than it
 *   (backtests); without, it runs until unsubscribed, and errors loudly when the
 *   calendar's coverage ends.
 */
import { DateTime } from 'luxon';
import { Observable, asyncScheduler, filter, type SchedulerLike } from 'rxjs';
import type { ClockEvent, Tick } from '../domain/clock-events.js';
import { MARKETS } from '../domain/markets.js';
import { instantsAfter, type ScheduleSpec } from '../domain/schedule.js';

export interface ClockOptions {
  /** Source of time and timers; default the real async scheduler. */
  readonly scheduler?: SchedulerLike;
  /** Instants at most this old at start (or after a jump) are still emitted, marked late. Default 0. */
  readonly catchUpWindowMs?: number;
  /** The last instant already processed (from the store): older instants are reported as missed. */
  readonly resumeFrom?: DateTime;
  /** Complete after the last instant <= until. */
  readonly until?: DateTime;
  /** Longest single wait; default one minute. */
  readonly maxWaitMs?: number;
  /** A wake-up this far from the expected time is a clock jump; default 5 s. */
  readonly jumpToleranceMs?: number;
  /** A tick firing this long after its instant is late; default 5 s. */
  readonly lateToleranceMs?: number;
}

export function clockEvents(spec: ScheduleSpec, options: ClockOptions = {}): Observable<ClockEvent> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const catchUp = options.catchUpWindowMs ?? 0;
  const maxWait = options.maxWaitMs ?? 60_000;
  const jumpTolerance = options.jumpToleranceMs ?? 5_000;
  const lateTolerance = options.lateToleranceMs ?? 5_000;
  const zone = MARKETS[spec.market].zone;
  const { market, frequency } = spec;
  const dt = (ms: number) => DateTime.fromMillis(ms, { zone });

  return new Observable<ClockEvent>((subscriber) => {
    const startMs = scheduler.now();
    const from = options.resumeFrom ?? dt(startMs - catchUp);
    const upcoming = instantsAfter(spec, from);
    let next: DateTime | undefined;

    const advance = (): DateTime | undefined => {
      const at = upcoming.next().value;
      return options.until && at > options.until ? undefined : at;
    };

    /** Emit every instant that is due at `nowMs`; returns false once the stream is finished. */
    const emitDue = (nowMs: number, reasonIfMissed: 'process_down' | 'clock_jump'): boolean => {
      while (next && next.toMillis() <= nowMs) {
        const lateBy = nowMs - next.toMillis();
        if (lateBy <= lateTolerance) {
          subscriber.next({ type: 'TICK', market, frequency, at: next, late: false });
        } else if (lateBy <= catchUp) {
          subscriber.next({ type: 'TICK', market, frequency, at: next, late: true });
        } else {
          subscriber.next({ type: 'TICK_MISSED', market, frequency, at: next, reason: reasonIfMissed });
        }
        if (subscriber.closed) return false;
        next = advance();
      }
      if (!next) {
        subscriber.complete();
        return false;
      }
      return true;
    };

    const wait = (nowMs: number) => {
      const delay = Math.min(next!.toMillis() - nowMs, maxWait);
      const expected = nowMs + delay;
      return scheduler.schedule(() => {
        try {
          const wokeAt = scheduler.now();
          const drift = wokeAt - expected;
          if (Math.abs(drift) > jumpTolerance) {
            subscriber.next({ type: 'CLOCK_JUMP', expectedMs: expected, actualMs: wokeAt, driftMs: drift });
          }
          if (emitDue(wokeAt, 'clock_jump')) subscription.add(wait(wokeAt));
        } catch (err) {
          subscriber.error(err);
        }
      }, delay);
    };

    const subscription = scheduler.schedule(() => {
      try {
        next = advance();
        if (emitDue(startMs, 'process_down')) subscription.add(wait(startMs));
      } catch (err) {
        subscriber.error(err);
      }
    });
    return subscription;
  });
}

/** Only the ticks. */
export function ticks(spec: ScheduleSpec, options: ClockOptions = {}): Observable<Tick> {
  return clockEvents(spec, options).pipe(filter((e): e is Tick => e.type === 'TICK'));
}
