/**
 * Secrets come from the environment only: the config names the variable
 * (`api_key_env: "OPENAI_API_KEY"`), the value is read here at the moment it is
 * needed. Errors name the variable, never a value.
 */
import { InputError } from '../domain/errors.js';

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * The value of the environment variable `envName`, which must be set and non-empty.
 * `usedBy` (e.g. `broker.api_key_env`) says in the error which setting asked for it.
 */
export function readSecret(envName: string, env: NodeJS.ProcessEnv = process.env, usedBy?: string): string {
  const by = usedBy ? ` (named by ${usedBy})` : '';
  if (!ENV_NAME.test(envName)) {
    throw new InputError(`not an environment variable name${by}: use A-Z, 0-9 and _ only`);
  }
  const value = env[envName];
  if (value === undefined || value.trim() === '') {
    throw new InputError(`environment variable ${envName} is ${value === undefined ? 'not set' : 'empty'}${by}`, [
      `set it before starting, e.g. export ${envName}=...  (secrets are never read from the config file)`,
    ]);
  }
  return value;
}

/** Like readSecret, but `undefined` when no variable is named (an optional secret). */
export function readOptionalSecret(
  envName: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  usedBy?: string,
): string | undefined {
  return envName === undefined ? undefined : readSecret(envName, env, usedBy);
}
