/**
 * `broker.bridge`: where the A-share terminal bridge (easytrader's `easytrader.server` shape, run
 * by the user beside their terminal) listens and how to log it in. Secrets (the trade password,
 * the communication password, a bearer token) come from environment variables the config names,
 * read here when the adapter is built; errors name the variable, never a value.
 *
 * This module must not import values from src/config/schema.ts: schema.ts imports
 * BridgeBrokerSchema from here, and a cycle of values would leave one side undefined at load.
 */
import { z } from 'zod';
import type { BrokerConfig } from '../../../config/schema.js';
import { readOptionalSecret } from '../../../config/env.js';
import { httpUrl } from '../../../config/urls.js';
import { InputError } from '../../../domain/errors.js';

/**
 * The client types easytrader's `use()` knows for an A-share terminal (`xq`, Xueqiu's
 * simulated portfolios, is not a terminal and is left out).
 */
export const BRIDGE_CLIENTS = ['universal_client', 'ths', 'ht_client', 'yh_client', 'gj_client', 'htzq_client', 'wk_client', 'gf_client', 'miniqmt'] as const;
export const BridgeClientSchema = z.enum(BRIDGE_CLIENTS, { error: `expected one of ${BRIDGE_CLIENTS.join(', ')}` });
export type BridgeClient = z.infer<typeof BridgeClientSchema>;

const ENV_NAME = 'expected the NAME of an environment variable (A-Z, 0-9, _)';
const EnvName = z.string({ error: ENV_NAME }).regex(/^[A-Z_][A-Z0-9_]*$/, { error: ENV_NAME });
const path = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

export const DEFAULT_BRIDGE_URL = 'http://127.0.0.1:1430';

export const BridgeBrokerSchema = z.strictObject({
  /** The bridge's HTTP base (easytrader's server listens on port 1430). */
  url: httpUrl().default(DEFAULT_BRIDGE_URL),
  /** easytrader's client type: which terminal the bridge drives. */
  client: BridgeClientSchema.default('universal_client'),
  /** The terminal's xiadan.exe on the Windows machine (sent to /prepare as `exe_path`). */
  exe_path: path('the path of the terminal (xiadan.exe) on the bridge machine').optional(),
  /** NAME of the env var holding the communication password some terminals ask for. */
  comm_password_env: EnvName.optional(),
  /** miniQMT: its userdata_mini folder (sent to /prepare as `miniqmt_path`). */
  miniqmt_path: path("miniQMT's userdata_mini folder").optional(),
  /** NAME of the env var holding a bearer token the bridge (a guard in front of it) checks. */
  token_env: EnvName.optional(),
  /** POST /prepare at connect; false when the user has prepared (logged in) the bridge themselves. */
  prepare: z.boolean({ error: 'expected true or false' }).default(true),
  request_timeout_seconds: z.number({ error: 'expected seconds > 0' }).gt(0, { error: 'expected seconds > 0' }).default(10),
});
export type BridgeBrokerConfig = z.infer<typeof BridgeBrokerSchema>;

/** What /prepare is sent (easytrader's RemoteClient.prepare parameters). */
export interface BridgeLogin {
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly exePath?: string | undefined;
  readonly commPassword?: string | undefined;
  readonly miniqmtPath?: string | undefined;
}

export interface BridgeSettings {
  /** No trailing slash. */
  readonly baseUrl: string;
  readonly client: BridgeClient;
  readonly token?: string | undefined;
  /** Undefined: do not POST /prepare (the user prepared the bridge). */
  readonly login?: BridgeLogin | undefined;
  readonly requestTimeoutMs: number;
}

export function bridgeSettings(broker: BrokerConfig, env: NodeJS.ProcessEnv = process.env): BridgeSettings {
  if (broker.type !== 'bridge') throw new InputError(`broker.type: expected bridge, got ${broker.type}`);
  // Parsed here too, so the settings are whole whether or not the config loader ran the schema.
  const parsed = BridgeBrokerSchema.safeParse(broker.bridge ?? {});
  if (!parsed.success) throw new InputError(`broker.bridge: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const b = parsed.data;
  const token = readOptionalSecret(b.token_env, env, 'broker.bridge.token_env');
  const login: BridgeLogin | undefined = b.prepare
    ? {
        user: broker.account_id,
        password: readOptionalSecret(broker.password_env, env, 'broker.password_env'),
        exePath: b.exe_path,
        commPassword: readOptionalSecret(b.comm_password_env, env, 'broker.bridge.comm_password_env'),
        miniqmtPath: b.miniqmt_path,
      }
    : undefined;
  if (login && b.client === 'miniqmt' && (login.miniqmtPath === undefined || login.user === undefined)) {
    throw new InputError('broker.bridge: a miniqmt bridge is prepared with broker.account_id (the fund account) and broker.bridge.miniqmt_path (its userdata_mini folder); set both, or prepare: false');
  }
  return { baseUrl: b.url.replace(/\/+$/, ''), client: b.client, token, login, requestTimeoutMs: Math.round(b.request_timeout_seconds * 1000) };
}
