/** What the clock stream tells the engine: ticks at trading instants, and notices about time itself. */
import type { DateTime } from 'luxon';
import { isOpenAt, nextOpen } from './calendar/index.js';
import type { Frequency, Market } from './markets.js';
import type { Message } from './messages.js';
import { isoInstant } from './schedule.js';

/** The longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days); beyond it, the timer fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A trading instant reached: the engine starts one session per enabled agent. */
export interface Tick {
  readonly type: 'TICK';
  readonly market: Market;
  readonly frequency: Frequency;
  /** The scheduled instant, in the exchange zone (not the moment the timer fired). */
  readonly at: DateTime;
  /** True when emitted after its instant within the catch-up window (restart or clock jump). */
  readonly late: boolean;
}

/** A trading instant that passed without a session: the process was down or the clock jumped past it. */
export interface TickMissed {
  readonly type: 'TICK_MISSED';
  readonly market: Market;
  readonly frequency: Frequency;
  readonly at: DateTime;
  readonly reason: 'process_down' | 'clock_jump';
}

/** The wall clock moved by more than the tolerance between two wake-ups (NTP step, suspend, manual change). */
export interface ClockJump {
  readonly type: 'CLOCK_JUMP';
  /** epoch ms we expected to wake at, and the wall clock when we did. */
  readonly expectedMs: number;
  readonly actualMs: number;
  /** actual - expected: positive = clock jumped forward (or the process was suspended). */
  readonly driftMs: number;
}

export type ClockEvent = Tick | TickMissed | ClockJump;

/** Whether an order sent at `at` trades at once, and when it next would (`at` itself when open). */
export type TradingHours = (market: Market, at: DateTime) => { readonly open: boolean; readonly nextOpen: DateTime };

/** The exchange calendar's hours: continuous trading sessions, the lunch break and the close excluded. */
export const calendarHours: TradingHours = (market, at) => {
  const open = isOpenAt(market, at);
  return { open, nextOpen: open ? at : nextOpen(market, at) };
};

/**
 * The engine's `clock.tick` message for a tick: `hours` (default the exchange calendar; the
 * venue's own when it has other hours) tells whether orders trade at that instant and when
 * they next would.
 */
export function tickMessage(tick: Tick, tsEvent: number, hours: TradingHours = calendarHours): Message<'clock.tick'> {
  const { open, nextOpen: next } = hours(tick.market, tick.at);
  return {
    type: 'clock.tick',
    market: tick.market,
    frequency: tick.frequency,
    at: isoInstant(tick.at),
    atMs: tick.at.toMillis(),
    marketOpen: open,
    nextOpenMs: (open ? tick.at : next).toMillis(),
    tsEvent,
  };
}
