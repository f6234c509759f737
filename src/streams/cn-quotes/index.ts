/**
 * A-share realtime quotes over the public HTTP endpoints AkShare-style tools use (Sina,
 * Tencent, Eastmoney) and Tushare's end-of-day `daily`, as one QuoteFeed: a single polling
 * source, or a failover chain when several are named. See docs/quote-sources.md for each
 * source's format, quirks and terms of use.
 *
 * The config maps onto it as: `sources` = data_source.type then data_source.fallback,
 * `useCache` = use_cache, `cacheTtlMs` = cache_ttl_seconds * 1000, `tushareToken` = the
 * value of the env var data_source.token_env names (read by the caller, never logged).
 */
import type { SchedulerLike } from 'rxjs';
import { InputError } from '../../domain/errors.js';
import { eastmoneySource } from './eastmoney.js';
import { createFailoverFeed, type SourceSwitch } from './failover.js';
import { PollingQuoteFeed, type CnQuoteFeed } from './polling.js';
import { sinaSource } from './sina.js';
import { CN_SOURCE_NAMES, type CnQuoteSource, type CnSourceName, type MalformedRecord } from './source.js';
import { tencentSource } from './tencent.js';
import { tushareSource } from './tushare.js';

export interface CnQuoteFeedConfig {
  /** Primary first, then the fallbacks, each once. */
  readonly sources: readonly CnSourceName[];
  /** Our symbols: `600519.SH`, `000001.SZ`. */
  readonly symbols: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly useCache: boolean;
  readonly cacheTtlMs: number;
  /** Base URLs per source (tests, proxies); defaults are the public endpoints. */
  readonly urls?: Partial<Readonly<Record<CnSourceName, string>>>;
  /** Required when `sources` has tushare. */
  readonly tushareToken?: string;
  /** Failover: consecutive failed polls before switching; default 3. */
  readonly failuresBeforeSwitch?: number;
  /** Failover: how long a fallback serves before the primary is tried again; default 5 min. */
  readonly primaryRetryMs?: number;
  readonly onSwitch?: (s: SourceSwitch) => void;
  readonly onMalformed?: (info: MalformedRecord & { readonly source: CnSourceName }) => void;
  readonly scheduler?: SchedulerLike;
  readonly now?: () => number;
  /** When to poll next (PollingFeedOptions.cadence); default every `intervalMs`. */
  readonly cadence?: (nowMs: number, failures: number) => number;
}

/** The source objects for `names`, with their base URLs. */
export function cnQuoteSources(names: readonly CnSourceName[], urls: CnQuoteFeedConfig['urls'] = {}, tushareToken?: string): CnQuoteSource[] {
  return names.map((name) => {
    const baseUrl = urls[name];
    switch (name) {
      case 'sina':
        return sinaSource(baseUrl === undefined ? {} : { baseUrl });
      case 'tencent':
        return tencentSource(baseUrl === undefined ? {} : { baseUrl });
      case 'eastmoney':
        return eastmoneySource(baseUrl === undefined ? {} : { baseUrl });
      case 'tushare':
        if (tushareToken === undefined || tushareToken === '') {
          throw new InputError('the tushare quote source needs a token: set data_source.token_env and that environment variable');
        }
        return tushareSource({ token: tushareToken, ...(baseUrl === undefined ? {} : { url: baseUrl }) });
      default:
        throw new InputError(`unknown A-share quote source "${String(name)}" (expected one of ${CN_SOURCE_NAMES.join(', ')})`);
    }
  });
}

/** One source: a plain polling feed (health().source = its name); several: failover (`failover:<current>`). */
export function createCnQuoteFeed(config: CnQuoteFeedConfig): CnQuoteFeed {
  if (config.sources.length === 0) throw new InputError('name at least one A-share quote source');
  const sources = cnQuoteSources(config.sources, config.urls, config.tushareToken);
  const options = {
    symbols: config.symbols,
    intervalMs: config.intervalMs,
    timeoutMs: config.timeoutMs,
    useCache: config.useCache,
    cacheTtlMs: config.cacheTtlMs,
    ...(config.scheduler === undefined ? {} : { scheduler: config.scheduler }),
    ...(config.now === undefined ? {} : { now: config.now }),
    ...(config.onMalformed === undefined ? {} : { onMalformed: config.onMalformed }),
    ...(config.cadence === undefined ? {} : { cadence: config.cadence }),
  };
  if (sources.length === 1) return new PollingQuoteFeed(sources[0] as CnQuoteSource, options);
  return createFailoverFeed(sources, {
    ...options,
    ...(config.failuresBeforeSwitch === undefined ? {} : { failuresBeforeSwitch: config.failuresBeforeSwitch }),
    ...(config.primaryRetryMs === undefined ? {} : { primaryRetryMs: config.primaryRetryMs }),
    ...(config.onSwitch === undefined ? {} : { onSwitch: config.onSwitch }),
  });
}

export { eastmoneySource, parseEastmoneyAnswer, EASTMONEY_URL } from './eastmoney.js';
export { FailoverPlan, createFailoverFeed, type FailoverOptions, type SourceSwitch } from './failover.js';
export { PollingQuoteFeed, singleSourcePlan, type CnQuoteFeed, type CnQuoteFeedHealth, type CnSnapshot, type PollingFeedOptions, type SourcePlan, type SymbolStatus } from './polling.js';
export { parseSinaAnswer, sinaSource, SINA_REFERER, SINA_URL } from './sina.js';
export { CN_SOURCE_NAMES, CnQuoteError, type CnQuoteSource, type CnSourceName, type SymbolResult, type SymbolStateKind } from './source.js';
export { parseCnSymbol, type CnSymbol } from './symbols.js';
export { parseTencentAnswer, tencentSource, TENCENT_URL } from './tencent.js';
export { parseTushareDaily, tushareDaily, tushareQuery, tushareSource, tushareTradeCal, TUSHARE_URL, type TradeCalDay, type TushareDailyBar } from './tushare.js';
