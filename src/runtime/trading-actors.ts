/**
 * The risk and broker system actors, wired the same way for a backtest and a paper or live
 * run: what differs between them (the mode, the kill switch, who counts what is in flight) is
 * a parameter, not a second copy of the wiring.
 */
import type { DateTime } from 'luxon';
import type { Config } from '../config/schema.js';
import { brokerActor } from '../actors/brokers/broker-actor.js';
import type { Broker, OrderEstimates } from '../actors/brokers/broker.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import { haltsSignature, type KillSwitch } from '../actors/risk/kill-switch.js';
import { storeRiskJournal } from '../actors/risk/risk-journal.js';
import { riskActor, type RiskActorDeps } from '../actors/risk/risk.actor.js';
import type { Store } from '../actors/store/store.js';
import type { InFlight } from '../domain/in-flight.js';
import type { OrderResult } from '../domain/orders.js';
import { dec } from '../domain/money.js';
import type { PriceSource } from '../domain/price-store.js';
import type { TradingMode } from '../domain/risk/checks.js';
import { committedBuyCash } from './commitments.js';
import type { EngineRuntime } from './engine-runtime.js';
import type { ProgramTrading } from './program-trading.js';

export interface TradingActorsOptions {
  readonly mode: TradingMode;
  readonly config: Config;
  readonly store: Store;
  readonly ledger: Ledger;
  readonly prices: PriceSource;
  readonly broker: Broker & Partial<OrderEstimates>;
  readonly now: () => DateTime;
  readonly killSwitch: Pick<KillSwitch, 'state' | 'watch'>;
  /** The stop-loss guard's answer to its own orders. */
  readonly onProtectiveResult: (result: OrderResult) => void;
  /** The engine, once started (committed buys are read from its open orders). */
  readonly engine: () => Pick<EngineRuntime, 'actor'> | undefined;
  /** data_source.symbols: what the run trades; absent, any symbol with prices. */
  readonly universe?: readonly string[];
  /** A backtest counts every request it starts, to move virtual time only when none is in flight. */
  readonly inFlight?: InFlight;
  /** Live on a broker's account: each signature's capital cap of the day (risk_control.live_ramp). */
  readonly liveRamp?: RiskActorDeps['liveRamp'];
  /** Live on a broker's account: what the real account may still buy, asked before each buy. */
  readonly buyingPower?: RiskActorDeps['buyingPower'];
  /** The account's program-trading tally: counted at the broker edge, checked by risk. */
  readonly programTrading?: ProgramTrading;
  /** The risk limits now (a reloaded config's); absent: the config's. */
  readonly riskLimits?: RiskActorDeps['limits'];
  /** Told how to ask risk outside a session (the control layer's flatten). */
  readonly exposeRisk?: RiskActorDeps['expose'];
}

/** The `risk` and `broker` actors of the engine; the risk decisions recorded before a restart are read first. */
export async function tradingActors(o: TradingActorsOptions) {
  const nowMs = () => o.now().toMillis();
  const risk = storeRiskJournal(o.store);
  const priceOf = (symbol: string) => o.prices.priceAsOf(symbol, o.now())?.price.toFixed();
  const riskLogic = riskActor({
    mode: o.mode,
    market: o.config.market,
    riskConfig: o.config.risk_control,
    staleQuoteSeconds: o.config.data_source.stale_quote_seconds,
    account: (signature, at) => o.ledger.getAccount(signature, at),
    quote: (symbol) => {
      const p = o.prices.priceAsOf(symbol, o.now());
      return p && { price: p.price.toFixed(), atMs: p.at.toMillis() };
    },
    knownSymbol: (symbol) => o.prices.has(symbol),
    previousClose: (symbol) => o.prices.previousClose(symbol, o.now())?.price.toFixed(),
    ...(o.universe ? { universe: o.universe } : {}),
    fees: o.config.broker.fees,
    // Priced as the venue fills and charges (its rules, its labelled bar), never by a second table.
    ...(o.broker.estimate ? { estimate: o.broker.estimate.bind(o.broker) } : {}),
    now: nowMs,
    killSwitch: o.killSwitch,
    onProtectiveResult: o.onProtectiveResult,
    journal: risk.journal,
    history: await risk.history(),
    ...(o.inFlight ? { inFlight: o.inFlight } : {}),
    ...(o.liveRamp ? { liveRamp: o.liveRamp } : {}),
    ...(o.buyingPower ? { buyingPower: o.buyingPower } : {}),
    ...(o.programTrading ? { programTrading: () => o.programTrading!.view() } : {}),
    ...(o.riskLimits ? { limits: o.riskLimits } : {}),
    ...(o.exposeRisk ? { expose: o.exposeRisk } : {}),
    committedCash: (signature) => {
      const engine = o.engine();
      return engine ? committedBuyCash(engine, signature, priceOf) : dec(0);
    },
  });
  // The kill switch at the edge: read for every submit, after the commit that recorded it.
  const brokerLogic = brokerActor(o.broker, nowMs, {
    afterCommit: (effect) => o.store.afterCommit(effect),
    halted: (signature) => {
      const ks = o.killSwitch.state();
      return haltsSignature(ks, signature) ? { reason: ks.reason, at: ks.at } : undefined;
    },
    ...(o.inFlight ? { inFlight: o.inFlight } : {}),
    ...(o.programTrading ? { onAction: (a: 'order' | 'cancel') => o.programTrading!.record(a) } : {}),
  });
  return { risk: riskLogic, broker: brokerLogic };
}
