/** `broker` config -> Alpaca connection settings: endpoints by `paper`, keys from the named variables, never their values in an error. */
import { describe, expect, it } from 'vitest';
import { alpacaSettings } from '../../src/actors/brokers/alpaca/settings.js';
import { parseConfig } from '../../src/config/load.js';
import { InputError } from '../../src/domain/errors.js';

const models = [{ name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }];
// Real money (paper: false) needs its capital ramp (src/config/live-gate.ts).
const config = (broker: Record<string, unknown>, mode = 'live') =>
  parseConfig({ mode, market: 'us', data_source: { type: 'replay', bars_file: 'data/sample/us_hourly.jsonl' }, broker: { type: 'alpaca', api_key_env: 'APCA_KEY', api_secret_env: 'APCA_SECRET', ...broker }, risk_control: { live_ramp: { start_cap: 1000, max: 5000 } }, models }, 'test').broker;
const env = { APCA_KEY: 'PKTESTKEY', APCA_SECRET: 'test-secret-value' };

describe('alpacaSettings', () => {
  it('paper: the paper endpoint and its stream, the keys from the environment, the defaults', () => {
    expect(alpacaSettings(config({}), env)).toEqual({
      baseUrl: 'https://paper-api.alpaca.markets',
      streamUrl: 'wss://paper-api.alpaca.markets/stream',
      keyId: 'PKTESTKEY',
      secretKey: 'test-secret-value',
      requestTimeoutMs: 10_000,
      maxRetries: 4,
    });
  });

  it('live: the live endpoint; base_url and broker.alpaca override', () => {
    expect(alpacaSettings(config({ paper: false }), env)).toMatchObject({ baseUrl: 'https://api.alpaca.markets', streamUrl: 'wss://api.alpaca.markets/stream' });
    const local = alpacaSettings(config({ base_url: 'http://127.0.0.1:9000/', alpaca: { request_timeout_seconds: 2.5, max_retries: 0 } }), env);
    expect(local).toMatchObject({ baseUrl: 'http://127.0.0.1:9000', streamUrl: 'ws://127.0.0.1:9000/stream', requestTimeoutMs: 2_500, maxRetries: 0 });
    expect(alpacaSettings(config({ alpaca: { stream_url: 'wss://example.test/stream' } }), env).streamUrl).toBe('wss://example.test/stream');
  });

  it('a missing variable is named, and no secret value is ever in the error', () => {
    const err = (() => {
      try {
        alpacaSettings(config({}), { APCA_KEY: 'PKTESTKEY' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe('environment variable APCA_SECRET is not set (named by broker.api_secret_env)');
    expect((err as Error).message).not.toContain('PKTESTKEY');
  });

  it('broker.alpaca refuses unknown keys and bad values', () => {
    const problems = (broker: Record<string, unknown>) => {
      try {
        config(broker);
        return [];
      } catch (e) {
        return (e as InputError).problems;
      }
    };
    expect(problems({ alpaca: { request_timeout_seconds: 0 } })).toEqual(['broker.alpaca.request_timeout_seconds: expected seconds > 0, got 0']);
    expect(problems({ alpaca: { retries: 2 } })[0]).toMatch(/^broker\.alpaca\.retries: unknown key/);
  });
});
