/**
 * The long-running paper (and, with a real broker, live) process: the config's quote
 * source and clock, the paper runtime, and the HTTP port (event feed, /health,
 * /api/state, dashboard). Prints where everything is, one line per session outcome and
 * alert, and stops cleanly on SIGINT/SIGTERM (sessions finish or resume at the next
 * start, the store is closed). On a replay (the built-in one of the `npm start` demo, or a
 * replay server at `replay_url`) the run ends with the replayed day, or when the external
 * server closes its feed: the day's report is printed and written. Every end prints the run's
 * report, written after the engine has stopped (sessions in flight had their grace).
 *
 * The signals are caught from the first line: one during start-up (waiting for a quote
 * source that does not answer, opening the store, ...) cancels the start. The step under
 * way finishes (the wait for quotes is cut short), everything opened so far is closed,
 * last-opened first, and the process ends normally (exit 0) with no report.
 */
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { readOptionalSecret, readSecret } from './config/env.js';
import { calendarCheckYears, checkCalendarWithTushare } from './actors/market-data/calendar-check.js';
import { calendarCoverageWatch } from './actors/monitor/calendar-coverage.js';
import { applyCalendarConfig } from './config/closures-file.js';
import type { Config } from './config/schema.js';
import { KillSwitch } from './actors/risk/kill-switch.js';
import { loadPriceStore } from './actors/market-data/alpha-vantage-file.js';
import { limitsFromConfig } from './domain/price-sanity.js';
import { openQuoteSource } from './runtime/quote-source.js';
import { startPaper } from './runtime/paper.js';
import { loadBenchmark } from './report/index.js';
import { formatReportTable } from './report/table.js';
import { startHttpServer, type RunningHttpServer } from './server/http-server.js';
import { InputError } from './domain/errors.js';
import { closeLogger, createLogger, logFeedEvent, secretValues } from './actors/monitor/logger.js';
import { Metrics } from './actors/monitor/metrics.js';
import { createDispatcher } from './actors/monitor/alert-dispatcher.js';
import { explainRoute, routes } from './server/explain-route.js';
import { Writable } from 'node:stream';
import { existsSync } from 'node:fs';
import { openStore } from './actors/store/store.js';
import { startupAlpacaCalendarCheck } from './actors/market-data/calendar-check.js';
import { liveGateProblems } from './config/live-gate.js';
import { tradesBrokerAccount } from './runtime/live-broker.js';
import { controlRoutes } from './server/control-routes.js';
import { PausedAgents } from './actors/control/paused-agents.js';
import { loadConfig } from './config/load.js';
import { allowedChats, startTelegramCommands } from './actors/monitor/channels/telegram-commands.js';
import { asyncScheduler } from 'rxjs';

/** The last session instant a stored run took (epoch ms), read and released before the run opens its store. */
async function lastSessionMs(outDir: string): Promise<number | undefined> {
  const dir = join(outDir, 'state');
  if (!existsSync(dir)) return undefined;
  const store = await openStore(dir);
  try {
    return (await store.loadSnapshot<{ context?: { lastTick?: { atMs?: number } } }>('engine'))?.context?.lastTick?.atMs;
  } finally {
    await store.close();
  }
}

/** A stream that drops what it is given (structured logs going only to a file). */
const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

export interface PaperProcessOptions {
  /** Run directory; default: state_dir (a demo: a new folder under state_dir/runs). */
  readonly outDir?: string;
  readonly write?: (text: string) => void;
  /** The wall clock, read at the edge (run folder name, report stamp, kill switch stamps). */
  readonly wallNow?: () => DateTime;
  readonly env?: NodeJS.ProcessEnv;
  /** Ask the process to stop (tests); SIGINT / SIGTERM do the same. */
  readonly stopSignal?: AbortSignal;
  /** The config file the process runs: read again by the control API's reload. */
  readonly configPath?: string;
}

/** The reason a start was cancelled (a signal, or `stopSignal`): not an error, the process ends normally. */
export class StartCancelled extends Error {
  override readonly name = 'StartCancelled';
  constructor(readonly why: string) {
    super(`start cancelled: ${why}`);
  }
}

/**
 * SIGINT / SIGTERM / `stopSignal`, listened to from the start of the process: `signal`
 * aborts (reason: a StartCancelled) and `requested` resolves with what asked. Once only:
 * a second Ctrl-C gets Node's default (the process ends at once).
 */
function stopRequests(stopSignal: AbortSignal | undefined) {
  const controller = new AbortController();
  let request: (why: string) => void = () => undefined;
  const requested = new Promise<string>((resolve) => {
    request = (why) => {
      if (controller.signal.aborted) return;
      resolve(why);
      controller.abort(new StartCancelled(why));
    };
  });
  const onInt = () => request('SIGINT');
  const onTerm = () => request('SIGTERM');
  const onAbort = () => request('stop requested');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  if (stopSignal?.aborted) onAbort();
  else stopSignal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    requested,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      stopSignal?.removeEventListener('abort', onAbort);
    },
  };
}

export async function runPaperProcess(config: Config, options: PaperProcessOptions = {}): Promise<void> {
  const write = options.write ?? ((s: string) => process.stdout.write(s));
  const stop = stopRequests(options.stopSignal);
  let started = false;
  // Said at once during start-up: the step under way may take a moment to finish.
  void stop.requested.then((why) => !started && write(`stopping: ${why} during start-up\n`));
  try {
    await startAndRun(config, options, write, stop.signal, stop.requested, () => (started = true));
  } catch (err) {
    if (!(err instanceof StartCancelled)) throw err;
    write('start cancelled: everything opened so far is closed\n');
  } finally {
    stop.dispose();
  }
}

async function startAndRun(
  config: Config,
  options: PaperProcessOptions,
  write: (text: string) => void,
  signal: AbortSignal,
  stopped: Promise<string>,
  onStarted: () => void,
): Promise<void> {
  const wallNow = options.wallNow ?? (() => DateTime.now());
  const env = options.env ?? process.env;
  const ds = config.data_source;
  if (config.mode === 'live' && !tradesBrokerAccount(config)) {
    throw new InputError(`broker.type: ${config.broker.type} is not connected yet; live trading runs on alpaca (paper mode runs on the simulated broker)`);
  }
  // Real money needs the acknowledgement in this process's environment, whoever started it.
  const gate = liveGateProblems(config, env);
  if (gate.length > 0) throw new InputError(gate.join('; '));
  // The calendar first: a bad closures file stops the start before anything opens.
  const calendar = await applyCalendarConfig(config);
  const demo = ds.type === 'replay' && ds.replay_url === undefined;
  const outDir = options.outDir ?? (demo ? join(config.state_dir, 'runs', `paper-${wallNow().toFormat("yyyyLLdd'T'HHmmss")}`) : config.state_dir);
  const history = ds.bars_file ? await loadPriceStore(ds.bars_file, { market: config.market, sanity: limitsFromConfig(ds.price_sanity) }) : undefined;
  const symbols = ds.symbols ?? history?.symbols() ?? [];
  if (symbols.length === 0) throw new InputError('data_source.symbols: expected the symbols to trade (or a bars_file to take them from)');
  const benchmark = ds.benchmark_file ? await loadBenchmark(ds.benchmark_file, { market: config.market }) : undefined;
  const token = readOptionalSecret(config.server.token_env, env, 'server.token_env');
  signal.throwIfAborted();

  /** What was opened, closed last-opened first; every one is closed even when another fails. */
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  let http: RunningHttpServer | undefined;
  let run: Awaited<ReturnType<typeof startPaper>> | undefined;
  const wallMs = () => wallNow().toMillis();
  try {
    // Alert channels first: a bad secret variable stops the start before anything connects.
    const dispatcherFor = (c: Config) =>
      createDispatcher(c.alerts, {
        env,
        onError: (f) => write(`alert channel ${f.channel}: ${f.outcome} ${f.level} ${f.code}: ${f.message}\n`),
      });
    // Replaced by a reload of the config (the control API): the old one sends what it holds, then closes.
    let alerts = dispatcherFor(config);
    closers.push(() => alerts.close());
    /** A start-up or monitor alert raised here (not by the runtime): to the channels and the console. */
    const notify = (level: 'info' | 'warning', code: string, message: string) => {
      alerts.dispatch({ type: 'monitor.alert' as const, level, code, message, tsEvent: wallMs() });
      write(`alert ${level} ${code}: ${message}\n`);
    };
    const coverage = calendarCoverageWatch({ market: config.market, now: wallNow, raise: notify });
    // A restarted demo replays its day from the stored run's last session, not from the open.
    const resumeFromMs = demo ? await lastSessionMs(outDir) : undefined;
    const metrics = new Metrics({
      now: wallMs,
      state: () => run!.state(),
      health: () => run!.health(),
      feedStats: () => http?.feed.stats() ?? { clients: 0 },
      signatures: config.models.map((m) => m.signature),
    });
    const source = await openQuoteSource(config, { ...(history ? { history } : {}), symbols, env, signal, onProblem: (t) => write(`${t}\n`), ...(resumeFromMs !== undefined ? { resumeFromMs } : {}) });
    closers.push(() => source.close());
    source.verdicts.subscribe((v) => metrics.observePricePrint(v));
    signal.throwIfAborted();
    const killSwitch = new KillSwitch(config.state_dir, () => wallNow().toMillis());
    // Structured log lines (one per feed event, ids attached, secrets scrubbed): JSON to stderr with
    // format json, and to log.file when set; with format pretty the progress lines below are the output.
    const log =
      config.log.file || config.log.format === 'json'
        ? createLogger({
            now: wallMs,
            level: config.log.level,
            format: 'json',
            ...(config.log.file ? { file: config.log.file, onFileError: (e: unknown) => notify('warning', 'LOG_FILE_FAILED', `log.file ${config.log.file}: a write failed (${e instanceof Error ? e.message : String(e)}); no more lines go to it, trading goes on`) } : {}),
            destination: config.log.format === 'json' ? process.stderr : discard(),
            secrets: [...secretValues(config, env), token],
            base: { mode: config.mode, pid: process.pid },
          })
        : undefined;
    if (log) closers.push(() => closeLogger(log));
    run = await startPaper({
      config,
      outDir,
      scheduler: source.scheduler,
      timeScale: source.speed,
      quotes: source.feed,
      ...(history ? { history } : {}),
      universe: symbols,
      killSwitch,
      // Next to the kill switch: a pause outlives the run folder of a restarted demo too.
      paused: new PausedAgents(config.state_dir),
      ...(options.configPath ? { reloadConfig: () => loadConfig(options.configPath!) } : {}),
      onReload: async (next) => {
        const old = alerts;
        alerts = dispatcherFor(next);
        await old.close();
      },
      ...(source.until ? { until: source.until } : {}),
      ...(benchmark ? { benchmark } : {}),
      llmObserver: metrics,
      env,
      onAlert: (a) => {
        alerts.dispatch(a);
        write(`alert ${a.level} ${a.code}${a.signature ? ` [${a.signature}]` : ''}: ${a.message}\n`);
      },
      onTick: (at, paused) => {
        const sessions = config.models.filter((m) => m.enabled && !paused.includes(m.signature)).length;
        write(`tick ${at.toFormat('yyyy-LL-dd HH:mm ZZZZ')}: ${sessions} sessions${paused.length > 0 ? ` (paused: ${paused.join(', ')})` : ''}\n`);
        coverage.check(); // a running process entering the last 30 days of its calendar
      },
    });
    const paper = run;
    closers.push(() => paper.stop());
    signal.throwIfAborted();
    paper.events.subscribe((e) => metrics.observe(e));
    if (log) paper.events.subscribe((e) => logFeedEvent(log, e));
    paper.events.subscribe((e) => {
      if (e.type !== 'session' || typeof e.payload['outcome'] !== 'object') return;
      const o = e.payload['outcome'] as { signature: string; status: string; reason?: string; results: { status: string }[]; summary?: string };
      const filled = o.results.filter((r) => r.status === 'filled').length;
      write(`  ${o.signature}: ${o.status}${o.reason ? ` (${o.reason})` : ''}, ${o.results.length} orders, ${filled} filled\n`);
    });
    if (config.server.enabled) {
      http = await startHttpServer({
        host: config.server.host,
        port: config.server.port,
        events: paper.events,
        health: () => paper.health(),
        state: () => paper.state(),
        token,
        heartbeatMs: config.server.heartbeat_seconds * 1000,
        onKill: ({ signature, reason }) => killSwitch.activate({ signature, reason }),
        onKillReset: ({ signature }) => killSwitch.reset({ signature }),
        extraRoutes: routes(metrics.metricsRoute(), explainRoute((cid) => paper.explain(cid)), controlRoutes(() => paper.control, { token })),
      });
      const server = http;
      closers.push(() => server.close());
    }
    // Telegram chats steer the process too (commands: true), through the same control layer.
    for (const ch of config.alerts.channels) {
      if (ch.type !== 'telegram' || !ch.commands) continue;
      const name = ch.name ?? 'telegram';
      const commands = startTelegramCommands({
        name,
        token: readSecret(ch.bot_token_env, env, `alerts.channels (${name}).bot_token_env`),
        baseUrl: ch.api_url,
        allowed: allowedChats(ch),
        control: () => paper.control,
        offsetFile: join(config.state_dir, `telegram-offset-${name}.json`),
        scheduler: asyncScheduler,
        log: (line) => write(`${line}\n`),
      });
      closers.push(() => commands.close());
    }
    signal.throwIfAborted();
    onStarted();
    write(
      [
        `paper run (${config.mode}, ${config.market} ${config.frequency}): ${source.describe}`,
        `  agents     ${config.models.filter((m) => m.enabled).map((m) => m.signature).join(', ')}`,
        `  state      ${outDir}`,
        ...(http
          ? [`  dashboard  ${http.url}/`, `  feed       ${http.url.replace(/^http/, 'ws')}/feed`, `  health     ${http.url}/health`, `  metrics    ${http.url}/metrics`]
          : ['  server     off (server.enabled: false)']),
        source.until ? '  the replayed day ends the run; Ctrl-C stops it early' : '  runs until stopped: Ctrl-C stops cleanly',
        '',
      ].join('\n'),
    );

    coverage.check(); // CALENDAR_COVERAGE_ENDING at every start within 30 days of the calendar's end
    // With a Tushare token, our A-share calendar is checked against Tushare's for this year
    // and for every year the closures file added.
    if (config.market === 'cn' && ds.token_env) {
      const years = calendarCheckYears(wallNow().setZone('Asia/Shanghai').year, calendar.addedYears.cn);
      void checkCalendarWithTushare({ token: readSecret(ds.token_env, env, 'data_source.token_env'), ...(ds.source_urls?.tushare ? { url: ds.source_urls.tushare } : {}), years }).then(
        ({ differences: diffs, unchecked }) => {
          if (diffs.length > 0) notify('warning', 'CALENDAR_MISMATCH', `Tushare's trade calendar differs from ours on ${diffs.length} day(s): ${diffs.join('; ')}`);
          if (unchecked.length > 0) notify('info', 'CALENDAR_CHECK_FAILED', `Tushare has no trade calendar for ${unchecked.join(', ')} yet: those days are not checked`);
        },
        (err: unknown) => notify('info', 'CALENDAR_CHECK_FAILED', `could not check the calendar with Tushare: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
    // Trading an Alpaca account: Alpaca's calendar of the coming days against ours.
    if (tradesBrokerAccount(config)) void startupAlpacaCalendarCheck({ config, env, now: wallNow(), notify });
    const over = 'the replayed day is over';
    const finished = paper.finished.then(() => over);
    // An external replay server closing its feed ends the run: at once mid-day; once the day's
    // last sessions have run when it had said the replay was over.
    const ended = source.ended?.then(({ dayOver }) => (dayOver ? finished : 'the replay server closed its feed'));
    const why = await Promise.race([finished, stopped, ...(ended ? [ended] : [])]);
    write(`stopping: ${why}\n`);
    // The replayed day ends before its close + delay: its daily report goes out now.
    if (why === over && source.day) {
      const daily = await paper.monitor.report(source.day);
      write(`daily report written to ${join(outDir, 'reports', `${config.market}-${daily.date}.txt`)}\n`);
    }
    // The report once nothing moves any more: what sessions in flight did in their grace is in it.
    await paper.stop();
    const { report, files } = await paper.writeReport(wallNow());
    await closeAll();
    write(`${formatReportTable(report)}\nwrote ${files.json}\n      ${files.html}\n`);
    for (const m of config.models) write(`      ${join(outDir, m.signature, 'position.jsonl')}\n`);
  } catch (err) {
    await closeAll();
    throw err;
  }
}
