/**
 * The parts every runtime (backtest, paper, live) builds the same way from the config:
 * the engine's budgets, the agents' deciders, the ledger's labels and universe, and the
 * per-signature runs a report is built from. One place, so the modes cannot drift.
 */
import { basename } from 'node:path';
import { DateTime } from 'luxon';
import { SYMBOL_PATTERNS, type Config, type ModelConfig } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import type { Frequency, Market } from '../domain/markets.js';
import { aiTraderLabel } from '../domain/ai-trader-labels.js';
import { MARKETS } from '../domain/markets.js';
import { CASH_RULES } from '../domain/money.js';
import { brokerRequestBudgetMs, tradesBrokerAccount } from '../config/live-gate.js';
import { CASH_KEY } from '../domain/position-log.js';
import type { EngineInput } from '../machines/engine.machine.js';
import type { SignatureRun } from '../report/index.js';
import type { Decider } from '../actors/agents/agent.js';
import { createLlmDecider, type LlmWiring } from '../actors/agents/llm/index.js';
import { loadReplayLog, replayDecider, type ReplayLog } from '../actors/agents/replay-agent.js';
import { rulesDecider } from '../actors/agents/rules-agent.js';
import { loadStrategy, moduleDecider } from '../actors/agents/module-agent.js';
import { realTimers } from '../actors/agents/llm/timers.js';
import type { PointInTimeView } from '../domain/point-in-time.js';
import type { PriceSource } from '../domain/price-store.js';
import { SimulatedBroker, type SimulatedBrokerState, type VenueBooks, type VenueOrderState } from '../actors/brokers/simulated-broker.js';
import { Ledger } from '../actors/ledger/ledger.js';
import type { Store } from '../actors/store/store.js';
import { withRunDetails } from '../report/collect.js';
import { SessionTally } from './session-tally.js';

/** Where the simulated venue's books are kept in the store. */
export const VENUE_KEY = 'venue';
/** One record per venue order, keyed by client order id (the snapshot holds only accounts and liquidity). */
export const VENUE_ORDERS_SUBLEVEL = 'venue-orders';
/** Where the stop-loss watcher's records are kept (which positions already fired). */
export const WATCHER_KEY = 'stop-loss';

/**
 * Budgets per session step and order timeouts, from the config. `timeScale` stretches the
 * session steps' budgets (time to fetch, read the ledger, decide, record) when the clock
 * runs faster than the wall (a replay at 390x): they bound processing, which takes wall
 * time. Order timeouts stay in market time: a limit order rests 5 market minutes.
 */
export function engineInput(config: Config, timeScale = 1): EngineInput {
  const sessionMs = config.agent_config.session_deadline_seconds * 1000 * timeScale;
  const limitMs = config.execution.limit_order_timeout_seconds * 1000;
  // A broker over the network: its answer may take the client's whole retry budget (wall time, so
  // stretched by a replay's speed); the simulated venue answers at once and keeps its 30 s.
  const requestMs = tradesBrokerAccount(config) ? Math.max(30_000, brokerRequestBudgetMs(config)) * timeScale : 30_000;
  return {
    market: config.market,
    frequency: config.frequency,
    agents: config.models.map((m) => ({ signature: m.signature, enabled: m.enabled })),
    budgets: {
      fetchingMs: 60_000 * timeScale,
      analyzingMs: 60_000 * timeScale,
      decidingMs: sessionMs,
      executingMs: limitMs + 120_000 * timeScale + (requestMs > 30_000 ? requestMs : 0),
      recordingMs: 60_000 * timeScale,
    },
    maxIntents: config.risk_control.max_orders_per_session,
    orders: {
      outsideHours: config.execution.orders_outside_hours,
      queuedLimitBand: config.execution.queued_limit_band,
      submitTimeoutMs: requestMs,
      cancelTimeoutMs: requestMs,
      limitTimeoutMs: limitMs,
      queryRetryMs: requestMs,
    },
    historyLimit: 50,
  };
}

/** Each replayed log, read once (the deciders and the position.jsonl universe both need it). */
export async function loadReplayLogs(config: Config): Promise<Map<string, ReplayLog>> {
  const logs = new Map<string, ReplayLog>();
  for (const [i, m] of config.models.entries()) {
    if (m.agent.kind !== 'replay') continue;
    const log = await loadReplayLog(m.agent.log_file);
    const problem = replayLogMismatch(log, config.market, config.frequency);
    if (problem) throw new InputError(`models[${i}].agent.log_file ${m.agent.log_file} ${problem}`);
    logs.set(m.signature, log);
  }
  return logs;
}

const MARKET_SYMBOLS: Readonly<Record<Market, string>> = { cn: 'cn (A-share) symbols', us: 'us symbols' };
/** AI-Trader's record dates: a day for daily runs, a bar's time for hourly ones. */
const LABEL_SHAPES: Readonly<Record<Frequency, { re: RegExp; name: string }>> = {
  daily: { re: /^\d{4}-\d{2}-\d{2}$/, name: 'daily' },
  hourly: { re: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/, name: 'hourly' },
};

/**
 * Why a replayed AI-Trader log cannot drive a run of this market and bar interval (its symbols
 * are of another market, its record dates of another interval), or undefined. Such a log asks
 * for nothing a session could match: the run would hold all along and end with exit 0.
 */
export function replayLogMismatch(log: ReplayLog, market: Market, frequency: Frequency): string | undefined {
  if (log.keyedBy === 'instant') return undefined; // our own transcripts: keyed by the session instant
  const symbols = [...new Set(log.records.flatMap((r) => [...Object.keys(r.positions), ...(r.this_action?.symbol ? [r.this_action.symbol] : [])]))].filter((s) => s !== CASH_KEY);
  const foreign = symbols.filter((s) => !SYMBOL_PATTERNS[market].re.test(s));
  if (foreign.length > 0) {
    const other = (Object.keys(SYMBOL_PATTERNS) as Market[]).find((k) => k !== market && foreign.every((s) => SYMBOL_PATTERNS[k].re.test(s)));
    const what = other ? MARKET_SYMBOLS[other] : `symbols that are not ${MARKET_SYMBOLS[market]}`;
    return `holds ${what} (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}), but market is ${market}`;
  }
  const odd = log.records.find((r) => !LABEL_SHAPES[frequency].re.test(r.date));
  if (odd) {
    const other = (Object.keys(LABEL_SHAPES) as Frequency[]).find((f) => f !== frequency && LABEL_SHAPES[f].re.test(odd.date));
    return `holds ${other ? LABEL_SHAPES[other].name : 'other'} records (dates like ${JSON.stringify(odd.date)}), but frequency is ${frequency}`;
  }
  return undefined;
}

async function deciderFor(model: ModelConfig, config: Config, logs: ReadonlyMap<string, ReplayLog>, llm: LlmWiring): Promise<Decider> {
  const agent = model.agent;
  switch (agent.kind) {
    case 'rules':
      return rulesDecider(agent, { market: config.market, minCash: String(config.risk_control.min_cash_reserve) });
    case 'replay':
      return replayDecider(logs.get(model.signature)!, { labelOf: (at) => aiTraderLabel(at, config.frequency, config.market) });
    case 'llm':
      return createLlmDecider({ ...model, agent }, config, llm);
    case 'module':
      return moduleDecider(await loadStrategy(agent, config.models.indexOf(model)), {
        market: config.market,
        frequency: config.frequency,
        params: agent.params,
        deadlineMs: agent.deadline_seconds * 1000,
        // Wall time, as an LLM's deadline: the same injected timers.
        timers: llm.timers ?? realTimers,
        name: basename(agent.path),
      });
  }
}

/** The decider of every enabled model, by signature. */
export async function buildDeciders(config: Config, logs: ReadonlyMap<string, ReplayLog>, llm: LlmWiring): Promise<Record<string, Decider>> {
  const deciders: Record<string, Decider> = {};
  for (const m of config.models.filter((x) => x.enabled)) deciders[m.signature] = await deciderFor(m, config, logs, llm);
  return deciders;
}

/** Symbol order for position.jsonl: a replayed AI-Trader log's own (so files compare with AI-Trader's), else the given symbols. */
export function universeOf(symbols: readonly string[], logs: ReadonlyMap<string, ReplayLog>): { universe: string[]; startDate?: string } {
  const log = [...logs.values()].find((l) => l.records.length > 0);
  if (log) {
    const first = log.records[0];
    const held = Object.keys(first?.positions ?? {}).filter((s) => s !== CASH_KEY);
    return { universe: held, ...(first ? { startDate: first.date } : {}) };
  }
  return { universe: [...symbols] };
}

/** AI-Trader's `date` of a session record (its label), else the instant in the exchange zone. */
export function dateLabelFor(config: Config): (at: DateTime) => string {
  const zone = MARKETS[config.market].zone;
  return (at) => aiTraderLabel(at, config.frequency, config.market) ?? at.setZone(zone).toFormat(config.frequency === 'daily' ? 'yyyy-LL-dd' : 'yyyy-LL-dd HH:mm:ss');
}

/**
 * `signatureRuns` with what the report reads from the store besides the ledger (report/collect.ts):
 * the fills in the order the ledger booked them (round trips, per-symbol PnL, turnover) and the
 * LLM agents' tokens and cost; open lots are marked at the price `view` gives at the last session.
 */
export async function detailedRuns(config: Config, ledger: Ledger, store: Store, view: (at: DateTime) => PointInTimeView): Promise<SignatureRun[]> {
  return withRunDetails(signatureRuns(config, ledger), store, {
    market: config.market,
    priceAt: (symbol, at) => view(DateTime.fromISO(at, { setZone: true })).price(symbol)?.price.toFixed(),
    llmSignatures: config.models.filter((m) => m.enabled && m.agent.kind === 'llm').map((m) => m.signature),
    atSession: config.mode === 'backtest',
  });
}

/** Session outcomes of each ledger restoreLedger built (signatureRuns takes only the ledger). */
const tallies = new WeakMap<Ledger, SessionTally>();

/** What a report is built from, per enabled signature (a disabled model did not trade: no row), out of the ledger. */
export function signatureRuns(config: Config, ledger: Ledger): SignatureRun[] {
  const tally = tallies.get(ledger);
  return config.models.filter((m) => m.enabled).map((m) => {
    const s = ledger.summary(m.signature);
    const curve = ledger.equityCurve(m.signature);
    return {
      signature: m.signature,
      initialValue: String(m.initial_cash),
      // As of the final value's instant (the last session), as position.jsonl's last record.
      finalCash: curve.at(-1)?.cash ?? s.cash,
      curve,
      orders: s.orders,
      fills: s.fills,
      rejected: s.rejections,
      fees: s.fees,
      ...(tally ? { sessions: tally.counts(m.signature) } : {}),
    };
  });
}

/** The simulated venue of the config, filling from `prices` at `now`, restored from the store when it has one. */
export async function simulatedVenue(config: Config, prices: PriceSource, now: () => DateTime, store: Store): Promise<SimulatedBroker> {
  const venue = await loadVenueState(store);
  return new SimulatedBroker({
    market: config.market,
    rules: config.broker.rules,
    store: prices,
    now,
    fees: config.broker.fees,
    slippageBps: config.broker.slippage_bps,
    maxVolumeShare: config.broker.max_volume_share,
    accounts: Object.fromEntries(config.models.map((m) => [m.signature, { cash: String(m.initial_cash) }])),
    ...(venue ? { state: venue } : {}),
  });
}

/**
 * The venue's committed state: the books snapshot and one record per order. A snapshot from
 * before per-order records still holds its orders; a record of the same order wins.
 */
export async function loadVenueState(store: Store): Promise<SimulatedBrokerState | undefined> {
  const books = await store.loadSnapshot<Partial<SimulatedBrokerState> & VenueBooks>(VENUE_KEY);
  if (!books) return undefined;
  const orders = new Map<string, VenueOrderState>();
  for (const o of books.orders ?? []) orders.set(o.order.clientOrderId, o);
  for await (const { key, value } of store.listRecords<VenueOrderState>(VENUE_ORDERS_SUBLEVEL)) orders.set(key, value);
  return { accounts: books.accounts, liquidity: books.liquidity, orders: [...orders.values()] };
}

/** The ledger of every model, restored from the store; position.jsonl under `outDir/<signature>/`. */
export async function restoreLedger(
  config: Config,
  store: Store,
  outDir: string,
  view: (at: DateTime) => PointInTimeView,
  symbols: readonly string[],
  logs: ReadonlyMap<string, ReplayLog>,
): Promise<Ledger> {
  const { universe, startDate } = universeOf(symbols, logs);
  const tally = await SessionTally.of(store);
  const ledger = await Ledger.restore({
    market: config.market,
    frequency: config.frequency,
    signatures: config.models.map((m) => ({ signature: m.signature, initialCash: String(m.initial_cash) })),
    store,
    stateDir: outDir,
    view,
    dateLabel: dateLabelFor(config),
    // A broker's account books cash its own way (money.ts CashRule); the ledger books it the same.
    cashRule: tradesBrokerAccount(config) ? 'cent-even' : CASH_RULES[config.broker.rules],
    universe,
    ...(startDate ? { startDate } : {}),
  });
  tally.watch(ledger);
  tallies.set(ledger, tally);
  return ledger;
}
