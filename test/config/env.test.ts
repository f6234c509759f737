import { describe, expect, it } from 'vitest';
import { readOptionalSecret, readSecret } from '../../src/config/env.js';
import { InputError } from '../../src/domain/errors.js';

describe('secrets from the environment', () => {
  it('reads the named variable', () => {
    expect(readSecret('MY_KEY', { MY_KEY: 'sk-1' })).toBe('sk-1');
    expect(readOptionalSecret(undefined, {})).toBeUndefined();
  });

  it('names a missing variable and the setting that asked for it', () => {
    expect(() => readSecret('OPENAI_API_KEY', {}, 'models[2].agent.api_key_env')).toThrow(
      'environment variable OPENAI_API_KEY is not set (named by models[2].agent.api_key_env)',
    );
    expect(() => readSecret('OPENAI_API_KEY', {})).toThrow(InputError);
    expect(() => readSecret('OPENAI_API_KEY', { OPENAI_API_KEY: '  ' })).toThrow(/OPENAI_API_KEY is empty/);
  });

  it('never puts a value in the message', () => {
    let message = '';
    try {
      readSecret('sk-live-SECRET', { 'sk-live-SECRET': 'x' });
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      message = (err as InputError).message + (err as InputError).problems.join('');
    }
    expect(message).toMatch(/not an environment variable name/);
    expect(message).not.toContain('SECRET');
  });
});
