/**
 * `broker.type` -> the account broker a live run trades through (account-broker.ts): one row per
 * real broker, each building its client from the config and the environment (keys are read here,
 * at start, and never kept in the config). Venues without a stream of their own (the terminal
 * bridge, EastMoney; Futu) are venue adapters under the order tracker (polled-broker.ts); those
 * that take limit orders only get a market order as a marketable limit (marketable-limits.ts).
 */
import type { SchedulerLike } from 'rxjs';
import type { AccountBroker } from '../actors/brokers/account-broker.js';
import { AlpacaBroker, ownedBy } from '../actors/brokers/alpaca/alpaca-broker.js';
import { alpacaSettings } from '../actors/brokers/alpaca/settings.js';
import { BridgeAdapter } from '../actors/brokers/bridge/adapter.js';
import { bridgeSettings } from '../actors/brokers/bridge/settings.js';
import { EastMoneyAdapter } from '../actors/brokers/eastmoney/adapter.js';
import { eastmoneySettings } from '../actors/brokers/eastmoney/settings.js';
import { FutuAdapter } from '../actors/brokers/futu/adapter.js';
import { futuSettings } from '../actors/brokers/futu/settings.js';
import { withMarketableLimits } from '../actors/brokers/marketable-limits.js';
import { PolledBroker } from '../actors/brokers/polled-broker.js';
import type { VenueAdapter } from '../actors/brokers/venue-adapter.js';
import { LIVE_BROKERS } from '../config/live-gate.js';
import type { Config } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import { sessionInstantOf } from '../domain/ids.js';

/** What a broker may need of the run besides the config: the latest prices (marketable limits). */
export interface AccountBrokerContext {
  readonly wall: SchedulerLike;
  readonly env: NodeJS.ProcessEnv;
  /** The latest price of a symbol (decimal string). */
  readonly price: (symbol: string) => string | undefined;
  readonly prevClose: (symbol: string) => string | undefined;
}

type Build = (config: Config, ctx: AccountBrokerContext) => AccountBroker;

const LIMIT_ONLY_FUTU_MARKETS: ReadonlySet<string> = new Set(['CN', 'HKCC']);

/** A venue adapter under the order tracker, on the run's wall clock. */
const tracked = (config: Config, ctx: AccountBrokerContext, adapter: VenueAdapter): AccountBroker =>
  new PolledBroker({
    adapter,
    scheduler: ctx.wall,
    isOurs: ownedBy(config.models.map((m) => m.signature)),
    sessionInstantOf: (cid) => sessionInstantOf(cid, config.market),
    pollMs: Math.round(config.broker.poll_seconds * 1000),
    unknownOutcomeGraceMs: Math.round(config.broker.unknown_outcome_grace_seconds * 1000),
  });

/** Limit orders only: a market order goes as a limit `market_collar_bps` through the latest price. */
const limitsOnly = (config: Config, ctx: AccountBrokerContext, adapter: VenueAdapter): VenueAdapter =>
  withMarketableLimits(adapter, { market: config.market, price: ctx.price, prevClose: ctx.prevClose, collarBps: config.broker.market_collar_bps });

/** The venue adapters (the protocol alone), for the account brokers below and the preflight's connection check. */
const ADAPTERS: Readonly<Partial<Record<Config['broker']['type'], (config: Config, ctx: Pick<AccountBrokerContext, 'wall' | 'env'>) => VenueAdapter>>> = {
  bridge: (config, ctx) => new BridgeAdapter({ ...bridgeSettings(config.broker, ctx.env), scheduler: ctx.wall }),
  futu: (config, ctx) => new FutuAdapter({ settings: futuSettings(config.broker, ctx.env), scheduler: ctx.wall }),
  eastmoney: (config, ctx) => new EastMoneyAdapter({ settings: eastmoneySettings(config.broker, ctx.env), scheduler: ctx.wall }),
};

/** The config's venue adapter, when its broker is one (not Alpaca, not simulated). */
export function venueAdapter(config: Config, ctx: Pick<AccountBrokerContext, 'wall' | 'env'>): VenueAdapter | undefined {
  return ADAPTERS[config.broker.type]?.(config, ctx);
}

const BUILDERS: Readonly<Partial<Record<Config['broker']['type'], Build>>> = {
  alpaca: (config, ctx) => {
    const s = alpacaSettings(config.broker, ctx.env);
    return new AlpacaBroker({
      baseUrl: s.baseUrl,
      streamUrl: s.streamUrl,
      keyId: s.keyId,
      secretKey: s.secretKey,
      scheduler: ctx.wall,
      isOurs: ownedBy(config.models.map((m) => m.signature)),
      requestTimeoutMs: s.requestTimeoutMs,
      retry: { maxRetries: s.maxRetries },
    });
  },
  bridge: (config, ctx) => tracked(config, ctx, limitsOnly(config, ctx, ADAPTERS.bridge!(config, ctx))),
  futu: (config, ctx) => {
    const adapter = ADAPTERS.futu!(config, ctx);
    // Stock Connect (and Futu's A-share accounts) take limit orders only; HK and US take market orders.
    return tracked(config, ctx, LIMIT_ONLY_FUTU_MARKETS.has(config.broker.futu?.trd_market ?? '') ? limitsOnly(config, ctx, adapter) : adapter);
  },
  eastmoney: (config, ctx) => tracked(config, ctx, limitsOnly(config, ctx, ADAPTERS.eastmoney!(config, ctx))),
};

/** The broker types with a row here (config/live-gate.ts LIVE_BROKERS must name the same: a test checks). */
export const LIVE_BROKER_TYPES = Object.keys(BUILDERS) as Config['broker']['type'][];

export function accountBroker(config: Config, ctx: AccountBrokerContext): AccountBroker {
  const build = LIVE_BROKERS.has(config.broker.type) ? BUILDERS[config.broker.type] : undefined;
  if (!build) throw new InputError(`broker.type: ${config.broker.type} has no live adapter (expected one of ${[...LIVE_BROKERS].join(', ')})`);
  return build(config, ctx);
}
