/**
 * China's program-trading rules (the SSE and SZSE implementing rules in force since 2025-07-07):
 * an account that trades by program reports to its broker first, and one at 300 or more orders +
 * cancels in a second, or 20,000 or more in a day, is treated as high-frequency (more reporting,
 * higher fees, closer watch). We count, per broker account (every agent on it together), each order
 * sent and each cancel asked at the broker edge, on the wall clock (the exchange counts real
 * seconds; a replay's compressed market time does not), and risk refuses a new order that would
 * pass the configured caps, which are kept below the thresholds (`ORDER_RATE_LIMIT`). Cancels are
 * counted, never refused (they reduce risk).
 *
 * Pure: the tally is data; the runtime (src/runtime/program-trading.ts) commits it with the step
 * that sent the action and raises the alerts `crossings` names.
 */
import { z } from 'zod';

/** The exchanges' thresholds: at or above either, an account is high-frequency. */
export const HFT_THRESHOLDS = { perSecond: 300, perDay: 20_000, since: '2025-07-07' } as const;

/** The shares of the daily cap at which an alert goes out (once a day each). */
export const ALERT_AT = [0.5, 0.8] as const;

/** Cancels / orders above this (with at least `CANCEL_RATIO_MIN_ORDERS` orders) is watched: an alert once a day. */
export const CANCEL_RATIO_WATCH = 0.5;
export const CANCEL_RATIO_MIN_ORDERS = 20;

const count = z.number().int().min(0);

const DayTallySchema = z.object({
  orders: count,
  cancels: count,
  /** The most actions in any one second of the day. */
  maxPerSecond: count,
});
export type DayTally = z.infer<typeof DayTallySchema>;

export const ActionTallySchema = z.object({
  /** The exchange day counted now (YYYY-MM-DD). */
  day: z.string(),
  today: DayTallySchema,
  /** Wall-clock ms of the actions in the last second. */
  lastSecond: z.array(z.number()),
  /** Earlier days (kept for the compliance report), by date. */
  days: z.record(z.string(), DayTallySchema),
  /** Alerts already sent today (`daily:0.5`, `cancel-ratio`, ...). */
  alerted: z.array(z.string()),
});
export type ActionTally = z.infer<typeof ActionTallySchema>;

export type Action = 'order' | 'cancel';

export interface ProgramTradingCaps {
  readonly maxPerSecond: number;
  readonly maxPerDay: number;
}

const SECOND_MS = 1000;
/** Days kept in the tally (a year of trading days is about 250). */
const KEEP_DAYS = 400;

export const emptyTally = (day: string): ActionTally => ({ day, today: { orders: 0, cancels: 0, maxPerSecond: 0 }, lastSecond: [], days: {}, alerted: [] });

/** The tally as of `day`: a new day moves today's counts to `days` and starts from zero. */
export function rollTo(tally: ActionTally, day: string): ActionTally {
  if (tally.day === day) return tally;
  const days = { ...tally.days, [tally.day]: tally.today };
  const kept = Object.keys(days).sort().slice(-KEEP_DAYS);
  return { ...emptyTally(day), days: Object.fromEntries(kept.map((d) => [d, days[d]!])) };
}

/** Actions in the second before `nowMs` (inclusive of now). */
export function inLastSecond(tally: ActionTally, nowMs: number): number {
  return tally.lastSecond.filter((t) => t > nowMs - SECOND_MS).length;
}

/** The tally after one more action at `atMs` on exchange day `day`. */
export function record(tally: ActionTally, action: Action, atMs: number, day: string): ActionTally {
  const t = rollTo(tally, day);
  const lastSecond = [...t.lastSecond.filter((x) => x > atMs - SECOND_MS), atMs];
  const today = {
    orders: t.today.orders + (action === 'order' ? 1 : 0),
    cancels: t.today.cancels + (action === 'cancel' ? 1 : 0),
    maxPerSecond: Math.max(t.today.maxPerSecond, lastSecond.length),
  };
  return { ...t, today, lastSecond };
}

export const actionsToday = (t: ActionTally): number => t.today.orders + t.today.cancels;

/** Why one more order now would pass a cap (undefined: it would not). */
export function capExceeded(tally: ActionTally, caps: ProgramTradingCaps, nowMs: number, day: string): { value: string; limit: string; message: string } | undefined {
  const t = rollTo(tally, day);
  const second = inLastSecond(t, nowMs) + 1;
  if (second > caps.maxPerSecond) {
    return { value: `${second}/s`, limit: `${caps.maxPerSecond}/s`, message: `this would be the account's action ${second} in one second (orders + cancels of every agent on it), cap ${caps.maxPerSecond}/s (the exchanges' high-frequency line is ${HFT_THRESHOLDS.perSecond}/s)` };
  }
  const daily = actionsToday(t) + 1;
  if (daily > caps.maxPerDay) {
    return { value: `${daily}/day`, limit: `${caps.maxPerDay}/day`, message: `this would be the account's action ${daily} today (orders + cancels of every agent on it), cap ${caps.maxPerDay}/day (the exchanges' high-frequency line is ${HFT_THRESHOLDS.perDay}/day)` };
  }
  return undefined;
}

export interface Crossing {
  readonly key: string;
  readonly code: 'PROGRAM_TRADING_RATE' | 'CANCEL_RATIO_HIGH';
  readonly message: string;
}

/** Alerts `tally` calls for that it has not had today (add their keys to `alerted` once sent). */
export function crossings(tally: ActionTally, caps: ProgramTradingCaps): Crossing[] {
  const out: Crossing[] = [];
  const n = actionsToday(tally);
  for (const share of ALERT_AT) {
    const key = `daily:${share}`;
    if (n >= Math.ceil(caps.maxPerDay * share) && !tally.alerted.includes(key)) {
      out.push({ key, code: 'PROGRAM_TRADING_RATE', message: `the account has sent ${n} orders + cancels today (${tally.today.orders} orders, ${tally.today.cancels} cancels), ${Math.round(share * 100)}% of its cap of ${caps.maxPerDay}/day; new orders are refused at the cap (ORDER_RATE_LIMIT)` });
    }
  }
  const { orders, cancels } = tally.today;
  if (orders >= CANCEL_RATIO_MIN_ORDERS && cancels / orders > CANCEL_RATIO_WATCH && !tally.alerted.includes('cancel-ratio')) {
    out.push({ key: 'cancel-ratio', code: 'CANCEL_RATIO_HIGH', message: `${cancels} cancels for ${orders} orders today (ratio ${(cancels / orders).toFixed(2)}): exchanges watch accounts that cancel much of what they send` });
  }
  return out;
}
