/**
 * Market time of a replay, as an RxJS scheduler: `ReplayClock.now()` is the replayed market
 * time (epoch ms) and a delay given to `schedule` is in market milliseconds, divided by the
 * replay speed before it reaches the underlying (wall) scheduler. Plugged into the clock
 * stream (`ticks(spec, { scheduler: clock })`), the engine's sessions fire at the replayed
 * market's 10:05, 11:05, ... however fast the replay server runs.
 *
 * - Mapping: `now = anchorMarketMs + floor((wallNow - anchorWallMs) * speed)`. An anchor is a
 *   `MarketTimeReading` (`{ atMs, speed }`) taken at the underlying scheduler's now; the replay
 *   server announces one on connect and about every market minute (`replay_clock` events,
 *   `AlpacaQuoteStream.marketTime`), and `follow()` re-anchors on each, so the clock stays on
 *   the server's even if the two wall clocks run at slightly different rates.
 * - `now()` never goes backwards: a re-anchor that would move it back (the reading travelled a
 *   little) holds it until the mapping catches up, since a scheduler whose time goes backwards
 *   confuses every consumer.
 * - A held reading (the server waits for its first subscriber) stands the clock still until
 *   the next reading.
 * - `endAt(ms)` (the end of the replayed day): `now()` never passes it. Once the replay is over
 *   the wall keeps running, and without the cap a stop grace of 30 wall seconds at 390x would
 *   stamp fills, journal entries and reports 3 market hours later, past midnight into a day the
 *   replay never had (T+1 and the daily-loss day change with it). Work scheduled for later
 *   still runs after its wall delay (deadlines fire), reading the capped time.
 * - Wall delays are rounded up to whole milliseconds (the real timer's resolution), so work runs
 *   at or just after its market instant, never before, and virtual time always moves forward.
 *   Work scheduled before a re-anchor keeps its wall delay; the clock stream re-reads `now()`
 *   on every wake-up and waits again if needed.
 *
 * Also the wire format of the announcement, shared by the server and the client.
 */
import { MAX_TIMER_MS } from '../domain/clock-events.js';
import { Subscription, asyncScheduler, type Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';

/** The `T` of the replay server's clock announcement. A real Alpaca client ignores it. */
export const REPLAY_CLOCK_EVENT = 'replay_clock';

/** Of the replayed trading day: before the open, trading (lunch breaks included), after the last bar. */
export type ReplayState = 'pre' | 'open' | 'closed';
export const REPLAY_STATES: readonly ReplayState[] = ['pre', 'open', 'closed'];

/** `{"T":"replay_clock","t":"2025-11-07T09:25:00.000-05:00","speed":60,"day":"2025-11-07","state":"pre"}` */
export interface ReplayClockEvent {
  readonly T: typeof REPLAY_CLOCK_EVENT;
  /** Market time when sent, RFC-3339 with the exchange's offset. */
  readonly t: string;
  /** Market milliseconds per wall millisecond. */
  readonly speed: number;
  /** The replayed trading day, YYYY-MM-DD in the exchange's zone. */
  readonly day: string;
  readonly state: ReplayState;
  /** Present (true) while the server holds its clock until a client subscribes. */
  readonly held?: true;
}

/** One reading of the replayed market time. */
export interface MarketTimeReading {
  /** Market time, epoch ms, when the reading was taken. */
  readonly atMs: number;
  /** Market ms per wall ms (1 = real time). */
  readonly speed: number;
  readonly day?: string;
  readonly state?: ReplayState;
  /** Market time stands still (the server waits for a subscriber). */
  readonly held?: boolean;
}

type Work<T> = (this: SchedulerAction<T>, state?: T) => void;


/** One scheduled piece of work; rescheduling from inside the work is in market time too. */
class ReplayAction<T> extends Subscription implements SchedulerAction<T> {
  readonly #clock: ReplayClock;
  readonly #underlying: SchedulerLike;
  readonly #work: Work<T>;
  #pending: Subscription | undefined;

  constructor(clock: ReplayClock, underlying: SchedulerLike, work: Work<T>) {
    super();
    this.#clock = clock;
    this.#underlying = underlying;
    this.#work = work;
    this.add(() => this.#pending?.unsubscribe());
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.#pending?.unsubscribe();
    this.#pending = undefined;
    let ran = false;
    const wall = this.#clock.wallDelay(delay);
    // A Node timer holds at most MAX_TIMER_MS (beyond, it fires after 1 ms): a longer wait (a
    // slow replay) goes in steps, each one asking again for the market time still to wait.
    const stepped = wall > MAX_TIMER_MS;
    const dueMs = this.#clock.now() + delay;
    const inner = this.#underlying.schedule(() => {
      ran = true;
      this.#pending = undefined;
      if (this.closed) return;
      if (stepped) this.schedule(state, Math.max(0, dueMs - this.#clock.now()));
      else this.#work.call(this, state);
    }, Math.min(wall, MAX_TIMER_MS));
    // A synchronous underlying scheduler has already run the work (which may have rescheduled).
    if (!ran) this.#pending = inner;
    return this;
  }
}

export class ReplayClock implements SchedulerLike {
  readonly #underlying: SchedulerLike;
  #anchorWallMs = 0;
  #anchorMarketMs = 0;
  #speed = 1;
  #held = false;
  #lastMs = -Infinity;
  #endMs = Infinity;

  /** A clock reading `reading.atMs` now (the underlying scheduler's now) and running at its speed. */
  constructor(reading: MarketTimeReading, underlying: SchedulerLike = asyncScheduler) {
    this.#underlying = underlying;
    this.anchor(reading);
  }

  /**
   * The clock of a replay feed: resolves at the first reading of `readings` (e.g.
   * `AlpacaQuoteStream.marketTime`) and re-anchors on every later one until it completes.
   * Rejects when `readings` errors or completes before giving any.
   */
  static follow(readings: Observable<MarketTimeReading>, underlying: SchedulerLike = asyncScheduler): Promise<ReplayClock> {
    return new Promise<ReplayClock>((resolve, reject) => {
      let clock: ReplayClock | undefined;
      readings.subscribe({
        next: (r) => {
          if (clock) clock.anchor(r);
          else resolve((clock = new ReplayClock(r, underlying)));
        },
        error: (err: unknown) => {
          if (!clock) reject(err instanceof Error ? err : new Error(String(err)));
        },
        complete: () => {
          if (!clock) reject(new Error('the market time stream ended before announcing the replay clock'));
        },
      });
    });
  }

  get speed(): number {
    return this.#speed;
  }

  get held(): boolean {
    return this.#held;
  }

  /** Replayed market time, epoch ms; never decreases. */
  now(): number {
    const mapped = Math.min(this.#endMs, this.#held ? this.#anchorMarketMs : this.#anchorMarketMs + Math.floor((this.#underlying.now() - this.#anchorWallMs) * this.#speed));
    if (mapped > this.#lastMs) this.#lastMs = mapped;
    return this.#lastMs;
  }

  /** Market time stops at `ms` (epoch): the end of the replayed day. */
  endAt(ms: number): void {
    this.#endMs = ms;
  }

  /** Market time is `reading.atMs` now; from here on it runs at `reading.speed` (or stands, if held). */
  anchor(reading: MarketTimeReading): void {
    if (!(Number.isFinite(reading.speed) && reading.speed > 0)) throw new RangeError(`replay speed must be a positive number, got ${reading.speed}`);
    if (!Number.isFinite(reading.atMs)) throw new RangeError(`replay market time must be finite, got ${reading.atMs}`);
    this.#anchorWallMs = this.#underlying.now();
    this.#anchorMarketMs = reading.atMs;
    this.#speed = reading.speed;
    this.#held = reading.held === true;
  }

  /** Re-anchor on each reading until unsubscribed (or `readings` ends). */
  follow(readings: Observable<MarketTimeReading>): Subscription {
    return readings.subscribe({ next: (r) => this.anchor(r), error: () => undefined });
  }

  /** Wall milliseconds (whole, rounded up) for a market delay. */
  wallDelay(marketDelayMs: number): number {
    return marketDelayMs > 0 ? Math.ceil(marketDelayMs / this.#speed) : 0;
  }

  schedule<T>(work: Work<T>, delay = 0, state?: T): Subscription {
    return new ReplayAction<T>(this, this.#underlying, work).schedule(state, delay);
  }
}
