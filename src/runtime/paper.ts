/**
 * Paper trading: the same engine, machines and actors as the backtest, on a clock that
 * runs by itself (the wall clock, or the replayed market time of a replay server in a
 * demo), with live quotes in front of the historical bars, the simulated broker filling
 * at the live price under the backtest's rules, risk and stop-loss on every quote.
 *
 * State lives under `<outDir>/state` (LevelDB) with `<outDir>/<signature>/position.jsonl`,
 * as in a backtest; a run started again on the same directory restores the engine (open
 * sessions and orders resume), the venue, the risk decisions and the stop-loss records.
 *
 * `stop()` is the Ctrl-C path: no new tick is taken, sessions in flight get
 * `stopGraceMs` (wall clock) to finish; what is still running then stays in the
 * snapshot and resumes at the next start (never half-done: every step re-asks its request
 * idempotently). Open orders keep their state at the venue and in the engine; the venue,
 * the watcher and the engine are saved, then the store is closed.
 */
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { asyncScheduler, auditTime, catchError, EMPTY, filter, share, Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { Config } from '../config/schema.js';
import { scheduleSpecOf } from '../config/schedule-spec.js';
import { instantsAfter } from '../domain/schedule.js';
import { tickMessage } from '../domain/clock-events.js';
import type { FeedEvent } from '../domain/feed.js';
import { MARKETS } from '../domain/markets.js';
import { viewAt, type PointInTimeView } from '../domain/point-in-time.js';
import type { PriceStore } from '../domain/price-store.js';
import type { BenchmarkSeries, Report } from '../report/index.js';
import type { DashboardState } from '../domain/dashboard-state.js';
import type { HealthReport } from '../domain/health.js';
import type { QuoteFeed } from '../streams/quote-feed.js';
import { agentActor } from '../actors/agents/agent-actor.js';
import type { LlmWiring } from '../actors/agents/llm/index.js';
import type { WallTimers } from '../actors/agents/llm/timers.js';
import { levelTranscripts } from '../actors/agents/llm/transcript.js';
import { explainOrder, type Explanation } from '../actors/agents/llm/explain.js';
import { labelledBarAt } from '../actors/brokers/simulated-broker.js';
import { deadlineClock } from '../actors/clock/deadline-clock.actor.js';
import { Ledger } from '../actors/ledger/ledger.js';
import { ledgerActor } from '../actors/ledger/ledger-actor.js';
import { livePrices } from '../actors/market-data/live-prices.js';
import { marketDataActor } from '../actors/market-data/market-data-actor.js';
import { alertCollector, type Alert } from '../actors/monitor/alert-collector.actor.js';
import { startMonitor, type Monitor, type MonitorDeps } from '../actors/monitor/monitor.js';
import type { LlmObserver } from '../actors/monitor/metrics.js';
import { haltsSignature, type KillSwitch } from '../actors/risk/kill-switch.js';
import { protection } from '../actors/risk/protection.js';
import { openStore } from '../actors/store/store.js';
import { buildDeciders, engineInput, loadReplayLogs, restoreLedger, simulatedVenue, WATCHER_KEY } from './assemble.js';
import { joinVenue, joinWatcher, reconcile } from './commit.js';
import { armFailpoint, failpointFromEnv } from './failpoint.js';
import { startEngine, type EngineRuntime } from './engine-runtime.js';
import { feedInspector } from './feed-events.js';
import { dashboardState, healthReport, RunTracker } from './paper-views.js';
import { PriceTrail } from './price-trail.js';
import { dashboardWriter, writeDashboardFile } from './dashboard-file.js';
import { tradingActors } from './trading-actors.js';
import { liveBroker, startLive, tradesBrokerAccount } from './live-broker.js';
import { liveAccount } from './live-account.js';
import { programTrading } from './program-trading.js';
import { liveRampDeps } from '../actors/risk/live-ramp-days.js';
import { writePaperReport } from './paper-report.js';
import { runSchedule } from './paper-schedule.js';
import { createControl, type Control } from './control.js';
import { PausedAgents } from '../actors/control/paused-agents.js';
import type { Decider } from '../actors/agents/agent.js';
import type { RiskAnswer } from '../actors/risk/risk.actor.js';
import type { Message } from '../domain/messages.js';

export interface PaperOptions {
  readonly config: Config;
  /** The run's directory: `<outDir>/state` (LevelDB), `<outDir>/<signature>/position.jsonl`. */
  readonly outDir: string;
  /** The run's clock: the wall clock (asyncScheduler) or a ReplayClock following a replay server. */
  readonly scheduler: SchedulerLike;
  /** The wall clock (heartbeat checks, position sync); default asyncScheduler. Tests pass a virtual one. */
  readonly wall?: SchedulerLike;
  /** Monitor timings (tests shorten them). */
  readonly monitor?: Pick<MonitorDeps, 'intervalMs' | 'syncEveryMs' | 'reportDelayMs' | 'limits'>;
  readonly quotes: QuoteFeed;
  /** Historical bars (history tools, previous closes, the venue's liquidity cap). */
  readonly history?: PriceStore;
  /** Symbols traded (default: those of `history`). */
  readonly universe?: readonly string[];
  readonly killSwitch: Pick<KillSwitch, 'state' | 'watch'> & Partial<Pick<KillSwitch, 'activate' | 'reset'>>;
  /** Paused agents (control API); default `<outDir>/paused.json`. The process keeps it next to the kill switch. */
  readonly paused?: PausedAgents;
  /** Read the config file again (the control API's reload); absent: reload is refused. */
  readonly reloadConfig?: () => Promise<Config>;
  /** The process-level part of an accepted reload (alert channels), applied at once. */
  readonly onReload?: (config: Config) => void | Promise<void>;
  /** Take no tick after this instant (a demo's replayed day); default: run until stopped. */
  readonly until?: DateTime;
  readonly benchmark?: BenchmarkSeries;
  readonly onAlert?: (alert: Alert) => void;
  /** Each tick, with the agents skipped because they are paused. */
  readonly onTick?: (at: DateTime, paused: readonly string[]) => void;
  readonly llmTimers?: WallTimers;
  /** Metrics of every LLM call. */
  readonly llmObserver?: LlmObserver;
  readonly env?: NodeJS.ProcessEnv;
  /** The run's clock runs this many times faster than the wall (a replay's speed): session budgets stretch by it. */
  readonly timeScale?: number;
  /** How long `stop()` lets running sessions finish, wall clock; default 30 s. */
  readonly stopGraceMs?: number;
}

export interface PaperRun {
  /** Everything worth watching, as feed events (ticks, sessions, decisions, orders, fills, alerts, kill). */
  readonly events: Observable<FeedEvent>;
  readonly ledger: Ledger;
  readonly runtime: EngineRuntime;
  readonly monitor: Monitor;
  /** Steering: status, pause/resume, flatten, reload, kill (the control API, the CLI, Telegram). */
  readonly control: Control;
  /** Why an order exists (the LLM step behind it), from this run's store. */
  explain(clientOrderId: string): Promise<Explanation>;
  health(): HealthReport;
  state(): Promise<DashboardState>;
  /** Resolves when the clock has passed `until` and every session has finished (never without `until`). */
  readonly finished: Promise<void>;
  /** The report of the run so far (report.json / report.html under outDir). */
  writeReport(generatedAt: DateTime): Promise<{ report: Report; files: { json: string; html: string } }>;
  /** Graceful stop (Ctrl-C): see the module comment. Idempotent. */
  stop(): Promise<void>;
}


export async function startPaper(options: PaperOptions): Promise<PaperRun> {
  const { config, outDir, scheduler, quotes } = options;
  const { market } = config;
  const zone = MARKETS[market].zone;
  const nowMs = () => scheduler.now();
  const now = () => DateTime.fromMillis(scheduler.now(), { zone });
  const universeSymbols = options.universe ?? options.history?.symbols() ?? [];
  const prices = livePrices({ market, ...(options.history ? { history: options.history } : {}), universe: universeSymbols, last: (s) => quotes.last(s) });
  // The agents see the universe only (data_source.symbols), and risk refuses the rest (SYMBOL_NOT_TRADED):
  // nothing else is streamed, so its price would be a bar's open from the file, not a live one.
  const view = (at: DateTime): PointInTimeView => viewAt(prices, at, (symbol) => labelledBarAt(prices, symbol, at), universeSymbols);
  const events = new Subject<FeedEvent>();

  const logs = await loadReplayLogs(config);
  const store = await openStore(join(outDir, 'state'));
  let storeClosed = false;
  // The feed hears of a step only once it is committed: a fill published is a fill saved.
  const emit = (e: FeedEvent) => store.afterCommit(() => events.next(e));
  const subs: Subscription[] = [];
  /** Undone when the start fails half-way (the monitor's timers, the kill switch watcher). */
  const cleanups: (() => void)[] = [];
  let runtime: EngineRuntime | undefined;
  try {
    const llm: LlmWiring = {
      transcripts: levelTranscripts(store),
      ...(options.llmTimers ? { timers: options.llmTimers } : {}),
      ...(options.llmObserver ? { observer: options.llmObserver } : {}),
      ...(options.env ? { env: options.env } : {}),
    };
    const deciders: Record<string, Decider> = await buildDeciders(config, logs, llm);
    const wall = options.wall ?? asyncScheduler;
    // Live on a broker's account (live-broker.ts), else the simulated venue at the live prices.
    const live = tradesBrokerAccount(config)
      ? liveBroker({
          config,
          env: options.env ?? process.env,
          wall,
          alert: (a) => raise(a),
          price: (symbol) => prices.priceAsOf(symbol, now())?.price.toFixed(),
          prevClose: (symbol) => prices.previousClose(symbol, now())?.price.toFixed(),
        })
      : undefined;
    if (live) cleanups.push(() => live.close());
    const venue = live ? undefined : await simulatedVenue(config, prices, now, store);
    const broker = live?.broker ?? venue!;
    const killSwitch = live ? live.killSwitch(options.killSwitch) : options.killSwitch;
    const ledger = await restoreLedger(config, store, outDir, view, universeSymbols, logs);

    const alerts: Alert[] = [];
    const onAlert = (a: Alert) => {
      if (alerts.length > 1000) alerts.shift();
      alerts.push(a);
      options.onAlert?.(a);
    };
    const halted = (signature: string) => {
      return haltsSignature(killSwitch.state(), signature);
    };
    let engineRef: EngineRuntime | undefined;
    /** Alerts raised outside the engine (stop-loss, monitor): the same path, plus the feed. */
    const raise = (a: Alert) => {
      onAlert(a);
      emit({ type: 'alert', time: now().toISO()!, ...(a.signature ? { signature: a.signature } : {}), payload: { level: a.level, code: a.code, message: a.message } });
    };
    const guard = protection({
      config,
      ledger,
      now: nowMs,
      send: (m) => engineRef?.send(m),
      alert: raise,
      prevClose: (symbol) => prices.previousClose(symbol, now())?.price,
      halted,
    });
    const watched = await store.loadSnapshot<ReturnType<typeof guard.watcher.snapshot>>(WATCHER_KEY);
    if (watched) guard.watcher.restore(watched);
    // The venue and the watcher are in every commit from the start (a fill made while
    // resuming included); a restart first makes the ledger agree with what is committed.
    if (venue) cleanups.push(joinVenue(store, venue));
    cleanups.push(joinWatcher(store, guard.watcher));
    const restarted = (await store.loadSnapshot('engine')) !== undefined;
    if (restarted) {
      const r = await reconcile(store, ledger, venue, raise, nowMs());
      if (r.replayed + r.fromBroker + r.unknownToBroker > 0) {
        raise({ type: 'monitor.alert', level: 'info', code: 'RECONCILED', message: `restart: ${r.replayed} committed fill(s) re-applied to the ledger, ${r.fromBroker} taken from the broker, ${r.unknownToBroker} unknown to the broker`, tsEvent: nowMs() });
      }
    }

    // Session outcomes and orders for /health and the dashboard, from the feed itself.
    const tracker = new RunTracker();
    const trail = new PriceTrail(zone);
    let lastTick: DateTime | undefined;
    subs.push(events.subscribe((e) => tracker.observe(e)));

    let riskCheck: ((m: Message<'risk.check'>) => Promise<RiskAnswer>) | undefined;
    const paused = options.paused ?? new PausedAgents(outDir);
    const control = createControl({
      config,
      store,
      ledger,
      engine: () => engineRef,
      prices,
      now,
      paused,
      killSwitch: {
        state: () => killSwitch.state(),
        ...(options.killSwitch.activate ? { activate: options.killSwitch.activate.bind(options.killSwitch) } : {}),
        ...(options.killSwitch.reset ? { reset: options.killSwitch.reset.bind(options.killSwitch) } : {}),
      },
      nextSession: () => (stopped ? undefined : nextSession()),
      orders: () => tracker.orders(),
      risk: () => riskCheck,
      ...(venue ? { hours: venue.hours } : {}),
      ...(options.reloadConfig ? { loadConfig: options.reloadConfig } : {}),
      // A changed agent gets a new decider, built now (a bad module path refuses the reload), used from its next session.
      buildDeciders: async (next, sigs) => {
        const all = await buildDeciders({ ...next, models: next.models.filter((m) => sigs.includes(m.signature)) }, await loadReplayLogs(next), llm);
        return all;
      },
      deciders,
      ...(options.onReload ? { onReload: options.onReload } : {}),
    });

    const toFeed = feedInspector(now, emit);
    const failpoint = armFailpoint(store, failpointFromEnv(options.env ?? process.env));
    // China's program-trading caps on the account's orders + cancels (A-shares by default).
    const rates = await programTrading({ config, store, wall, alert: raise });
    if (rates) cleanups.push(() => rates.close());
    const trading = await tradingActors({
      mode: config.mode === 'live' ? 'live' : 'paper',
      config,
      store,
      ledger,
      prices,
      broker: live?.trading ?? broker,
      now,
      killSwitch,
      onProtectiveResult: (result) => guard.onResult(result),
      engine: () => engineRef,
      universe: universeSymbols,
      ...(live ? { liveRamp: await liveRampDeps(config, store), buyingPower: () => live.broker.buyingPower() } : {}),
      ...(rates ? { programTrading: rates } : {}),
      riskLimits: () => control.riskLimits(),
      exposeRisk: (ask) => (riskCheck = ask),
    });
    runtime = await startEngine({
      store,
      input: engineInput(config, options.timeScale ?? 1),
      now: nowMs,
      actors: {
        clock: deadlineClock(scheduler),
        marketData: marketDataActor(view, nowMs),
        ledger: ledgerActor(ledger, nowMs),
        agent: agentActor(deciders, view, nowMs),
        ...trading,
        monitor: alertCollector(alerts, onAlert),
      },
      inspect: failpoint
        ? (e) => {
            failpoint(e);
            toFeed(e);
          }
        : toFeed,
    });
    const engine = runtime;
    engineRef = runtime;
    const account = live ? await liveAccount({ broker: live.broker, ledger, store, engine: () => engine, signatures: config.models.map((m) => m.signature), zone, now: nowMs, alert: raise }) : undefined;
    let reconciled = !live;

    const monitor = startMonitor({
      config,
      wall: options.wall ?? asyncScheduler,
      run: scheduler,
      timeScale: options.timeScale ?? 1,
      ledger,
      broker,
      brokerConnected: live ? () => live.connected() : () => true,
      // One account shared by the agents: compared as a whole, differences to the external book.
      ...(account ? { compare: (reason: string) => (reconciled ? account.sync(reason) : Promise.resolve({})) } : {}),
      engine,
      quotes,
      store,
      stateDir: outDir,
      priceOf: (symbol) => prices.priceAsOf(symbol, now())?.price,
      alert: raise,
      ...options.monitor,
    });
    cleanups.push(() => void monitor.stop());

    // The kill switch on the feed too (the risk actor cancels and alerts).
    live?.onAccountChange((reason) => void monitor.sync(reason));
    const unwatchKill = killSwitch.watch((s) => emit({ type: 'kill', time: now().toISO()!, payload: { ...s } }));
    cleanups.push(unwatchKill);

    // Live quotes, subscribed once: a feed that fails for good (bad credentials, retries
    // exhausted) raises one alert and ends the stream for every consumer instead of an
    // unhandled error that would take the process down.
    const quoteStream = quotes.quotes.pipe(
      catchError((err: unknown) => {
        raise({ type: 'monitor.alert', level: 'critical', code: 'QUOTE_FEED_FAILED', message: `quote feed stopped: ${err instanceof Error ? err.message : String(err)}`, tsEvent: nowMs() });
        return EMPTY;
      }),
      share(),
    );

    // The venue's time step on live prices: resting orders meet new quotes. Its books go into
    // the commit of the step that changed them (joinVenue), with the ledger's and the engine's.
    if (venue) subs.push(quoteStream.pipe(auditTime(1000, scheduler)).subscribe(() => venue.fillPending()));
    subs.push(quoteStream.subscribe((q) => trail.observe(q.symbol, q.atMs, q.price))); // the dashboard's price charts
    const saveState = () => store.commitNow().catch((err: unknown) => raise(storeAlert('run', err, nowMs())));
    if (quotes.alerts) subs.push(quotes.alerts.subscribe((a) => raise(a))); // price sanity: once per symbol and episode
    const r = config.risk_control;
    // Live: no protective sell before the start-up reconciliation (the ledger may still hold shares
    // that sold while the process was down; a sell of them could open a short on a margin account).
    if (r.enable_stop_loss || r.take_profit_ratio || r.trailing_stop_ratio) subs.push(guard.watch(quoteStream.pipe(filter(() => reconciled))));

    // The schedule on the run's clock; resume after the last tick the stored engine took.
    const saved = engine.actor.getSnapshot().context.lastTick;
    const spec = scheduleSpecOf(config);
    let clockRunning = true;
    let ticksDone = false;
    const schedule = () =>
      runSchedule(
        config,
        { scheduler, ...(options.until ? { until: options.until } : {}), ...(options.timeScale ? { timeScale: options.timeScale } : {}), ...(saved ? { resumeAfterMs: saved.atMs } : {}) },
        {
          tick: (tick) => {
            lastTick = tick.at;
            venue?.fillPending();
            // A reload's changes take effect here, between sessions; paused agents get none.
            const skip = control.beforeTick();
            engine.send({ ...tickMessage(tick, nowMs(), venue?.hours), ...(skip.length > 0 ? { paused: [...skip] } : {}) });
            options.onTick?.(tick.at, skip);
          },
          alert: raise,
          failed: () => {
            clockRunning = false;
          },
          done: () => {
            ticksDone = true;
            checkFinished();
          },
        },
      );
    // Live: no session before the broker's account is reconciled (live-broker.ts); it may take a while.
    if (!live || !account) subs.push(schedule());
    else {
      void startLive(live, account, { engine, ledger, wall, raise, nowMs, stopped: () => stopped }).then((ok) => {
        if (!ok || stopped) return;
        reconciled = true;
        subs.push(schedule());
      });
    }

    // Finished: the clock passed `until` and nothing runs any more.
    const quiet = () => Object.keys(engine.actor.getSnapshot().context.running).length === 0;
    let resolveFinished!: () => void;
    const finished = new Promise<void>((r) => (resolveFinished = r));
    const checkFinished = () => {
      if (ticksDone && quiet()) resolveFinished();
    };
    subs.push({ unsubscribe: engine.actor.subscribe(() => checkFinished()).unsubscribe } as Subscription);

    /** The schedule's next instant (none past `until`, or past the calendar's coverage). */
    const nextSession = (): DateTime | undefined => {
      try {
        const at = instantsAfter(spec, now()).next().value;
        return options.until && at > options.until ? undefined : at;
      } catch {
        return undefined;
      }
    };
    const health = (): HealthReport =>
      healthReport({
        config,
        at: now(),
        quotes: quotes.health(),
        heartbeats: monitor.heartbeats(),
        clockRunning: clockRunning && !stopped,
        lastTick,
        nextSession: stopped ? undefined : nextSession(),
        killSwitch: killSwitch.state(),
        lastSessions: tracker.lastSessions,
      });
    const state = (): Promise<DashboardState> =>
      dashboardState({
        config,
        at: now(),
        ledger,
        prices,
        halted,
        orders: tracker.orders(),
        quotes: quotes.health(),
        nextSession: stopped ? undefined : nextSession(),
        tracker,
        trail,
        alerts,
        health: health(),
        lastTick,
        stopped,
      });
    // <outDir>/dashboard.json after every session end and at the stop: `report --serve` shows it once the process is gone.
    const dashboardFile = dashboardWriter(
      async () => writeDashboardFile(outDir, await state()),
      (err) => onAlert({ type: 'monitor.alert', level: 'warning', code: 'STORE_FAILED', message: `dashboard.json not written: ${err instanceof Error ? err.message : String(err)}`, tsEvent: nowMs() }),
    );
    subs.push(events.pipe(filter((e) => e.type === 'session' && typeof e.payload['outcome'] === 'object')).subscribe(() => dashboardFile.request()));

    let stopped = false;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        stopped = true;
        for (const s of subs.splice(0)) s.unsubscribe();
        unwatchKill();
        await monitor.stop();
        // Let sessions in flight finish, for a grace of wall time (a model answering takes wall
        // time whatever the run clock's speed); what still runs then resumes at the next start.
        const grace = options.stopGraceMs ?? 30_000;
        if (!quiet()) {
          await new Promise<void>((resolve) => {
            const done = () => {
              t.unsubscribe();
              sub.unsubscribe();
              resolve();
            };
            const t = (options.wall ?? asyncScheduler).schedule(done, grace);
            const sub = engine.actor.subscribe(() => quiet() && done());
          });
        }
        // The engine first (nothing moves after it), then what it wrote, then the store: each step
        // runs even when an earlier one failed, so the LevelDB lock is always released.
        try {
          await engine.stop();
        } finally {
          live?.close();
          try {
            await ledger.idle();
            // The final state while the store is still open (a mark on a new day commits the day's start).
            await dashboardFile.idle();
            dashboardFile.request();
            await dashboardFile.idle();
            await saveState();
            await quotes.close();
          } finally {
            // The store's last commit releases the last feed events; then the feed ends.
            try {
              await store.close();
              storeClosed = true;
            } finally {
              events.complete();
            }
          }
        }
      })());

    return {
      events: events.asObservable(),
      ledger,
      runtime: engine,
      monitor,
      control,
      explain: (cid) => explainOrder(cid, llm.transcripts, market, store),
      health,
      state,
      finished,
      writeReport: async (generatedAt) => {
        // After the stop the store is closed: the report's fills and transcripts are read from it again.
        const from = storeClosed ? await openStore(join(outDir, 'state')) : store;
        try {
          return await writePaperReport(config, ledger, from, view, outDir, now().toISODate()!, generatedAt, options.benchmark);
        } finally {
          if (from !== store) await from.close();
        }
      },
      stop,
    };
  } catch (err) {
    for (const s of subs) s.unsubscribe();
    cleanups.forEach((c) => c());
    runtime?.crash();
    await store.close();
    throw err;
  }
}

function storeAlert(what: string, err: unknown, tsEvent: number): Alert {
  return { type: 'monitor.alert', level: 'warning', code: 'STORE_FAILED', message: `${what} state not saved: ${err instanceof Error ? err.message : String(err)}`, tsEvent };
}
