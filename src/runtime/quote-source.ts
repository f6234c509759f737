/**
 * The live quote source of a paper/live config, and the clock that goes with it:
 *
 * | data_source.type                       | quotes                                         | run clock |
 * |----------------------------------------|------------------------------------------------|-----------|
 * | alpaca                                 | Alpaca v2 WebSocket (alpaca_url, key/secret env) | wall      |
 * | sina, tencent, eastmoney, akshare, tushare | polled HTTP, failing over along `fallback`; sparse while the market is closed, backing off while polls fail | wall |
 * | replay with replay_url                 | that replay server (Alpaca protocol)           | its market time; the run ends with the day it announces, or when the server closes its feed |
 * | replay without replay_url              | the built-in replay server on bars_file        | its market time; the run ends with the day |
 * | broker (broker.type futu)              | Futu OpenD's basic-quote pushes (broker.futu's address and key), on a connection of its own | wall |
 *
 * A polled source that does not answer at start does not stop the start (a long-running process
 * must outlive a network that is down at 3 a.m.): the problem is reported, polling goes on with
 * back-off, and the run's monitor raises QUOTE_SOURCE_DOWN while it lasts. A WebSocket source
 * that cannot connect within the start timeout still fails the start.
 *
 * Secrets are read here from the variables the config names and handed to the clients only.
 * Every source is put behind the price sanity rules here (`SaneQuoteFeed`, data_source.price_sanity):
 * what the run reads from `feed` never holds a dropped or quarantined print.
 */
import { DateTime } from 'luxon';
import { asyncScheduler, firstValueFrom, type Observable, type SchedulerLike } from 'rxjs';
import { readSecret } from '../config/env.js';
import { QUOTING_BROKERS, type Config, type DataSourceType } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import { MARKETS, type Market } from '../domain/markets.js';
import { CLOSED_POLL_MS, MAX_POLL_BACKOFF_MS, pollDelayMs } from '../domain/poll-cadence.js';
import { limitsFromConfig, PriceSanity, type PrintVerdict } from '../domain/price-sanity.js';
import type { PriceStore } from '../domain/price-store.js';
import { startReplayServer, type ReplayServer } from '../server/replay-server.js';
import { AlpacaQuoteStream } from '../streams/alpaca-quotes.js';
import { createCnQuoteFeed } from '../streams/cn-quotes/index.js';
import type { CnSourceName } from '../streams/cn-quotes/index.js';
import type { QuoteFeed } from '../streams/quote-feed.js';
import { ReplayClock } from '../streams/replay-clock.js';
import { SaneQuoteFeed } from '../streams/sane-quote-feed.js';
import { FutuQuoteFeed } from '../actors/brokers/futu/quotes.js';
import { futuConnectionSettings } from '../actors/brokers/futu/settings.js';

export interface QuoteSource {
  /** The source behind the price sanity rules: only accepted prints come out of it. */
  readonly feed: QuoteFeed;
  /** Every print's price-sanity verdict (hot; for the metrics). */
  readonly verdicts: Observable<PrintVerdict>;
  /** The run's clock. */
  readonly scheduler: SchedulerLike;
  /** A replay: its day ends the run (no tick after it). */
  readonly until?: DateTime;
  /** A replay: the replayed day, YYYY-MM-DD. */
  readonly day?: string;
  /** The built-in replay server. */
  readonly replay?: ReplayServer;
  /**
   * An external replay: resolves when the server closes its feed (close code 1001, what a replay
   * server sends when it shuts down); `dayOver` when it had said the replay was over (`closed`).
   */
  readonly ended?: Promise<{ readonly dayOver: boolean }>;
  /** Market ms per wall ms of the run's clock (1 on the wall clock). */
  readonly speed: number;
  /** For people: what is streaming from where. */
  readonly describe: string;
  close(): Promise<void>;
}

export interface QuoteSourceOptions {
  readonly history?: PriceStore;
  readonly symbols: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The wall clock (tests pass a virtual one). */
  readonly wall?: SchedulerLike;
  readonly onProblem?: (text: string) => void;
  /** The built-in replay resumes its day here (the stored run's last session), epoch ms. */
  readonly resumeFromMs?: number;
  /** Aborting stops the wait for the source: what was opened is closed and the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** How long a source may take to connect (or answer its first poll) at start. */
const START_TIMEOUT_MS = 30_000;

/** Resolve with `promise`, or reject with `message` after `ms` on `scheduler`, or with the reason of `signal` when it aborts. */
function within<T>(promise: Promise<T>, scheduler: SchedulerLike, ms: number, message: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      timer.unsubscribe();
      reject(signal!.reason);
    };
    const timer = scheduler.schedule(() => {
      signal?.removeEventListener('abort', onAbort);
      reject(new InputError(message));
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      timer.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    };
    promise.then(
      (v) => {
        done();
        resolve(v);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}

/** Start a feed; when it fails, keeps retrying past the start timeout or the start is cancelled, close it so no socket or timer outlives the error. */
async function startOrClose(feed: QuoteFeed, wall: SchedulerLike, what: string, signal?: AbortSignal): Promise<void> {
  try {
    await within(feed.start(), wall, START_TIMEOUT_MS, `${what}: not connected within ${START_TIMEOUT_MS / 1000} s (${feed.health().lastError ?? 'no answer'})`, signal);
  } catch (err) {
    await feed.close();
    throw err;
  }
}

const AKSHARE_CHAIN: readonly CnSourceName[] = ['sina', 'tencent', 'eastmoney'];
const symbolsText = (n: number) => `${n} symbol${n === 1 ? '' : 's'}`;
const cnNames = (t: DataSourceType): readonly CnSourceName[] => (t === 'akshare' ? AKSHARE_CHAIN : [t as CnSourceName]);

/** The sanity gate for one source; `now` is the run's clock, `speed` its market ms per wall ms. */
function sane(config: Config, history: PriceStore | undefined, feed: QuoteFeed, now: () => number, speed: () => number = () => 1): SaneQuoteFeed {
  const limits = limitsFromConfig(config.data_source.price_sanity);
  const toleranceMs = limits.futureToleranceMs;
  const market: Market = config.market;
  const zone = MARKETS[market].zone;
  const sanity = new PriceSanity({
    market,
    limits,
    reference: (symbol, atMs) => {
      const at = DateTime.fromMillis(atMs, { zone });
      return { previousClose: history?.previousClose(symbol, at)?.price, known: history?.priceAsOf(symbol, at)?.price };
    },
  });
  // On a compressed clock a wall ms of delivery lag is `speed` market ms: the tolerance widens by as much.
  return new SaneQuoteFeed(feed, { sanity, now: () => now() + toleranceMs * (speed() - 1) });
}

export async function openQuoteSource(config: Config, options: QuoteSourceOptions): Promise<QuoteSource> {
  const ds = config.data_source;
  const wall = options.wall ?? asyncScheduler;
  const env = options.env ?? process.env;
  const staleAfterMs = ds.stale_quote_seconds * 1000;
  const signal = options.signal;
  signal?.throwIfAborted();
  switch (ds.type) {
    case 'alpaca': {
      const feed = new AlpacaQuoteStream({
        url: ds.alpaca_url,
        key: readSecret(ds.key_env!, env, 'data_source.key_env'),
        secret: readSecret(ds.secret_env!, env, 'data_source.secret_env'),
        trades: options.symbols,
        reconnect: true,
        staleAfterMs,
        scheduler: wall,
      });
      const gated = sane(config, options.history, feed, () => wall.now());
      await startOrClose(gated, wall, `Alpaca stream ${ds.alpaca_url}`, signal);
      return { feed: gated, verdicts: gated.verdicts, scheduler: wall, speed: 1, describe: `Alpaca v2 trades of ${symbolsText(options.symbols.length)} from ${ds.alpaca_url}`, close: () => feed.close() };
    }
    case 'sina':
    case 'tencent':
    case 'eastmoney':
    case 'akshare':
    case 'tushare': {
      const sources = [...new Set([ds.type, ...ds.fallback].flatMap((t) => cnNames(t)))];
      const cadence = { market: config.market, intervalMs: ds.poll_interval_seconds * 1000, closedIntervalMs: CLOSED_POLL_MS, maxBackoffMs: MAX_POLL_BACKOFF_MS };
      const feed = createCnQuoteFeed({
        sources,
        symbols: options.symbols,
        intervalMs: ds.poll_interval_seconds * 1000,
        timeoutMs: ds.request_timeout_seconds * 1000,
        useCache: ds.use_cache,
        cacheTtlMs: ds.cache_ttl_seconds * 1000,
        ...(ds.source_urls ? { urls: ds.source_urls } : {}),
        ...(ds.token_env ? { tushareToken: readSecret(ds.token_env, env, 'data_source.token_env') } : {}),
        scheduler: wall,
        cadence: (nowMs, failures) => pollDelayMs(cadence, nowMs, failures),
        onSwitch: (s) => options.onProblem?.(`quote source: ${s.from} -> ${s.to} (${s.reason})`),
      });
      const gated = sane(config, options.history, feed, () => wall.now());
      try {
        // The first poll's outcome, whatever it is: only a cancelled start stops here.
        const failed = await within(
          gated.start().then(
            () => undefined,
            (err: unknown) => (err instanceof Error ? err.message : String(err)),
          ),
          wall,
          START_TIMEOUT_MS,
          `${sources.join(' -> ')} quotes: the first poll did not end within ${START_TIMEOUT_MS / 1000} s`,
          signal,
        ).catch((err: unknown) => {
          if (signal?.aborted) throw err;
          return err instanceof Error ? err.message : String(err);
        });
        if (failed !== undefined) {
          const next = feed.health().nextPollMs;
          options.onProblem?.(`quotes missing: ${failed}; polling goes on with back-off${next !== undefined ? ` (next poll ${DateTime.fromMillis(next, { zone: MARKETS[config.market].zone }).toISO()})` : ''}`);
        }
      } catch (err) {
        await feed.close();
        throw err;
      }
      return { feed: gated, verdicts: gated.verdicts, scheduler: wall, speed: 1, describe: `${sources.join(' -> ')} quotes of ${symbolsText(options.symbols.length)}, polled every ${ds.poll_interval_seconds} s`, close: () => feed.close() };
    }
    case 'replay': {
      let replay: ReplayServer | undefined;
      if (!ds.replay_url) {
        if (!options.history) throw new InputError('data_source.bars_file: the built-in replay server needs the bars to replay');
        replay = await startReplayServer({
          prices: options.history,
          speed: ds.replay_speed,
          ...(ds.replay_date ? { date: ds.replay_date } : {}),
          symbols: options.symbols,
          scheduler: wall,
          waitForSubscriber: true,
          ...(options.resumeFromMs !== undefined ? { resumeFromMs: options.resumeFromMs } : {}),
        });
      }
      const url = ds.replay_url ?? replay!.url;
      const feed = new AlpacaQuoteStream({ url, key: 'replay', secret: 'replay', trades: options.symbols, reconnect: true, staleAfterMs, scheduler: wall, name: 'replay' });
      let clock: ReplayClock | undefined;
      // Before the replay announces its market time (it does before its first trade), the wall clock.
      const gated = sane(config, options.history, feed, () => clock?.now() ?? wall.now(), () => clock?.speed ?? 1);
      try {
        signal?.throwIfAborted();
        await startOrClose(feed, wall, `replay server ${url}`, signal);
        clock = await within(ReplayClock.follow(feed.marketTime, wall), wall, START_TIMEOUT_MS, `the replay server at ${url} announced no market time (replay_clock) within ${START_TIMEOUT_MS / 1000} s: is it an agent-trader replay server?`, signal);
      } catch (err) {
        await feed.close();
        await replay?.close();
        throw err;
      }
      const zone = MARKETS[config.market].zone;
      // The replayed day, announced by the server (or ours); the run's clock ends with it.
      const day = replay?.day ?? (await firstValueFrom(feed.marketTime)).day;
      const dayEnd = day ? DateTime.fromISO(day, { zone }).endOf('day') : undefined;
      if (dayEnd?.isValid) clock.endAt(dayEnd.toMillis());
      const until = dayEnd?.isValid ? dayEnd : undefined;
      let dayOver = false;
      feed.marketTime.subscribe((r) => (dayOver ||= r.state === 'closed'));
      const ended = replay
        ? undefined
        : new Promise<{ dayOver: boolean }>((resolve) => {
            feed.connection.subscribe((e) => {
              if (e.type === 'disconnected' && e.closeCode === 1001) resolve({ dayOver });
            });
          });
      return {
        feed: gated,
        verdicts: gated.verdicts,
        scheduler: clock,
        speed: clock.speed,
        ...(until ? { until } : {}),
        ...(day ? { day } : {}),
        ...(replay ? { replay } : {}),
        ...(ended ? { ended } : {}),
        describe: replay
          ? `built-in replay of ${replay.day} (${symbolsText(replay.symbols.length)}) at ${replay.speed}x, ${url}`
          : `replay server ${url} (its market time drives the clock)`,
        close: async () => {
          await feed.close();
          await replay?.close();
        },
      };
    }
    case 'broker': {
      if (!QUOTING_BROKERS.includes(config.broker.type)) {
        throw new InputError(`data_source.type: broker gives quotes with broker.type ${QUOTING_BROKERS.join(' or ')} only (Futu OpenD's pushes); broker.type ${config.broker.type} has none`);
      }
      const settings = futuConnectionSettings(config.broker, env);
      const feed = new FutuQuoteFeed({ settings, symbols: options.symbols, scheduler: wall });
      const gated = sane(config, options.history, feed, () => wall.now());
      await startOrClose(gated, wall, `Futu OpenD quotes ${settings.url}`, signal);
      return { feed: gated, verdicts: gated.verdicts, scheduler: wall, speed: 1, describe: `Futu OpenD basic quotes of ${symbolsText(options.symbols.length)} from ${settings.url}`, close: () => feed.close() };
    }
    case 'file':
      throw new InputError(`data_source.type: ${ds.type} gives no live quotes; paper and live need alpaca, sina, tencent, eastmoney, akshare, tushare, replay or broker (broker.type futu)`);
  }
}
