/**
 * The schedule of a paper or live run on its clock: ticks go to the engine, a missed
 * instant or a jump of the clock becomes an alert, a failed clock a critical one. Resumes
 * after the last tick the stored engine took.
 */
import { DateTime } from 'luxon';
import type { SchedulerLike, Subscription } from 'rxjs';
import type { Config } from '../config/schema.js';
import { scheduleSpecOf } from '../config/schedule-spec.js';
import type { Tick } from '../domain/clock-events.js';
import { MARKETS } from '../domain/markets.js';
import type { Alert } from '../actors/monitor/alert-collector.actor.js';
import { clockEvents } from '../streams/clock.js';

export interface ScheduleOptions {
  readonly scheduler: SchedulerLike;
  readonly until?: DateTime;
  /** The clock runs this many times faster than the wall (a replay). */
  readonly timeScale?: number;
  /** The last tick the stored engine took (epoch ms). */
  readonly resumeAfterMs?: number;
}

export interface ScheduleHandlers {
  tick(tick: Tick): void;
  alert(alert: Alert): void;
  /** The clock stopped for good (its alert is raised already). */
  failed(): void;
  /** The schedule passed `until`. */
  done(): void;
}

export function runSchedule(config: Config, o: ScheduleOptions, on: ScheduleHandlers): Subscription {
  const zone = MARKETS[config.market].zone;
  const scale = o.timeScale ?? 1;
  const now = () => o.scheduler.now();
  return clockEvents(scheduleSpecOf(config), {
    scheduler: o.scheduler,
    ...(o.until ? { until: o.until } : {}),
    catchUpWindowMs: config.schedule.catch_up_window_seconds * 1000,
    // A busy event loop delays a timer by wall ms; on a compressed clock that is speed x as much market time.
    lateToleranceMs: 5_000 * scale,
    jumpToleranceMs: 5_000 * scale,
    ...(o.resumeAfterMs !== undefined ? { resumeFrom: DateTime.fromMillis(o.resumeAfterMs, { zone }) } : {}),
  }).subscribe({
    next: (e) => {
      if (e.type === 'TICK_MISSED') {
        on.alert({ type: 'monitor.alert', level: 'warning', code: 'TICK_MISSED', message: `the session instant ${e.at.toISO()} was missed (${e.reason === 'process_down' ? 'the process was down' : 'the clock jumped past it'}); not run late beyond schedule.catch_up_window_seconds`, tsEvent: now() });
      } else if (e.type === 'CLOCK_JUMP') {
        on.alert({ type: 'monitor.alert', level: 'warning', code: 'CLOCK_JUMP', message: `the clock moved ${Math.round(e.driftMs / 1000)} s more than expected between two wake-ups (NTP step, suspend, a change by hand)`, tsEvent: now() });
      } else {
        on.tick(e);
      }
    },
    complete: () => on.done(),
    error: (err: unknown) => {
      on.alert({ type: 'monitor.alert', level: 'critical', code: 'CLOCK_FAILED', message: `the schedule stopped: ${err instanceof Error ? err.message : String(err)}`, tsEvent: now() });
      on.failed();
    },
  });
}
