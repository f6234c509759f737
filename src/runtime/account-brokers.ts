/**
 * `broker.type` -> the account broker a live run trades through (account-broker.ts): one row per
 * real broker, each building its client from the config and the environment (keys are read here,
 * at start, and never kept in the config).
 */
import type { SchedulerLike } from 'rxjs';
import type { AccountBroker } from '../actors/brokers/account-broker.js';
import { AlpacaBroker, ownedBy } from '../actors/brokers/alpaca/alpaca-broker.js';
import { alpacaSettings } from '../actors/brokers/alpaca/settings.js';
import type { Config } from '../config/schema.js';
import { InputError } from '../domain/errors.js';

type Build = (config: Config, env: NodeJS.ProcessEnv, wall: SchedulerLike) => AccountBroker;

const BUILDERS: Readonly<Partial<Record<Config['broker']['type'], Build>>> = {
  alpaca: (config, env, wall) => {
    const s = alpacaSettings(config.broker, env);
    return new AlpacaBroker({
      baseUrl: s.baseUrl,
      streamUrl: s.streamUrl,
      keyId: s.keyId,
      secretKey: s.secretKey,
      scheduler: wall,
      isOurs: ownedBy(config.models.map((m) => m.signature)),
      requestTimeoutMs: s.requestTimeoutMs,
      retry: { maxRetries: s.maxRetries },
    });
  },
};

/** The broker types a live run can trade through. */
export const LIVE_BROKER_TYPES = Object.keys(BUILDERS) as Config['broker']['type'][];

export function accountBroker(config: Config, env: NodeJS.ProcessEnv, wall: SchedulerLike): AccountBroker {
  const build = BUILDERS[config.broker.type];
  if (!build) throw new InputError(`broker.type: ${config.broker.type} has no live adapter (expected one of ${LIVE_BROKER_TYPES.join(', ')})`);
  return build(config, env, wall);
}
