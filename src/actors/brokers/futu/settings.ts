/**
 * `broker.futu` (type futu) and the FutuAdapter's settings built from the whole `broker` block:
 *
 *   broker:
 *     type: futu
 *     paper: true                 # true: Futu's simulate environment (TrdEnv 0); false: real (1)
 *     account_id: "281756..."     # optional: else the one OpenD account of that env and market
 *     password_env: FUTU_TRADE_PWD  # the real env's trade password (md5 sent to UnlockTrade)
 *     futu:
 *       host: 127.0.0.1
 *       websocket_port: 33333
 *       websocket_key_env: FUTU_WS_KEY
 *       trd_market: CN            # HK | US | CN | HKCC
 *       request_timeout_seconds: 10
 *
 * Secrets are read from the variables named, when the adapter is built; errors name the variable,
 * never a value. This module imports from src/config only types (config/schema.ts imports the
 * schema from here, so a value import back would be a cycle).
 */
import { z } from 'zod';
import type { BrokerConfig } from '../../../config/schema.js';
import { readSecret } from '../../../config/env.js';
import { InputError } from '../../../domain/errors.js';
import type { FutuMarket } from './symbols.js';

const ENV_NAME = 'expected the name of an environment variable (like FUTU_WS_KEY: A-Z, 0-9, _)';
const PORT = 'expected a port number from 1 to 65535';

export const FutuBrokerSchema = z.strictObject({
  /** Where OpenD runs (its `ip` / `websocket_ip`). */
  host: z.string({ error: 'expected a host name or address' }).min(1, { error: 'expected a host name or address' }).default('127.0.0.1'),
  /** OpenD's `websocket_port` (not its TCP `api_port`). */
  websocket_port: z.int({ error: PORT }).min(1, { error: PORT }).max(65_535, { error: PORT }).default(33333),
  /** wss:// (OpenD configured with a websocket certificate and key). */
  tls: z.boolean().default(false),
  /** NAME of the env var holding OpenD's `websocket_key`; absent when OpenD has none. */
  websocket_key_env: z.string({ error: ENV_NAME }).regex(/^[A-Z_][A-Z0-9_]*$/, { error: ENV_NAME }).optional(),
  trd_market: z.enum(['HK', 'US', 'CN', 'HKCC'], { error: 'expected HK, US, CN or HKCC' }),
  request_timeout_seconds: z.number({ error: 'expected seconds > 0' }).gt(0, { error: 'expected seconds > 0' }).default(10),
  /** KeepAlive every this many seconds; 0 turns it off. */
  keep_alive_seconds: z.number({ error: 'expected seconds >= 0' }).min(0, { error: 'expected seconds >= 0' }).default(10),
});
export type FutuBrokerConfig = z.infer<typeof FutuBrokerSchema>;

export interface FutuSettings {
  readonly url: string;
  readonly websocketKey: string | undefined;
  /** 0 simulate (paper), 1 real. */
  readonly trdEnv: 0 | 1;
  readonly market: FutuMarket;
  /** The configured account (broker.account_id), else chosen from GetAccList. */
  readonly accountId: string | undefined;
  /** The real env's trade password (undefined in simulate: never unlocked there). */
  readonly tradePassword: string | undefined;
  readonly requestTimeoutMs: number;
  readonly keepAliveIntervalMs: number | false;
}

/** What one connection to OpenD needs, whatever it is for (trading, or quotes: data_source.type broker). */
export type FutuConnectionSettings = Pick<FutuSettings, 'url' | 'websocketKey' | 'requestTimeoutMs' | 'keepAliveIntervalMs'>;

/** The connection's settings from `broker.futu` (the websocket key read from the variable it names; never the trade password). */
export function futuConnectionSettings(broker: BrokerConfig, env: NodeJS.ProcessEnv = process.env): FutuConnectionSettings {
  if (broker.type !== 'futu') throw new InputError(`broker.type: expected futu, got ${broker.type}`);
  const f = broker.futu;
  if (!f) throw new InputError('broker.futu is required for type futu (at least trd_market: HK, US, CN or HKCC)');
  return {
    url: `${f.tls ? 'wss' : 'ws'}://${f.host.includes(':') ? `[${f.host}]` : f.host}:${f.websocket_port}`,
    websocketKey: f.websocket_key_env ? readSecret(f.websocket_key_env, env, 'broker.futu.websocket_key_env') : undefined,
    requestTimeoutMs: Math.round(f.request_timeout_seconds * 1000),
    keepAliveIntervalMs: f.keep_alive_seconds > 0 ? Math.round(f.keep_alive_seconds * 1000) : false,
  };
}

export function futuSettings(broker: BrokerConfig, env: NodeJS.ProcessEnv = process.env): FutuSettings {
  if (broker.type !== 'futu') throw new InputError(`broker.type: expected futu, got ${broker.type}`);
  const f = broker.futu;
  if (!f) throw new InputError('broker.futu is required for type futu (at least trd_market: HK, US, CN or HKCC)');
  const trdEnv = broker.paper ? 0 : 1;
  if (trdEnv === 1 && !broker.password_env) throw new InputError('broker.password_env must name the variable holding the Futu trade password (the real environment is unlocked with it)');
  if (broker.account_id !== undefined && !/^\d+$/.test(broker.account_id)) throw new InputError('broker.account_id: expected a Futu account id (digits only)');
  return {
    ...futuConnectionSettings(broker, env),
    trdEnv,
    market: f.trd_market,
    accountId: broker.account_id,
    tradePassword: trdEnv === 1 ? readSecret(broker.password_env!, env, 'broker.password_env') : undefined,
  };
}
