/**
 * The gate in front of real money: `mode: live` on Alpaca trades the paper account with
 * `broker.paper: true`; `broker.paper: false` also needs AGENT_TRADER_LIVE=I_UNDERSTAND; and the
 * preflight asks the fake Alpaca (its own process) for /v2/account with the real client.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveRampDeps } from '../../src/actors/risk/live-ramp-days.js';
import { openStore } from '../../src/actors/store/store.js';
import { ConfigError } from '../../src/config/errors.js';
import { accountKind, LIVE_ACK_ENV, LIVE_ACK_VALUE, liveGateProblems } from '../../src/config/live-gate.js';
import { parseConfig } from '../../src/config/load.js';
import { preflight } from '../../src/config/preflight.js';
import { ROOT } from '../support/cli.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { until } from '../support/fake-alpaca/harness.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';

const rules = { name: 'EW', signature: 'ew', agent: { kind: 'rules' } };
const RAMP = { start_cap: 1000, growth_per_trading_day: 500, max: 5000 };


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
    expect(accountKind(live({ paper: false }, { risk_control: { live_ramp: RAMP } }))).toBe('real');
    expect(accountKind(parseConfig({ models: [rules] }, 'test'))).toBe('simulated');
  });

  it("refuses a paper config pointed at Alpaca's real-money endpoint, and a real-money one at the paper endpoint", () => {
    expect(problemsOf(() => live({ base_url: 'https://api.alpaca.markets' }))).toEqual([
      'broker.base_url: expected Alpaca\'s paper endpoint (https://paper-api.alpaca.markets) when broker.paper is true: api.alpaca.markets trades real money, got "https://api.alpaca.markets"',
    ]);
    expect(problemsOf(() => live({ paper: false, base_url: 'https://paper-api.alpaca.markets/' }, { risk_control: { live_ramp: RAMP } }))).toEqual([
      "broker.paper: expected true: broker.base_url is Alpaca's paper endpoint (paper-api.alpaca.markets), got false",
    ]);
    // Any other host is the user's choice (a proxy, the local fake).
    expect(live({ base_url: 'http://127.0.0.1:9' }).broker.base_url).toBe('http://127.0.0.1:9');
  });
});

describe('live gate: the capital ramp', () => {
  it('real money needs risk_control.live_ramp; the paper account does not', () => {
    expect(problemsOf(() => live({ paper: false }))).toEqual([
      'risk_control.live_ramp: expected a capital ramp ({ "start_cap", "growth_per_trading_day", "max" }) when broker.paper is false: real money starts small, got nothing (required)',
    ]);
    expect(live({ paper: true }).risk_control.live_ramp).toBeUndefined();
    expect(live({ paper: false }, { risk_control: { live_ramp: { start_cap: 1000, max: 1000 } } }).risk_control.live_ramp).toEqual({ start_cap: 1000, growth_per_trading_day: 0, max: 1000 });
  });

  it('refuses a max below the start, and amounts that are not amounts', () => {
    expect(problemsOf(() => live({ paper: false }, { risk_control: { live_ramp: { start_cap: 1000, growth_per_trading_day: -1, max: 500 } } }))).toEqual([
      'risk_control.live_ramp.growth_per_trading_day: expected an amount from 0 to 10^12 with at most 6 decimals, got -1',
      'risk_control.live_ramp.max: expected at least start_cap (1000), got 500',
    ]);
    expect(problemsOf(() => live({ paper: false }, { risk_control: { live_ramp: { start_cap: 1000, max: 500 } } }))).toEqual([
      'risk_control.live_ramp.max: expected at least start_cap (1000), got 500',
    ]);
  });

  it('the risk actor gets the ramp live on a broker account (paper or real) with a ramp set, and never off live', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-ramp-'));
    const store = await openStore(join(dir, 'state'));
    try {
      expect(await liveRampDeps(parseConfig({ models: [rules], risk_control: { live_ramp: RAMP } }, 'test'), store)).toBeUndefined();
      expect(await liveRampDeps(live({ paper: true }), store)).toBeUndefined();
      const paper = await liveRampDeps(live({ paper: true }, { risk_control: { live_ramp: RAMP } }), store);
      const real = await liveRampDeps(live({ paper: false }, { risk_control: { live_ramp: RAMP } }), store);
      expect(paper?.ramp).toEqual(RAMP);
      // The paper account's first day is not real money's: a rehearsal does not shorten the real ramp.
      expect(await paper!.firstDay('ew', '2025-11-03')).toBe('2025-11-03');
      expect(await real!.firstDay('ew', '2025-11-10')).toBe('2025-11-10');
      expect(await paper!.firstDay('ew', '2025-11-10')).toBe('2025-11-03');
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('live gate: the acknowledgement', () => {
  const real = live({ paper: false }, { risk_control: { live_ramp: RAMP } });

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
    const c = live({ paper: false, base_url: fake.baseUrl }, { risk_control: { live_ramp: RAMP } });
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
