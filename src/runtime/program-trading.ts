/**
 * The account's program-trading tally (src/domain/risk/program-trading.ts) in a running process:
 * loaded from the store, counted at the broker edge (every submit and cancel, in the step that
 * asks it, so the count is committed with it and a restart keeps the day's total), read by risk
 * before every order, and the alerts it calls for sent once a day each, after the commit.
 *
 * On by default for A-shares in paper and live mode (`risk_control.program_trading.enabled`
 * turns it on for US stocks, or off); never in a backtest, whose clock is not the exchange's.
 */
import type { SchedulerLike } from 'rxjs';
import type { Store } from '../actors/store/store.js';
import type { Config } from '../config/schema.js';
import { localDate } from '../domain/local-date.js';
import { MARKETS } from '../domain/markets.js';
import type { Message } from '../domain/messages.js';
import { ActionTallySchema, crossings, emptyTally, record, rollTo, type Action, type ActionTally, type ProgramTradingCaps } from '../domain/risk/program-trading.js';

export const PROGRAM_TRADING_KEY = 'program-trading';

type Alert = Message<'monitor.alert'>;

export function programTradingOn(config: Pick<Config, 'mode' | 'market' | 'risk_control'>): boolean {
  if (config.mode === 'backtest') return false;
  return config.risk_control.program_trading.enabled ?? config.market === 'cn';
}

export const capsOf = (config: Pick<Config, 'risk_control'>): ProgramTradingCaps => ({
  maxPerSecond: config.risk_control.program_trading.max_actions_per_second,
  maxPerDay: config.risk_control.program_trading.max_actions_per_day,
});

export interface ProgramTrading {
  /** One more order or cancel asked of the broker now. */
  record(action: Action): void;
  /** What risk reads: the tally, the caps, the wall clock's now and its exchange day. */
  view(): { tally: ActionTally; caps: ProgramTradingCaps; wallMs: number; day: string };
  close(): void;
}

export interface ProgramTradingDeps {
  readonly config: Config;
  readonly store: Store;
  /** The wall clock: the exchange counts real seconds. */
  readonly wall: SchedulerLike;
  readonly alert: (alert: Alert) => void;
}

/** The account's tally, or undefined when the rules are off for this config. */
export async function programTrading(d: ProgramTradingDeps): Promise<ProgramTrading | undefined> {
  if (!programTradingOn(d.config)) return undefined;
  const zone = MARKETS[d.config.market].zone;
  const caps = capsOf(d.config);
  const dayOf = (ms: number) => localDate(ms, zone);
  const saved = await d.store.loadSnapshot(PROGRAM_TRADING_KEY);
  let tally = saved === undefined ? emptyTally(dayOf(d.wall.now())) : ActionTallySchema.parse(saved);
  let dirty = false;
  const leave = d.store.participate({
    name: 'program-trading',
    collect: () => {
      if (!dirty) return undefined;
      dirty = false;
      return { snapshots: { [PROGRAM_TRADING_KEY]: tally } };
    },
  });
  return {
    record(action) {
      const now = d.wall.now();
      tally = record(tally, action, now, dayOf(now));
      for (const c of crossings(tally, caps)) {
        tally = { ...tally, alerted: [...tally.alerted, c.key] };
        d.store.afterCommit(() => d.alert({ type: 'monitor.alert', level: 'warning', code: c.code, message: c.message, tsEvent: now }));
      }
      dirty = true;
      d.store.touch();
    },
    view() {
      const now = d.wall.now();
      const day = dayOf(now);
      return { tally: rollTo(tally, day), caps, wallMs: now, day };
    },
    close: leave,
  };
}
