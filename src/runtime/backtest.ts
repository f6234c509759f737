/**
 * A backtest: the same engine, machines and actors that run live, with the
 * simulated broker, driven by the clock stream on a virtual-time scheduler over
 * historical bars.
 *
 * The driver advances virtual time one scheduled action at a time (a tick, a
 * deadline, an order queued for the open) and lets the actor system settle after
 * each (every session finished, no order waiting on an answer, the store and the
 * ledger written) before time moves on, so nothing ever sees a price from after
 * the instant it runs at. State lives under `<out>/state` (LevelDB): a stopped
 * backtest started again with the same `--out` resumes after its last tick.
 */
import { join } from 'node:path';
import { DateTime } from 'luxon';
import type { InspectionEvent } from 'xstate';
import type { Config } from '../config/schema.js';
import { scheduleSpecOf } from '../config/schedule-spec.js';
import { tickMessage } from '../domain/clock-events.js';
import { InputError } from '../domain/errors.js';
import { MARKETS } from '../domain/markets.js';
import { viewAt, type PointInTimeView } from '../domain/point-in-time.js';
import type { PriceStore } from '../domain/price-store.js';
import { tradingInstants } from '../domain/schedule.js';
import {
  buildReport,
  loadBenchmark,
  renderReportHtml,
  writeReport,
  type BenchmarkSeries,
  type Report,
} from '../report/index.js';
import { ticks } from '../streams/clock.js';
import { EpochVirtualScheduler } from '../streams/virtual-time.js';
import { agentActor, PendingDecisions } from '../actors/agents/agent-actor.js';
import type { LlmWiring } from '../actors/agents/llm/index.js';
import type { WallTimers } from '../actors/agents/llm/timers.js';
import { levelTranscripts } from '../actors/agents/llm/transcript.js';
import { labelledBarAt } from '../actors/brokers/simulated-broker.js';
import { deadlineClock } from '../actors/clock/deadline-clock.actor.js';
import { ledgerActor } from '../actors/ledger/ledger-actor.js';
import { loadPriceStore } from '../actors/market-data/alpha-vantage-file.js';
import { marketDataActor } from '../actors/market-data/market-data-actor.js';
import { alertCollector, type Alert } from '../actors/monitor/alert-collector.actor.js';
import { KILL_SWITCH_OFF } from '../actors/risk/kill-switch.js';
import { protection } from '../actors/risk/protection.js';
import { barQuotes } from '../streams/bar-quotes.js';
import { openStore } from '../actors/store/store.js';
import { startEngine, type EngineRuntime } from './engine-runtime.js';

export interface BacktestOptions {
  readonly config: Config;
  readonly outDir: string;
  /** Wall-clock instant stamped on the report (injected: the driver never reads the clock). */
  readonly generatedAt: DateTime;
  readonly onProgress?: (done: number, total: number, at: string) => void;
  readonly onAlert?: (alert: Alert) => void;
  /** Extra observer of every actor event (the JSONL inspector). */
  readonly inspect?: (event: InspectionEvent) => void;
  /** Prices already loaded (benchmarks, tests); default: read `data_source.bars_file`. */
  readonly prices?: PriceStore;
  /** Wall clock of LLM calls (deadlines, back-off); default the real one. */
  readonly llmTimers?: WallTimers;
  /** Where API keys are read from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Measurement hook (bench/restart.ts): called as each start-up phase ends. */
  readonly onPhase?: (phase: 'prices' | 'store' | 'manifest' | 'venue' | 'ledger' | 'reconcile' | 'engine') => void;
}

export interface BacktestResult {
  readonly report: Report;
  readonly files: { readonly json: string; readonly html: string };
  readonly alerts: readonly Alert[];
  /** Trading instants run by this invocation (fewer than the span when it resumed). */
  readonly ticksRun: number;
  readonly ticksTotal: number;
}

import { buildDeciders, detailedRuns, engineInput, loadReplayLogs, restoreLedger, simulatedVenue, WATCHER_KEY } from './assemble.js';
import { joinVenue, joinWatcher, reconcile } from './commit.js';
import { buildManifest, checkManifest } from './manifest.js';
import { armFailpoint, failpointFromEnv } from './failpoint.js';
import { limitsFromConfig } from '../domain/price-sanity.js';
import { tradingActors } from './trading-actors.js';
import { openOrders } from './open-orders.js';

/** The stop-loss watcher's records (which positions already fired), so a resumed run does not fire twice. */

export async function runBacktest(options: BacktestOptions): Promise<BacktestResult> {
  const { config, outDir } = options;
  const { market, frequency } = config;
  const zone = MARKETS[market].zone;
  const barsFile = config.data_source.bars_file;
  if (!barsFile) throw new InputError('data_source.bars_file: a backtest needs a price file');

  const prices = options.prices ?? (await loadPriceStore(barsFile, { market, sanity: limitsFromConfig(config.data_source.price_sanity) }));
  const range = prices.range();
  if (!range) throw new InputError(`${barsFile}: no bars`);
  const noBars = (config.data_source.symbols ?? []).filter((s) => !prices.has(s));
  if (noBars.length > 0) throw new InputError(`data_source.symbols: ${noBars.join(', ')} not in ${barsFile} (it has ${prices.symbols().length} symbols); a backtest trades only symbols with bars`);
  const from = config.date_range?.from ?? range.first.setZone(zone).toISODate()!;
  const to = config.date_range?.to ?? range.last.setZone(zone).toISODate()!;
  const spec = scheduleSpecOf(config);
  const instants = tradingInstants(spec, from, to);
  if (instants.length === 0) throw new InputError(`no ${market} ${frequency} trading instant between ${from} and ${to}`);
  const logs = await loadReplayLogs(config);
  const benchmark: BenchmarkSeries | undefined = config.data_source.benchmark_file
    ? await loadBenchmark(config.data_source.benchmark_file, { market })
    : undefined;
  options.onPhase?.('prices');

  const store = await openStore(join(outDir, 'state'));
  options.onPhase?.('store');
  let runtime: EngineRuntime | undefined;
  try {
    // Everything the actors start is counted until it has answered: virtual time moves only
    // when nothing is on its way (no heuristic waits, so load cannot change the numbers).
    const inFlight = new PendingDecisions();
    const llm: LlmWiring = { transcripts: levelTranscripts(store), ...(options.llmTimers ? { timers: options.llmTimers } : {}), ...(options.env ? { env: options.env } : {}) };
    // Before the manifest reads the inputs: a strategy module that is missing or exports no
    // strategy is an error naming its field, not a failed read.
    const deciders = await buildDeciders(config, logs, llm);
    // Resume only what these inputs computed: another config, data file or code is refused.
    const saved = await store.loadSnapshot<{ context?: { lastTick?: { atMs: number } } }>('engine');
    // A strategy module's file too: a changed strategy would not compute what the stored run did.
    const agentFiles = config.models.flatMap((m) => (m.agent.kind === 'replay' ? [m.agent.log_file] : m.agent.kind === 'module' ? [m.agent.path] : []));
    const inputs = [barsFile, ...agentFiles, ...(config.data_source.benchmark_file ? [config.data_source.benchmark_file] : [])];
    const manifest = await checkManifest(store, outDir, await buildManifest(config, inputs, options.generatedAt.toISO()!, to), saved !== undefined);
    options.onPhase?.('manifest');

    // Resume: virtual time starts after the last tick the stored engine processed.
    const lastTickMs = saved?.context?.lastTick?.atMs;
    const startMs = lastTickMs ?? instants[0]!.toMillis() - 60_000;
    const scheduler = new EpochVirtualScheduler(startMs);
    const nowMs = () => scheduler.now();
    const now = () => DateTime.fromMillis(scheduler.now(), { zone });
    // data_source.symbols, when set, is what the agents see and risk lets through (SYMBOL_NOT_TRADED).
    const universe = config.data_source.symbols;
    const view = (at: DateTime): PointInTimeView => viewAt(prices, at, (symbol) => labelledBarAt(prices, symbol, at), universe);

    const broker = await simulatedVenue(config, prices, now, store);
    options.onPhase?.('venue');
    const ledger = await restoreLedger(config, store, outDir, view, universe ?? prices.symbols(), logs);
    options.onPhase?.('ledger');

    const alerts: Alert[] = [];
    const alert = (a: Alert) => {
      alerts.push(a);
      options.onAlert?.(a);
    };
    let events = 0;
    // Stop-loss (and take-profit / trailing) on every price the bars reveal, not only at sessions.
    let engineRef: EngineRuntime | undefined;
    const guard = protection({
      config,
      ledger,
      now: nowMs,
      send: (m) => engineRef?.send(m),
      alert,
      prevClose: (symbol) => prices.previousClose(symbol, now())?.price,
    });
    const watched = await store.loadSnapshot<ReturnType<typeof guard.watcher.snapshot>>(WATCHER_KEY);
    if (watched) guard.watcher.restore(watched);
    // The venue and the watcher join every commit; a restart first makes the ledger agree.
    joinVenue(store, broker);
    joinWatcher(store, guard.watcher);
    if (saved) await reconcile(store, ledger, broker, alert, nowMs());
    options.onPhase?.('reconcile');
    const failpoint = armFailpoint(store, failpointFromEnv(options.env ?? process.env));
    const trading = await tradingActors({
      mode: 'backtest',
      config,
      store,
      ledger,
      prices,
      broker,
      now,
      // A backtest has no one to pull the switch; the live process reads the file.
      killSwitch: { state: () => KILL_SWITCH_OFF, watch: () => () => {} },
      onProtectiveResult: (result) => guard.onResult(result),
      engine: () => engineRef,
      ...(universe ? { universe } : {}),
      inFlight,
    });
    runtime = await startEngine({
      store,
      input: engineInput(config),
      now: nowMs,
      actors: {
        clock: deadlineClock(scheduler),
        marketData: marketDataActor(view, nowMs),
        ledger: ledgerActor(ledger, nowMs, { inFlight }),
        agent: agentActor(deciders, view, nowMs, inFlight),
        ...trading,
        monitor: alertCollector(alerts, options.onAlert),
      },
      inspect: (e) => {
        events++;
        failpoint?.(e);
        options.inspect?.(e);
      },
    });
    const engine = runtime;
    engineRef = runtime;
    options.onPhase?.('engine');

    const quiet = () => {
      if (Object.keys(engine.actor.getSnapshot().context.running).length > 0) return false;
      return openOrders(engine).every(({ state }) => state === 'queued' || state === 'accepted' || state === 'partially_filled');
    };
    /**
     * Let the actor system finish what the last action started: wait until nothing is in
     * flight (answers, ledger writes, decisions, broker calls) and the step is committed.
     * What still waits then waits on virtual time (a deadline, the next bar).
     */
    const settle = async () => {
      for (;;) {
        await inFlight.idle();
        await ledger.idle();
        await engine.flush();
        if (inFlight.count === 0 && !store.busy()) return;
      }
    };
    void events;

    const total = instants.length;
    const resumeFrom = lastTickMs === undefined ? undefined : DateTime.fromMillis(lastTickMs, { zone });
    const done = instants.filter((i) => resumeFrom && i <= resumeFrom).length;
    let ran = 0;
    let completed = false;
    const until = instants.at(-1)!.endOf('day');
    const sub = ticks(spec, {
      scheduler,
      until,
      maxWaitMs: 6 * 3_600_000,
      ...(resumeFrom ? { resumeFrom } : {}),
    }).subscribe({
      next: (tick) => {
        engine.send(tickMessage(tick, scheduler.now(), broker.hours));
        ran++;
        options.onProgress?.(done + ran, total, tick.at.toISO()!);
      },
      complete: () => (completed = true),
    });
    const quotes = config.risk_control.enable_stop_loss || config.risk_control.take_profit_ratio || config.risk_control.trailing_stop_ratio
      ? guard.watch(barQuotes(prices, DateTime.fromMillis(scheduler.now(), { zone }), until, {}, scheduler))
      : undefined;
    try {
      // One scheduled action at a time, settling in between.
      while (scheduler.actions.length > 0) {
        const next = scheduler.actions[0]!.delay;
        // Resting orders (limits not reached, volume-capped remainders) meet the new
        // bars first, and orders of an earlier day expire, before the action runs.
        scheduler.frame = Math.max(scheduler.frame, next);
        broker.fillPending();
        await settle();
        scheduler.advanceTo(next);
        await settle();
        if (completed && quiet()) break;
      }
    } finally {
      sub.unsubscribe();
      quotes?.unsubscribe();
    }

    // The report: curves and counts from the ledger, the benchmark aligned to the sessions.
    const runs = await detailedRuns(config, ledger, store, view);
    const report = buildReport(
      runs,
      { market, frequency, from, to, rules: config.broker.rules, generatedAt: manifest.createdAt, sessions: total },
      benchmark,
    );
    const files = await writeReport(outDir, report, renderReportHtml(report, runs, benchmark));
    await runtime.stop();
    runtime = undefined;
    return { report, files, alerts, ticksRun: ran, ticksTotal: total };
  } finally {
    runtime?.crash();
    await store.close();
  }
}
