import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli as runCli } from '../support/cli.js';

const cli = (...args: string[]) => runCli(args);

async function tempConfig(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-cli-'));
  const file = join(dir, 'config.json');
  await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

describe('npm run cli -- config check', () => {
  it('prints a one-line summary and exits 0 for a valid config', async () => {
    const file = await tempConfig({
      market: 'us',
      frequency: 'hourly',
      models: [
        { name: 'a', signature: 'rules-equal', agent: { kind: 'rules' } },
        { name: 'b', signature: 'llm-off', enabled: false, agent: { kind: 'llm', basemodel: 'm', base_url: 'http://127.0.0.1:9/v1' } },
      ],
    });
    const r = cli('config', 'check', file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `ok: ${file} — backtest us hourly, 2 models (rules-equal, llm-off [disabled]), broker simulated/strict, state_dir state\n`,
    );
  });

  it('checks the bundled default config', () => {
    const r = cli('config', 'check', 'config/default.json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'ok: config/default.json — paper us hourly, 2 models (rules-equal-weight, rules-momentum), broker simulated/strict, state_dir state\n',
    );
  });

  it('exits 2 and prints every problem on stderr for a bad config', async () => {
    const file = await tempConfig({
      mode: 'demo',
      risk_control: { stop_loss_ratio: '8%', stop_los_ratio: 0.1 },
      models: [{ name: 'a', signature: 'a', agent: { kind: 'rules' } }],
    });
    const r = cli('config', 'check', file);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        `error: invalid config ${file}: 3 problems`,
        '  mode: expected one of backtest, paper, live, got "demo"',
        '  risk_control.stop_loss_ratio: expected a number between 0 and 1, got "8%"',
        '  risk_control.stop_los_ratio: unknown key (did you mean stop_loss_ratio?)',
        '',
      ].join('\n'),
    );
  });

  it('exits 2 with its own message for a missing file, a non-JSON file and a JSON with comments', async () => {
    expect(cli('config', 'check', 'config/missing.json')).toMatchObject({
      code: 2,
      stderr: 'error: config file not found: config/missing.json\n',
    });
    const notJson = await tempConfig('mode: backtest\n');
    expect(cli('config', 'check', notJson)).toMatchObject({
      code: 2,
      stderr: `error: ${notJson}: not valid JSON at line 1, column 1: unexpected "mode", expected a value\n`,
    });
    const withComments = await tempConfig('{\n  "mode": "backtest", /* paper later */\n  "models": []\n}\n');
    expect(cli('config', 'check', withComments)).toMatchObject({
      code: 2,
      stderr: `error: ${withComments}: JSON does not allow comments (line 2); remove them\n`,
    });
  });

  it('config show prints the resolved config as JSON', () => {
    const r = cli('config', 'show', 'config/us-hourly.json');
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as { market: string; schedule: { close_grace_minutes: number }; agent_config: { initial_cash: number } };
    expect(shown.market).toBe('us');
    expect(shown.schedule.close_grace_minutes).toBe(0);
    expect(shown.agent_config.initial_cash).toBe(10000);
  });
});
