import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backtestConfig, signatureFromLogName } from '../../src/config/backtest-flags.js';
import { ConfigError } from '../../src/config/errors.js';
import { InputError } from '../../src/domain/errors.js';
import { ROOT } from '../support/cli.js';

describe('backtest flags over the config', () => {
  it('needs no config file: flags alone make a valid config', async () => {
    const c = await backtestConfig({ market: 'us', frequency: 'hourly', bars: 'data/sample/us_hourly.jsonl', cash: '25000', from: '2025-10-01', to: '2025-10-10' }, ROOT);
    expect(c).toMatchObject({
      mode: 'backtest',
      market: 'us',
      frequency: 'hourly',
      date_range: { from: '2025-10-01', to: '2025-10-10' },
      models: [{ signature: 'rules-equal-weight', initial_cash: 25000, agent: { kind: 'rules', strategy: 'equal_weight' } }],
    });
    expect(c.data_source.bars_file).toBe(join(ROOT, 'data/sample/us_hourly.jsonl'));
    expect(c.schedule.trigger_times).toEqual(['10:05', '11:05', '12:05', '13:05', '14:05', '15:05']);
  });

  it('replays one agent per log, named after the file, or as --signature says', async () => {
    const two = await backtestConfig({ bars: 'x.jsonl', replayLog: ['logs/cn-daily.gpt-5.position.jsonl', 'logs/cn-daily.deepseek-chat-v3.1.position.jsonl'] }, '/tmp');
    expect(two.models.map((m) => [m.signature, m.agent.kind === 'replay' && m.agent.log_file])).toEqual([
      ['gpt-5', '/tmp/logs/cn-daily.gpt-5.position.jsonl'],
      ['deepseek-chat-v3.1', '/tmp/logs/cn-daily.deepseek-chat-v3.1.position.jsonl'],
    ]);
    const one = await backtestConfig({ bars: 'x.jsonl', replayLog: ['a.jsonl'], signature: 'mine' }, '/tmp');
    expect(one.models.map((m) => m.signature)).toEqual(['mine']);
    expect(signatureFromLogName('/x/us-60min.deepseek-chat-v3.1.position.jsonl')).toBe('deepseek-chat-v3.1');
  });

  it('lays flags over a config file: flags win, the file keeps its own relative paths', async () => {
    const c = await backtestConfig({ config: 'config/cn-daily.json', rules: 'ai-trader', to: '2025-10-31' }, ROOT);
    expect(c.broker.rules).toBe('ai-trader');
    expect(c.date_range?.to).toBe('2025-10-31');
    expect(c.data_source.bars_file).toBe(join(ROOT, 'data/sample/cn_daily.jsonl'));
    expect(c.models.map((m) => m.signature)).toEqual(['rules-equal-weight', 'rules-momentum']);
  });

  it('words a bad flag like a bad key', async () => {
    await expect(backtestConfig({ bars: 'x.jsonl', market: 'hk' })).rejects.toThrow(ConfigError);
    const err = await backtestConfig({ bars: 'x.jsonl', cash: 'lots' }).catch((e: ConfigError) => e);
    expect((err as ConfigError).problems.join('\n')).toMatch(/agent_config\.initial_cash: expected .*got "lots"/);
    await expect(backtestConfig({})).rejects.toThrow(/--bars FILE/);
    await expect(backtestConfig({ bars: 'x', replayLog: ['a', 'b'], signature: 's' })).rejects.toThrow(InputError);
  });

  it('refuses a config that names no prices', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bt-'));
    await writeFile(join(dir, 'c.json'), JSON.stringify({ models: [{ name: 'a', signature: 'a', agent: { kind: 'rules' } }] }));
    await expect(backtestConfig({ config: join(dir, 'c.json') })).rejects.toThrow(/data_source\.bars_file/);
  });
});
