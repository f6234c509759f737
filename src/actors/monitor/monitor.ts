/**
 * The monitor of a running paper/live process: it watches the other parts and talks to
 * people (through `alert`, which the process sends to the alert channels, the feed, the
 * metrics and the log).
 *
 * - Heartbeats (src/domain/monitor/heartbeats.ts): the run clock beats on its own
 *   scheduler; every `intervalMs` of wall time the monitor observes the clock, the quote
 *   feed, the broker and the running sessions, raises an alert when a part stops being
 *   alive and an info alert (`<CODE>_RECOVERED`) when it is alive again. `heartbeats()`
 *   is what /health shows.
 * - Position sync: at start, when the broker connects again, every `syncEveryMs` and after
 *   each daily report, each signature's ledger is compared with the broker's positions and
 *   cash while nothing is in flight (no running session, the ledger idle); the broker wins:
 *   the ledger is corrected (`ledger.correction` in the journal) and a warning
 *   `POSITION_MISMATCH` lists every difference. Never silently absorbed.
 * - Daily report: at each trading day's close + `reportDelayMs` (run clock), per signature
 *   equity (marked at that instant, named in the report), PnL, orders, fills, fees and
 *   rejections by reason since the previous report; written to
 *   `<stateDir>/reports/<market>-<date>.json` and `.txt`, and sent as an info alert
 *   `DAILY_REPORT`. Once per market day: the report is committed to the store
 *   (`monitor/daily-report:<market>:<date>`) before it is sent, and a later `report(date)`
 *   (the end of a replayed day, then the scheduled one; a restart) returns the committed
 *   one, writes its files again as they were and sends nothing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import type { SchedulerLike, Subscription } from 'rxjs';
import type { Config } from '../../config/schema.js';
import { isOpenAt, isTradingDay, nextTradingDay, tradingDay } from '../../domain/calendar/index.js';
import { MARKET_RULES } from '../../domain/market-rules.js';
import { MARKETS } from '../../domain/markets.js';
import type { Message } from '../../domain/messages.js';
import type { Dec } from '../../domain/money.js';
import { dailyReport, dailyReportText, type DailyReport } from '../../domain/monitor/daily-report.js';
import { checkHeartbeats, type HeartbeatLimits, type HeartbeatState } from '../../domain/monitor/heartbeats.js';
import type { QuoteFeed } from '../../streams/quote-feed.js';
import { repeatOn } from '../../streams/repeat-on.js';
import type { Broker } from '../brokers/broker.js';
import type { Ledger } from '../ledger/ledger.js';
import type { EngineRuntime } from '../../runtime/engine-runtime.js';
import { openOrders } from '../../runtime/open-orders.js';
import type { Store } from '../store/store.js';

type Alert = Message<'monitor.alert'>;

export interface MonitorDeps {
  readonly config: Config;
  /** The wall clock: heartbeat checks and the clock-stall measure. */
  readonly wall: SchedulerLike;
  /** The run's clock (a replay's market time in a demo). */
  readonly run: SchedulerLike;
  /** Run-clock ms per wall ms. */
  readonly timeScale: number;
  readonly ledger: Ledger;
  readonly broker: Broker;
  readonly brokerConnected: () => boolean;
  readonly engine: EngineRuntime;
  readonly quotes: QuoteFeed;
  readonly store: Store;
  readonly stateDir: string;
  readonly priceOf: (symbol: string) => Dec | undefined;
  readonly alert: (alert: Alert) => void;
  readonly limits?: Partial<HeartbeatLimits>;
  readonly intervalMs?: number;
  readonly syncEveryMs?: number;
  readonly reportDelayMs?: number;
  /**
   * The comparison with the broker, when it is not per signature: one broker account shared by the
   * agents (src/runtime/live-account.ts). Run under the same conditions (nothing in flight); its
   * differences by book. Default: each signature's ledger against the broker's account of that
   * signature, the broker winning.
   */
  readonly compare?: (reason: string) => Promise<Record<string, string[]>>;
}

export interface Monitor {
  heartbeats(): readonly HeartbeatState[];
  /** Compare every signature with the broker now (broker wins); the differences by signature. */
  sync(reason: string): Promise<Record<string, string[]>>;
  /** The daily report of `date` (exchange-local), written and sent. */
  report(date: string): Promise<DailyReport>;
  /** Stop watching; resolves once a sync or report in flight has finished (the store may close then). */
  stop(): Promise<void>;
}

const REPORT_KEY = 'daily-report:last';
const reportKey = (market: string, date: string) => `daily-report:${market}:${date}`;

export function startMonitor(deps: MonitorDeps): Monitor {
  const { config, wall, run, ledger, engine } = deps;
  const market = config.market;
  const zone = MARKETS[market].zone;
  const sessionBudgetMs = config.agent_config.session_deadline_seconds * 1000 * deps.timeScale;
  const mc = config.monitor;
  const limits: HeartbeatLimits = {
    clockStallMs: mc.clock_stall_seconds * 1000,
    quoteSilenceMs: (mc.quote_silence_seconds ?? Math.max(config.data_source.stale_quote_seconds, 60)) * 1000,
    sessionStuckMs: mc.session_stuck_seconds !== undefined ? mc.session_stuck_seconds * 1000 * deps.timeScale : 2 * sessionBudgetMs + config.execution.limit_order_timeout_seconds * 1000,
    ...deps.limits,
  };
  const subs: Subscription[] = [];
  let stopped = false;
  const raise = (level: Alert['level'], code: string, message: string, signature?: string) =>
    deps.alert({ type: 'monitor.alert', level, code, message, ...(signature ? { signature } : {}), tsEvent: run.now() });

  // The run clock's own beat: if its scheduler stalls, the beats stop.
  let lastBeatWallMs: number | undefined = wall.now();
  const beatEvery = 1000 * deps.timeScale;
  subs.push(repeatOn(run, beatEvery, () => (lastBeatWallMs = wall.now())));

  /** Today's open (or the end of the lunch break, when after it), run clock ms. */
  const openedAt = (now: DateTime): number | undefined => {
    const day = tradingDay(market, now.toISODate()!);
    if (!day || now < day.open) return undefined;
    const resumed = day.breaks.filter((b) => b.end <= now).map((b) => b.end.toMillis());
    return Math.max(day.open.toMillis(), ...resumed);
  };

  // Heartbeat checks on the wall clock; alert on every change of a part's state.
  let states: HeartbeatState[] = [];
  let brokerWasConnected = deps.brokerConnected();
  const observe = () => {
    const running = Object.fromEntries(
      Object.entries(engine.actor.getSnapshot().context.running).map(([sig, s]) => [sig, { sessionId: s.sessionId, atMs: DateTime.fromISO(s.at).toMillis() }]),
    );
    const q = deps.quotes.health();
    const next = checkHeartbeats(
      {
        wallMs: wall.now(),
        runMs: run.now(),
        lastClockBeatWallMs: lastBeatWallMs,
        marketOpen: isOpenAt(market, DateTime.fromMillis(run.now(), { zone })),
        openedAtMs: openedAt(DateTime.fromMillis(run.now(), { zone })),
        lastQuoteMs: q.lastQuoteMs,
        quoteSourceDown:
          q.unavailableSinceMs === undefined
            ? undefined
            : { source: q.source, sinceMs: q.unavailableSinceMs, failures: q.consecutiveFailures ?? q.failures, lastError: q.lastError, nextPollMs: q.nextPollMs },
        brokerConnected: deps.brokerConnected(),
        running,
      },
      limits,
    );
    for (const s of next) {
      const before = states.find((p) => p.part === s.part);
      if (!s.ok && (before === undefined || before.ok)) raise(s.level, s.code, s.problem!);
      if (s.ok && before && !before.ok) raise('info', `${s.code}_RECOVERED`, `${s.part}: alive again`);
    }
    states = next;
    const connected = deps.brokerConnected();
    if (connected && !brokerWasConnected) void sync('the broker connected again');
    brokerWasConnected = connected;
  };
  const every = deps.intervalMs ?? mc.check_interval_seconds * 1000;
  subs.push(repeatOn(wall, every, observe));

  // Position sync.
  let syncing: Promise<Record<string, string[]>> | undefined;
  const sync = (reason: string): Promise<Record<string, string[]>> =>
    (syncing ??= (async () => {
      try {
        await ledger.idle();
        await engine.flush();
        // Not while anything is in flight: a session deciding, or an order whose answer from the
        // broker may still be on its way (submitting, cancelling, reconciling, and backing_off, whose
        // earlier submit may still land): its fill would be at the broker and not yet in the ledger.
        if (Object.keys(engine.actor.getSnapshot().context.running).length > 0) return {};
        const inFlight = openOrders(engine).some(({ state }) => state === 'submitting' || state === 'cancelling' || state === 'reconciling' || state === 'backing_off' || state === 'new');
        if (inFlight) return {};
        if (deps.compare) return await deps.compare(reason);
        const out: Record<string, string[]> = {};
        for (const m of config.models) {
          const [positions, balance] = await Promise.all([deps.broker.positions(m.signature), deps.broker.balance(m.signature)]);
          const theirs = Object.fromEntries(positions.filter((p) => p.quantity !== 0).map((p) => [p.symbol, p.quantity]));
          const diffs = await ledger.correctTo(m.signature, { cash: balance.cash, positions: theirs }, deps.priceOf, DateTime.fromMillis(run.now(), { zone }), reason);
          if (diffs.length > 0) {
            out[m.signature] = diffs;
            raise('warning', 'POSITION_MISMATCH', `${m.signature}: the ledger differed from the broker (${reason}); corrected to the broker: ${diffs.join('; ')}`, m.signature);
          }
        }
        return out;
      } catch (err) {
        raise('warning', 'POSITION_SYNC_FAILED', `position sync (${reason}) failed: ${err instanceof Error ? err.message : String(err)}`);
        return {};
      } finally {
        syncing = undefined;
      }
    })());
  void sync('start');
  const syncEvery = deps.syncEveryMs ?? mc.position_sync_minutes * 60_000;
  subs.push(repeatOn(wall, syncEvery, () => void sync('scheduled')));

  // Daily report at each close + delay, on the run clock.
  const reportDelayMs = deps.reportDelayMs ?? mc.daily_report_delay_minutes * 60_000;
  // One at a time, so a second request for a day finds the first one's report committed.
  let reporting: Promise<unknown> = Promise.resolve();
  const report = (date: string): Promise<DailyReport> => {
    const pending = reporting.then(() => writeReport(date), () => writeReport(date));
    reporting = pending.catch(() => undefined);
    return pending;
  };
  const writeFiles = async (r: DailyReport) => {
    const dir = join(deps.stateDir, 'reports');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${market}-${r.date}.json`), `${JSON.stringify(r, null, 2)}\n`);
    await writeFile(join(dir, `${market}-${r.date}.txt`), `${dailyReportText(r)}\n`);
  };
  const writeReport = async (date: string): Promise<DailyReport> => {
    const done = await deps.store.getRecord<DailyReport>('monitor', reportKey(market, date));
    if (done) {
      await writeFiles(done); // the day's one report, whatever overwrote its files since
      return done;
    }
    await ledger.idle();
    const previous = await deps.store.getRecord<DailyReport['totals']>('monitor', REPORT_KEY);
    const at = DateTime.fromMillis(run.now(), { zone }).toISO()!;
    const days = await Promise.all(
      config.models.map(async (m) => {
        const a = await ledger.getAccount(m.signature, at);
        const s = ledger.summary(m.signature);
        return { signature: m.signature, equity: a.equity, startOfDayEquity: a.startOfDayEquity, cash: a.cash, totals: { orders: s.orders, fills: s.fills, fees: s.fees, rejections: s.rejections } };
      }),
    );
    const r = dailyReport(market, date, MARKET_RULES[market].currency, days, previous, at);
    // Files first: a crash before the commit makes the next start write them again; once the
    // report is committed it is the day's, and only then is it sent.
    await writeFiles(r);
    await deps.store.stage({
      puts: [
        { sublevel: 'monitor', key: reportKey(market, date), value: r },
        { sublevel: 'monitor', key: REPORT_KEY, value: r.totals },
      ],
    });
    raise('info', 'DAILY_REPORT', dailyReportText(r));
    return r;
  };
  const scheduleReport = () => {
    const now = DateTime.fromMillis(run.now(), { zone });
    const today = now.toISODate()!;
    const day = isTradingDay(market, today) && tradingDay(market, today)!.close.plus({ milliseconds: reportDelayMs }) > now ? tradingDay(market, today)! : nextTradingDay(market, today);
    const due = day.close.plus({ milliseconds: reportDelayMs });
    subs.push(
      run.schedule(() => {
        if (stopped) return;
        void report(day.date).then(() => sync('after the daily report'), (err: unknown) =>
          raise('warning', 'DAILY_REPORT_FAILED', `daily report of ${day.date} failed: ${err instanceof Error ? err.message : String(err)}`),
        );
        scheduleReport();
      }, Math.max(0, due.toMillis() - run.now())),
    );
  };
  scheduleReport();

  return {
    heartbeats: () => states,
    sync,
    report,
    stop: async () => {
      stopped = true;
      for (const s of subs.splice(0)) s.unsubscribe();
      await Promise.allSettled([syncing, reporting]);
    },
  };
}
