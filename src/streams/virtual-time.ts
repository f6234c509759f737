/**
 * Virtual time for backtests, tests and benchmarks: an RxJS VirtualTimeScheduler
 * whose frame counts epoch milliseconds from a chosen start, so `now()` is a real
 * instant and a year of ticks runs in milliseconds on `flush()`.
 *
 * `shiftWallClock` moves what `now()` reads without moving the timers, which is
 * what an NTP step or a suspended laptop does to a real process: tests use it to
 * check clock-jump handling.
 */
import { DateTime } from 'luxon';
import { VirtualAction, VirtualTimeScheduler } from 'rxjs';

export class EpochVirtualScheduler extends VirtualTimeScheduler {
  private wallOffsetMs = 0;

  constructor(start: DateTime | number) {
    super(VirtualAction, Infinity);
    this.frame = typeof start === 'number' ? start : start.toMillis();
    this.now = () => this.frame + this.wallOffsetMs;
  }

  /** Advance virtual time to `until` (epoch ms or DateTime), running every action due by then. */
  advanceTo(until: DateTime | number): void {
    const target = typeof until === 'number' ? until : until.toMillis();
    const saved = this.maxFrames;
    this.maxFrames = target;
    try {
      this.flush();
    } finally {
      this.maxFrames = saved;
    }
    if (this.frame < target) this.frame = target;
  }

  shiftWallClock(ms: number): void {
    this.wallOffsetMs += ms;
  }
}
