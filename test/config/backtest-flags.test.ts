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
    const bars = join(ROOT, 'data/sample/cn_daily.jsonl');
    const two = await backtestConfig({ bars, replayLog: ['logs/cn-daily.gpt-5.position.jsonl', 'logs/cn-daily.deepseek-chat-v3.1.position.jsonl'] }, '/tmp');
    expect(two.models.map((m) => [m.signature, m.agent.kind === 'replay' && m.agent.log_file])).toEqual([
      ['gpt-5', '/tmp/logs/cn-daily.gpt-5.position.jsonl'],
      ['deepseek-chat-v3.1', '/tmp/logs/cn-daily.deepseek-chat-v3.1.position.jsonl'],
    ]);
    const one = await backtestConfig({ bars, replayLog: ['a.jsonl'], signature: 'mine' }, '/tmp');
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
    const bars = 'data/sample/cn_daily.jsonl';
    await expect(backtestConfig({ bars, market: 'hk' }, ROOT)).rejects.toThrow(ConfigError);
    const err = await backtestConfig({ bars, cash: 'lots' }, ROOT).catch((e: ConfigError) => e);
    expect((err as ConfigError).problems.join('\n')).toMatch(/agent_config\.initial_cash: expected .*got "lots"/);
    await expect(backtestConfig({})).rejects.toThrow(/--bars FILE/);
    await expect(backtestConfig({ bars: 'x', replayLog: ['a', 'b'], signature: 's' })).rejects.toThrow(InputError);
  });

  it('reads the market and the bar interval from the bars when neither flag nor file gives them', async () => {
    const us = await backtestConfig({ bars: 'data/sample/us_hourly.jsonl' }, ROOT);
    expect([us.market, us.frequency]).toEqual(['us', 'hourly']);
    // The market's own defaults follow (US hourly trigger times), as if --market us were given.
    expect(us.schedule.trigger_times).toEqual(['10:05', '11:05', '12:05', '13:05', '14:05', '15:05']);
    const cn = await backtestConfig({ bars: 'data/sample/cn_hourly.jsonl' }, ROOT);
    expect([cn.market, cn.frequency]).toEqual(['cn', 'hourly']);
  });

  it('refuses flags and keys that contradict the bars, naming both sides, every problem at once', async () => {
    const fail = (flags: Parameters<typeof backtestConfig>[0]) => backtestConfig(flags, ROOT).then(() => undefined, (e: InputError) => e);
    const market = await fail({ bars: 'data/sample/cn_daily.jsonl', market: 'us' });
    expect(market).toBeInstanceOf(InputError);
    expect(market!.message).toBe('--market us, but data/sample/cn_daily.jsonl holds cn (A-share) bars (600519.SH, 601318.SH, 600036.SH, ...)');
    const two = await fail({ bars: 'data/sample/cn_daily.jsonl', frequency: 'hourly', to: '2026-01-31' });
    expect(two!.message).toBe('2 problems with the bars in data/sample/cn_daily.jsonl');
    expect(two!.problems).toEqual([
      '--frequency hourly, but data/sample/cn_daily.jsonl holds daily bars ("Time Series (Daily)") (600519.SH, 601318.SH, 600036.SH, ...)',
      '--to 2026-01-31 is after the last bar of data/sample/cn_daily.jsonl (2025-11-19); the bars cover 2025-10-09..2025-11-19',
    ]);
    const from = await fail({ bars: 'data/sample/us_hourly.jsonl', from: '2025-09-01' });
    expect(from!.message).toMatch(/^--from 2025-09-01 is before the first bar of data\/sample\/us_hourly\.jsonl \(2025-\d\d-\d\d\); the bars cover /);
    // A config key is named as a key of its file; the file's relative bars path as written there.
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bt-'));
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ market: 'us', data_source: { bars_file: join(ROOT, 'data/sample/cn_daily.jsonl') }, models: [{ name: 'a', signature: 'a', agent: { kind: 'rules' } }] }));
    const key = await fail({ config: file });
    expect(key!.message).toMatch(/^market "us" in .*c\.json, but .*cn_daily\.jsonl holds cn \(A-share\) bars/);
  });

  it('refuses a config that names no prices', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bt-'));
    await writeFile(join(dir, 'c.json'), JSON.stringify({ models: [{ name: 'a', signature: 'a', agent: { kind: 'rules' } }] }));
    await expect(backtestConfig({ config: join(dir, 'c.json') })).rejects.toThrow(/data_source\.bars_file/);
  });
});
