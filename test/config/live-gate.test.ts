/**
 * The gate in front of real money: `mode: live` on Alpaca trades the paper account with
 * `broker.paper: true`; `broker.paper: false` also needs AGENT_TRADER_LIVE=I_UNDERSTAND; and the
 * preflight asks the fake Alpaca (its own process) for /v2/account with the real client.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { accountKind, LIVE_ACK_ENV, LIVE_ACK_VALUE, liveGateProblems } from '../../src/config/live-gate.js';
import { parseConfig } from '../../src/config/load.js';
import { preflight } from '../../src/config/preflight.js';
import { ROOT } from '../support/cli.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { until } from '../support/fake-alpaca/harness.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';

const rules = { name: 'EW', signature: 'ew', agent: { kind: 'rules' } };


/** A live US config on Alpaca; `broker` overrides the broker section. */
const live = (broker: Record<string, unknown>, raw: Record<string, unknown> = {}) =>
  parseConfig(
    {
      mode: 'live',
      market: 'us',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl') },
      broker: { type: 'alpaca', api_key_env: 'LG_KEY', api_secret_env: 'LG_SECRET', ...broker },
      server: { port: 0 },
      models: [rules],
      ...raw,
    },
    'test',
    { baseDir: ROOT },
  );

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected the config to be refused');
}

describe('live gate: the config', () => {
  it('live on Alpaca is a valid config: paper account or real money', () => {
    expect(accountKind(live({ paper: true }))).toBe('paper');
    expect(accountKind(live({ paper: false }))).toBe('real');
    expect(accountKind(parseConfig({ models: [rules] }, 'test'))).toBe('simulated');
  });

  it("refuses a paper config pointed at Alpaca's real-money endpoint, and a real-money one at the paper endpoint", () => {
    expect(problemsOf(() => live({ base_url: 'https://api.alpaca.markets' }))).toEqual([
      'broker.base_url: expected Alpaca\'s paper endpoint (https://paper-api.alpaca.markets) when broker.paper is true: api.alpaca.markets trades real money, got "https://api.alpaca.markets"',
    ]);
    expect(problemsOf(() => live({ paper: false, base_url: 'https://paper-api.alpaca.markets/' }))).toEqual([
      "broker.paper: expected true: broker.base_url is Alpaca's paper endpoint (paper-api.alpaca.markets), got false",
    ]);
    // Any other host is the user's choice (a proxy, the local fake).
    expect(live({ base_url: 'http://127.0.0.1:9' }).broker.base_url).toBe('http://127.0.0.1:9');
  });
});

describe('live gate: the acknowledgement', () => {
  const real = live({ paper: false });

  it('real money without AGENT_TRADER_LIVE, or with another value, is refused naming the variable', () => {
    expect(liveGateProblems(real, {})).toEqual([
      'broker.paper: false trades real money, but AGENT_TRADER_LIVE is not set; set AGENT_TRADER_LIVE=I_UNDERSTAND in the environment to confirm, or set broker.paper: true to trade the paper account',
    ]);
    expect(liveGateProblems(real, { [LIVE_ACK_ENV]: 'yes' })).toEqual([
      'broker.paper: false trades real money, but AGENT_TRADER_LIVE is not I_UNDERSTAND; set AGENT_TRADER_LIVE=I_UNDERSTAND in the environment to confirm, or set broker.paper: true to trade the paper account',
    ]);
    expect(liveGateProblems(real, { [LIVE_ACK_ENV]: LIVE_ACK_VALUE })).toEqual([]);
  });

  it('the paper account needs no acknowledgement', () => {
    expect(liveGateProblems(live({ paper: true }), {})).toEqual([]);
  });
});

describe('live gate: the preflight against the fake Alpaca', () => {
  let fake: FakeAlpacaProcess;
  beforeAll(async () => {
    fake = await FakeAlpacaProcess.start();
  });
  afterAll(() => fake.stop());

  const keys = () => ({ LG_KEY: fake.key, LG_SECRET: fake.secret });

  it('the paper account: keys set and /v2/account answered by the real client', async () => {
    const c = live({ paper: true, base_url: fake.baseUrl });
    expect(await preflight(c, { env: keys() })).toEqual([]);
    const state = await fake.state();
    expect(state.requests.filter((r) => r.method === 'GET' && r.path === '/v2/account').map((r) => r.status)).toEqual([200]);
  });

  it('real money: the acknowledgement is required, then the account is asked', async () => {
    const c = live({ paper: false, base_url: fake.baseUrl });
    const without = await preflight(c, { env: keys() });
    expect(without).toEqual([expect.stringContaining('AGENT_TRADER_LIVE is not set')]);
    expect(await preflight(c, { env: { ...keys(), [LIVE_ACK_ENV]: LIVE_ACK_VALUE } })).toEqual([]);
  });

  it('names missing keys by their variable, and wrong keys by the variables that hold them, never the values', async () => {
    const c = live({ paper: true, base_url: fake.baseUrl });
    expect(await preflight(c, { env: { LG_KEY: fake.key } })).toEqual(['broker.api_secret_env: environment variable LG_SECRET is not set']);
    const wrong = await preflight(c, { env: { LG_KEY: 'PKWRONGKEY', LG_SECRET: 'wrong-secret-value' } });
    expect(wrong).toEqual([`broker.api_key_env: Alpaca refused the keys in LG_KEY and LG_SECRET at ${fake.baseUrl}/v2/account (401); they must be the paper account's keys`]);
    expect(wrong.join('\n')).not.toMatch(/PKWRONGKEY|wrong-secret-value/);
  });

  it('an account endpoint that fails or does not answer is a problem with the reason', async () => {
    const c = live({ paper: true, base_url: fake.baseUrl });
    await fake.fault('GET', '/v2/account', { kind: 'status', status: 503, message: 'maintenance' });
    expect(await preflight(c, { env: keys() })).toEqual([`broker.base_url: ${fake.baseUrl}/v2/account did not give the account: 503 50300000 maintenance`]);
    // No answer: the client's deadline, on virtual time, fired once the request is at the fake.
    await fake.fault('GET', '/v2/account', { kind: 'hang' });
    const scheduler = new EpochVirtualScheduler(0);
    const asked = (await fake.state()).requests.length;
    const pending = preflight(c, { env: keys(), timeoutMs: 5_000, scheduler });
    await until(async () => (await fake.state()).requests.length > asked, 'the account request at the fake');
    scheduler.advanceTo(5_000);
    expect(await pending).toEqual([`broker.base_url: cannot reach ${fake.baseUrl}/v2/account: no answer within 5000 ms`]);
  });

  it('an endpoint nobody listens on: connection refused', async () => {
    const c = live({ paper: true, base_url: 'http://127.0.0.1:9' });
    const [problem] = await preflight(c, { env: { LG_KEY: 'k', LG_SECRET: 's' } });
    expect(problem).toMatch(/^broker\.base_url: cannot reach http:\/\/127\.0\.0\.1:9\/v2\/account: connection failed: /);
  });
});
