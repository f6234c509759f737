/**
 * The gate in front of real money. `mode: live` with `broker.paper: true` trades the broker's
 * paper account; `broker.paper: false` trades real money and needs, besides the config, an
 * acknowledgement in the environment of the process that runs it:
 *
 *   AGENT_TRADER_LIVE=I_UNDERSTAND
 *
 * so that a config copied from somewhere, or a `paper: false` left in by mistake, cannot put
 * money at risk on its own: the person starting the process says so, each time, where the config
 * cannot say it for them. `run` and `config check --preflight` refuse (exit 2) without it, naming
 * the variable (src/config/preflight.ts); the runtime may call `liveGateProblems` again at start.
 */
import { eastmoneyGateProblems } from '../actors/brokers/eastmoney/settings.js';
import { submitBudgetMs } from '../actors/brokers/polled-broker.js';
import type { Config } from './schema.js';

export const LIVE_ACK_ENV = 'AGENT_TRADER_LIVE';
export const LIVE_ACK_VALUE = 'I_UNDERSTAND';

/** What kind of account a config trades: none (backtest, paper on the simulated venue), a broker's paper account, or real money. */
export type AccountKind = 'simulated' | 'paper' | 'real';

export function accountKind(config: Pick<Config, 'mode' | 'broker'>): AccountKind {
  if (config.mode !== 'live' || config.broker.type === 'simulated') return 'simulated';
  return config.broker.paper ? 'paper' : 'real';
}

/** Why this process may not trade this config's real-money account ([] when it may, or when no real money is involved). */
export function liveGateProblems(config: Pick<Config, 'mode' | 'broker'>, env: NodeJS.ProcessEnv): string[] {
  // A broker's own acknowledgements (EastMoney's unofficial API) come first, whatever the account.
  const own = config.mode === 'live' && config.broker.type === 'eastmoney' ? eastmoneyGateProblems(config, env) : [];
  if (accountKind(config) !== 'real') return own;
  return [...own, ...realMoneyProblems(env)];
}

function realMoneyProblems(env: NodeJS.ProcessEnv): string[] {
  const ack = env[LIVE_ACK_ENV];
  const how = `set ${LIVE_ACK_ENV}=${LIVE_ACK_VALUE} in the environment to confirm, or set broker.paper: true to trade the paper account`;
  // The value is not a secret, but it is not echoed either: it is the user's own words.
  if (ack === undefined) return [`broker.paper: false trades real money, but ${LIVE_ACK_ENV} is not set; ${how}`];
  if (ack !== LIVE_ACK_VALUE) return [`broker.paper: false trades real money, but ${LIVE_ACK_ENV} is not ${LIVE_ACK_VALUE}; ${how}`];
  return [];
}

/** Broker types a live run can trade through (src/runtime/account-brokers.ts has a row for each). */
export const LIVE_BROKERS: ReadonlySet<Config['broker']['type']> = new Set(['alpaca', 'bridge', 'eastmoney', 'futu']);

/** Whether this config trades a broker's account (src/runtime/live-broker.ts), else the simulated venue. */
export function tradesBrokerAccount(config: Pick<Config, 'mode' | 'broker'>): boolean {
  return config.mode === 'live' && LIVE_BROKERS.has(config.broker.type);
}

/**
 * The longest a broker request of ours may take, wall clock, before its outcome is unknown: every
 * attempt the client makes (`max_retries` + 1, each a request and a lookup by client order id, each
 * up to `request_timeout_seconds`) and the waits between them (at most a minute each: Retry-After
 * is capped there). The order machine waits this long for a submit's or a cancel's answer.
 */
export function brokerRequestBudgetMs(config: Pick<Config, 'broker'>): number {
  const b = config.broker;
  if (b.type === 'alpaca') {
    const attempts = (b.alpaca?.max_retries ?? 4) + 1;
    return attempts * 2 * (b.alpaca?.request_timeout_seconds ?? 10) * 1000 + (attempts - 1) * 60_000;
  }
  // The order tracker (polled-broker.ts): its own sends and waits, each request up to the broker's timeout.
  return submitBudgetMs(TRACKED_TIMEOUT_SECONDS[b.type](b) * 1000);
}

/** Each tracked broker's `request_timeout_seconds` (its own block), default 10. */
const TRACKED_TIMEOUT_SECONDS: Readonly<Record<Exclude<Config['broker']['type'], 'alpaca'>, (b: Config['broker']) => number>> = {
  futu: (b) => b.futu?.request_timeout_seconds ?? 10,
  bridge: (b) => b.bridge?.request_timeout_seconds ?? 10,
  eastmoney: (b) => b.eastmoney?.request_timeout_seconds ?? 10,
  simulated: () => 10,
};
