/** `config check --preflight` and `run` refuse, before anything starts, a valid config this machine cannot run. */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync, ROOT } from '../support/cli.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';

/** Real money needs a capital ramp (test/config/live-gate.test.ts). */
const LIVE_RAMP = { live_ramp: { start_cap: 1000, growth_per_trading_day: 500, max: 5000 } };

describe('agent-trader config check --preflight, and run', () => {
  it('lists every problem at once and exits 2; plain config check still says ok; run starts nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-preflight-'));
    const file = join(dir, 'paper.json');
    const stateDir = join(dir, 'state');
    await writeFile(
      file,
      JSON.stringify({
        mode: 'paper',
        market: 'us',
        frequency: 'hourly',
        data_source: { type: 'replay', bars_file: join(ROOT, 'data/sample/cn_daily.jsonl') },
        models: [{ name: 'GPT', signature: 'gpt', agent: { kind: 'llm', basemodel: 'm', base_url: 'http://127.0.0.1:9/v1', api_key_env: 'AGENT_TRADER_PREFLIGHT_TEST_KEY' } }],
        server: { port: 0 },
        state_dir: stateDir,
      }),
    );
    const env = { ...process.env };
    delete env['AGENT_TRADER_PREFLIGHT_TEST_KEY'];
    const [plain, pre, run] = await Promise.all([
      cliAsync(['config', 'check', file], { env }),
      cliAsync(['config', 'check', '--preflight', file], { env }),
      cliAsync(['run', '--config', file], { env }),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^ok: /);
    const problems = [
      'models[0].agent.api_key_env: environment variable AGENT_TRADER_PREFLIGHT_TEST_KEY is not set',
      'data_source.bars_file: market "us", but data/sample/cn_daily.jsonl holds cn (A-share) bars',
      'data_source.bars_file: frequency "hourly", but data/sample/cn_daily.jsonl holds daily bars',
    ];
    for (const r of [pre, run]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`error: ${file} cannot run here: 3 problems (preflight)`);
      for (const p of problems) expect(r.stderr).toContain(`  ${p}`);
    }
    expect(existsSync(stateDir)).toBe(false);
    // Three Node processes compiling TypeScript at once: more than the default on a busy CI box.
  }, 60_000);

  it('says ok, and that the preflight passed, to a config that can run here', async () => {
    const ok = await cliAsync(['config', 'check', '--preflight', 'config/cn-daily.json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: config\/cn-daily\.json — backtest cn daily, .*; preflight passed$/m);
  });

  it('live on Alpaca with real money: refused without AGENT_TRADER_LIVE=I_UNDERSTAND (naming it), passed with it; the keys are never printed', async () => {
    const fake = await FakeAlpacaProcess.start();
    try {
      const dir = await mkdtemp(join(tmpdir(), 'agent-trader-preflight-live-'));
      const file = join(dir, 'live.json');
      const stateDir = join(dir, 'state');
      await writeFile(
        file,
        JSON.stringify({
          mode: 'live',
          market: 'us',
          frequency: 'hourly',
          data_source: { type: 'replay', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl') },
          broker: { type: 'alpaca', paper: false, base_url: fake.baseUrl, api_key_env: 'AT_TEST_ALPACA_KEY', api_secret_env: 'AT_TEST_ALPACA_SECRET' },
          risk_control: LIVE_RAMP,
          models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules' } }],
          server: { port: 0 },
          state_dir: stateDir,
        }),
      );
      const env: NodeJS.ProcessEnv = { ...process.env, AT_TEST_ALPACA_KEY: fake.key, AT_TEST_ALPACA_SECRET: fake.secret };
      delete env['AGENT_TRADER_LIVE'];
      const [pre, run] = await Promise.all([cliAsync(['config', 'check', '--preflight', file], { env }), cliAsync(['run', '--config', file], { env })]);
      for (const r of [pre, run]) {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`error: ${file} cannot run here: 1 problem (preflight)`);
        expect(r.stderr).toContain('broker.paper: false trades real money, but AGENT_TRADER_LIVE is not set; set AGENT_TRADER_LIVE=I_UNDERSTAND');
        expect(r.stdout + r.stderr).not.toContain(fake.key);
        expect(r.stdout + r.stderr).not.toContain(fake.secret);
      }
      expect(existsSync(stateDir)).toBe(false);
      const ok = await cliAsync(['config', 'check', '--preflight', file], { env: { ...env, AGENT_TRADER_LIVE: 'I_UNDERSTAND' } });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^ok: .* — live us hourly, .*broker alpaca\/strict.*; preflight passed$/m);
      expect(ok.stdout).not.toContain(fake.key);
      // Every preflight asked the account (every check runs, every problem is listed), with the right keys.
      expect((await fake.state()).requests.filter((r) => r.path === '/v2/account').map((r) => r.status)).toEqual([200, 200, 200]);
    } finally {
      await fake.stop();
    }
  }, 60_000);
});
