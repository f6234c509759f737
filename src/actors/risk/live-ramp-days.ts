/**
 * Where the live ramp counts from: each signature's first live trading day, one record in the
 * store (sublevel `live-ramp`, key `<account>/<signature>`, account `paper` or `real`), written
 * through the group commit at the signature's first risk check in live mode and never changed.
 *
 * Why a record and not the ledger's first live session: the ledger does not know which of its
 * sessions were live (a state_dir may have run paper on the simulated venue first, or Alpaca's
 * paper account before real money: the real-money ramp must start again at `start_cap`), and
 * its session history is not a thing risk should scan. One small key, written once, says it.
 * A restart reads it back, so the cap keeps growing from the same day.
 */
import type { Config } from '../../config/schema.js';
import { accountKind } from '../../config/live-gate.js';
import type { LiveRamp } from '../../domain/risk/live-ramp.js';
import type { Store } from '../store/store.js';
import type { RiskActorDeps } from './risk.actor.js';

export const LIVE_RAMP_SUBLEVEL = 'live-ramp';

export interface LiveRampDayRecord {
  readonly account: 'paper' | 'real';
  readonly signature: string;
  /** Exchange-local YYYY-MM-DD. */
  readonly firstDay: string;
}

export interface LiveRampDays {
  /** The recorded first day of `signature`, or `day`, recorded (durable once this resolves). */
  firstDay(signature: string, day: string): Promise<string>;
  /** What is recorded now, by signature. */
  readonly recorded: ReadonlyMap<string, string>;
}

/** The first live days of `account` kept in `store`, read once now. */
export async function storeLiveRampDays(store: Store, account: 'paper' | 'real'): Promise<LiveRampDays> {
  const days = new Map<string, string>();
  for await (const { value } of store.listRecords<LiveRampDayRecord>(LIVE_RAMP_SUBLEVEL, { prefix: `${account}/` })) days.set(value.signature, value.firstDay);
  return {
    recorded: days,
    async firstDay(signature, day) {
      const known = days.get(signature);
      if (known !== undefined) return known;
      const record: LiveRampDayRecord = { account, signature, firstDay: day };
      await store.putRecord(LIVE_RAMP_SUBLEVEL, `${account}/${signature}`, record);
      // Risk checks run one at a time, so no second check of this signature is waiting here.
      days.set(signature, day);
      return day;
    },
  };
}

/**
 * The risk actor's `liveRamp` for a config: live on a broker's account (paper or real money) with
 * `risk_control.live_ramp` set; undefined otherwise (backtest, paper on the simulated venue, or
 * no ramp configured, which real money never is: the config refuses it).
 */
export async function liveRampDeps(config: Pick<Config, 'mode' | 'broker' | 'risk_control'>, store: Store): Promise<RiskActorDeps['liveRamp']> {
  const kind = accountKind(config);
  const ramp: LiveRamp | undefined = config.risk_control.live_ramp;
  if (kind === 'simulated' || ramp === undefined) return undefined;
  const days = await storeLiveRampDays(store, kind);
  return { ramp, firstDay: (signature, day) => days.firstDay(signature, day) };
}
