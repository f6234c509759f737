/**
 * `broker.eastmoney` (EXPERIMENTAL): EastMoney's web trading session (jywg.18.cn), which has no
 * official API. It is off unless the person running the process says yes twice, in the config
 * (`acknowledge_unofficial: true`) and in the environment of that process:
 *
 *   AGENT_TRADER_EASTMONEY=I_ACCEPT_UNOFFICIAL_API
 *
 * (like src/config/live-gate.ts: a config copied from somewhere cannot switch it on by itself).
 * The session is the user's own: they log in in their browser and hand over the cookie and the
 * page's `validatekey` through the variables `cookie_env` / `validatekey_env` name; we never
 * see a password and never solve a captcha. Read-only unless `trading: true`, and trading needs
 * both per-order caps. Every problem message names the field or the variable, never a value.
 *
 * No runtime import of ../../../config/schema.ts: schema.ts imports this schema (one line in
 * BrokerSchema), and an import back would be a cycle evaluated before its constants exist.
 */
import { z } from 'zod';
import type { BrokerConfig, Config } from '../../../config/schema.js';
import { httpUrl } from '../../../config/urls.js';
import { InputError } from '../../../domain/errors.js';

export const EASTMONEY_ACK_ENV = 'AGENT_TRADER_EASTMONEY';
export const EASTMONEY_ACK_VALUE = 'I_ACCEPT_UNOFFICIAL_API';
export const EASTMONEY_BASE_URL = 'https://jywg.18.cn';

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const ENV_MSG = 'expected the name of an environment variable (like EASTMONEY_COOKIE: A-Z, 0-9, _)';
const envName = () => z.string({ error: ENV_MSG }).regex(ENV_NAME, { error: ENV_MSG });
const SHARES_MSG = 'expected a whole number of shares >= 1';
const VALUE_MSG = 'expected an amount of CNY > 0 and at most 10^12';
const SECONDS_MSG = 'expected seconds > 0';

export const EastMoneyBrokerSchema = z.strictObject({
  /** Must be `true` to enable the adapter: the API is unofficial and may break or breach the account's terms. */
  acknowledge_unofficial: z.literal(true, { error: 'expected true (the EastMoney web API is unofficial: see docs/brokers/eastmoney.md)' }).optional(),
  base_url: httpUrl().default(EASTMONEY_BASE_URL),
  /** NAME of the variable holding the browser session's Cookie header (the whole `a=b; c=d` line). */
  cookie_env: envName().default('EASTMONEY_COOKIE'),
  /** NAME of the variable holding the trading page's `validatekey` (its hidden input em_validatekey). */
  validatekey_env: envName().default('EASTMONEY_VALIDATEKEY'),
  /** false: funds, positions and orders only; nothing is ever sent that could place or cancel an order. */
  trading: z.boolean().default(false),
  /** Per-order caps, checked before anything is sent; both required when `trading` is true. */
  max_order_shares: z.int({ error: SHARES_MSG }).min(1, { error: SHARES_MSG }).optional(),
  max_order_value: z.number({ error: VALUE_MSG }).gt(0, { error: VALUE_MSG }).max(1_000_000_000_000, { error: VALUE_MSG }).optional(),
  request_timeout_seconds: z.number({ error: SECONDS_MSG }).gt(0, { error: SECONDS_MSG }).default(10),
});
export type EastMoneyBrokerConfig = z.output<typeof EastMoneyBrokerSchema>;

/** The caps an order is checked against before it is sent (adapter.ts `checkOrder`). */
export interface EastMoneyLimits {
  readonly trading: boolean;
  readonly maxOrderShares?: number | undefined;
  /** CNY, decimal string. */
  readonly maxOrderValue?: string | undefined;
}

export interface EastMoneySettings extends EastMoneyLimits {
  readonly baseUrl: string;
  readonly cookie: string;
  readonly validatekey: string;
  readonly requestTimeoutMs: number;
}

/** The broker block as far as this module needs it (a BrokerConfig once schema.ts has the `eastmoney` key). */
type EastMoneyBrokerBlock = Pick<BrokerConfig, 'type' | 'paper'> & { readonly eastmoney?: EastMoneyBrokerConfig | undefined };

/**
 * Why this process may not use the EastMoney adapter of this config ([] when it may, or when the
 * config does not use it: `broker.type` is not eastmoney or the mode is not live).
 */
export function eastmoneyGateProblems(config: Pick<Config, 'mode'> & { readonly broker: EastMoneyBrokerBlock }, env: NodeJS.ProcessEnv): string[] {
  if (config.mode !== 'live' || config.broker.type !== 'eastmoney') return [];
  return brokerProblems(config.broker, env);
}

function brokerProblems(broker: EastMoneyBrokerBlock, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const em = broker.eastmoney;
  const docs = 'see docs/brokers/eastmoney.md';
  if (em?.acknowledge_unofficial !== true) {
    problems.push(`broker.eastmoney.acknowledge_unofficial is not true: EastMoney's web session is an unofficial API that may break or breach the account's terms; set it to true to accept that (${docs})`);
  }
  // The value is not a secret, but it is not echoed either: it is the user's own words.
  const ack = env[EASTMONEY_ACK_ENV];
  if (ack === undefined) problems.push(`${EASTMONEY_ACK_ENV} is not set; set ${EASTMONEY_ACK_ENV}=${EASTMONEY_ACK_VALUE} in the environment to use EastMoney's unofficial web API (${docs})`);
  else if (ack !== EASTMONEY_ACK_VALUE) problems.push(`${EASTMONEY_ACK_ENV} is not ${EASTMONEY_ACK_VALUE}; set ${EASTMONEY_ACK_ENV}=${EASTMONEY_ACK_VALUE} to use EastMoney's unofficial web API (${docs})`);
  const cookieEnv = em?.cookie_env ?? 'EASTMONEY_COOKIE';
  const keyEnv = em?.validatekey_env ?? 'EASTMONEY_VALIDATEKEY';
  for (const [name, field, what] of [
    [cookieEnv, 'broker.eastmoney.cookie_env', "the browser session's Cookie header"],
    [keyEnv, 'broker.eastmoney.validatekey_env', "the trading page's validatekey"],
  ] as const) {
    const value = env[name];
    if (value === undefined || value.trim() === '') problems.push(`environment variable ${name} (named by ${field}) is ${value === undefined ? 'not set' : 'empty'}: it must hold ${what} (${docs})`);
    // A header value with a line break would smuggle headers into every request.
    else if (/[\r\n\0]/.test(value)) problems.push(`environment variable ${name} (named by ${field}) holds a line break or NUL: copy ${what} as one line`);
  }
  if (em?.trading) {
    if (em.max_order_shares === undefined) problems.push('broker.eastmoney.trading is true but broker.eastmoney.max_order_shares is not set: trading needs a per-order cap on shares');
    if (em.max_order_value === undefined) problems.push('broker.eastmoney.trading is true but broker.eastmoney.max_order_value is not set: trading needs a per-order cap on value (CNY)');
    // EastMoney has no paper account: every order is real money, so the live gate (AGENT_TRADER_LIVE, the live ramp) must apply.
    if (broker.paper !== false) problems.push('broker.paper must be false with broker.type eastmoney and trading on: EastMoney has no paper account, every order is real money');
  }
  return problems;
}

/** `broker` config + environment -> the adapter's settings; an InputError listing every gate problem otherwise. */
export function eastmoneySettings(broker: EastMoneyBrokerBlock, env: NodeJS.ProcessEnv = process.env): EastMoneySettings {
  if (broker.type !== 'eastmoney') throw new InputError(`broker.type: expected eastmoney, got ${broker.type}`);
  const problems = brokerProblems(broker, env);
  if (problems.length > 0) throw new InputError('the EastMoney web session may not be used', problems);
  const em = EastMoneyBrokerSchema.parse(broker.eastmoney ?? {});
  return {
    baseUrl: em.base_url.replace(/\/+$/, ''),
    cookie: env[em.cookie_env]!.trim(),
    validatekey: env[em.validatekey_env]!.trim(),
    trading: em.trading,
    maxOrderShares: em.max_order_shares,
    maxOrderValue: em.max_order_value === undefined ? undefined : String(em.max_order_value),
    requestTimeoutMs: Math.round(em.request_timeout_seconds * 1000),
  };
}
