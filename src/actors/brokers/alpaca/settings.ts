/**
 * `broker` config -> AlpacaBroker connection settings. The keys are read from the environment
 * variables the config names (`api_key_env`, `api_secret_env`), at the moment the broker is built;
 * errors name the variable, never a value. Defaults: the paper or live endpoint by `paper`, the
 * stream at `<base_url as ws(s)>/stream`.
 */
import type { BrokerConfig } from '../../../config/schema.js';
import { readSecret } from '../../../config/env.js';
import { InputError } from '../../../domain/errors.js';

export const ALPACA_PAPER_URL = 'https://paper-api.alpaca.markets';
export const ALPACA_LIVE_URL = 'https://api.alpaca.markets';

export interface AlpacaSettings {
  readonly baseUrl: string;
  readonly streamUrl: string;
  readonly keyId: string;
  readonly secretKey: string;
  readonly requestTimeoutMs: number;
  readonly maxRetries: number;
}

/** The REST base: `base_url`, else Alpaca's paper or live endpoint by `paper`; no trailing slash. */
export function alpacaBaseUrl(broker: Pick<BrokerConfig, 'base_url' | 'paper'>): string {
  return (broker.base_url ?? (broker.paper ? ALPACA_PAPER_URL : ALPACA_LIVE_URL)).replace(/\/+$/, '');
}

export function alpacaSettings(broker: BrokerConfig, env: NodeJS.ProcessEnv = process.env): AlpacaSettings {
  if (broker.type !== 'alpaca') throw new InputError(`broker.type: expected alpaca, got ${broker.type}`);
  if (!broker.api_key_env || !broker.api_secret_env) throw new InputError('broker.api_key_env and broker.api_secret_env must name the variables holding the Alpaca key id and secret');
  const baseUrl = alpacaBaseUrl(broker);
  const streamUrl = broker.alpaca?.stream_url ?? `${baseUrl.replace(/^http/, 'ws')}/stream`;
  return {
    baseUrl,
    streamUrl,
    keyId: readSecret(broker.api_key_env, env, 'broker.api_key_env'),
    secretKey: readSecret(broker.api_secret_env, env, 'broker.api_secret_env'),
    requestTimeoutMs: Math.round((broker.alpaca?.request_timeout_seconds ?? 10) * 1000),
    maxRetries: broker.alpaca?.max_retries ?? 4,
  };
}
