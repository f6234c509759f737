import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  findComments,
  loadConfig,
  missingFiles,
  parseJsonText,
  resolveConfigPath,
} from '../../src/config/load.js';
import { InputError } from '../../src/domain/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLES = ['default', 'cn-daily', 'cn-hourly', 'us-hourly'].map((n) => join(ROOT, 'config', `${n}.json`));

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-config-'));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function refusal(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect(err).toBeInstanceOf(InputError);
  return err as ConfigError;
}

describe('the example configs', () => {
  it('default path is config/default.json at the repo root', () => {
    expect(DEFAULT_CONFIG_PATH).toBe(join(ROOT, 'config', 'default.json'));
    expect(resolveConfigPath()).toBe(DEFAULT_CONFIG_PATH);
    expect(resolveConfigPath('config/us-hourly.json')).toBe(resolve('config/us-hourly.json'));
  });

  it.each(EXAMPLES)('%s parses', async (file) => {
    const c = await loadConfig(file);
    expect(c.models.length).toBeGreaterThan(0);
    expect(c.state_dir).toBe(join(ROOT, 'state'));
    expect(c.data_source.bars_file?.startsWith(join(ROOT, 'data', 'sample'))).toBe(true);
  });

  it('default (npm start): paper trading of two rule agents on a replayed US day of the sample', async () => {
    const c = await loadConfig(DEFAULT_CONFIG_PATH);
    expect([c.mode, c.market, c.frequency]).toEqual(['paper', 'us', 'hourly']);
    expect([c.data_source.type, c.data_source.replay_url, c.data_source.replay_speed]).toEqual(['replay', undefined, 390]);
    expect(c.data_source.bars_file).toBe(join(ROOT, 'data/sample/us_hourly.jsonl'));
    expect(c.models.map((m) => [m.signature, m.agent.kind === 'rules' && m.agent.strategy])).toEqual([
      ['rules-equal-weight', 'equal_weight'],
      ['rules-momentum', 'momentum'],
    ]);
  });

  it('cn-daily: A-share daily backtest on the sample with two rule agents', async () => {
    const c = await loadConfig(join(ROOT, 'config/cn-daily.json'));
    expect([c.mode, c.market, c.frequency]).toEqual(['backtest', 'cn', 'daily']);
    expect(c.data_source.bars_file).toBe(join(ROOT, 'data/sample/cn_daily.jsonl'));
    expect(c.data_source.benchmark_file).toBe(join(ROOT, 'data/sample/sse50_index_daily.json'));
  });

  it('us-hourly: US hourly with QQQ and a disabled llm agent keyed by OPENAI_API_KEY', async () => {
    const c = await loadConfig(join(ROOT, 'config/us-hourly.json'));
    expect([c.market, c.frequency, c.schedule.timezone]).toEqual(['us', 'hourly', 'America/New_York']);
    expect(c.data_source.benchmark_file).toBe(join(ROOT, 'data/sample/QQQ_60min.json'));
    const llm = c.models.find((m) => m.agent.kind === 'llm');
    expect(llm?.enabled).toBe(false);
    expect(llm?.agent).toMatchObject({ api_key_env: 'OPENAI_API_KEY', base_url: 'https://api.openai.com/v1' });
  });

  it('cn-hourly uses the hourly sample', async () => {
    const c = await loadConfig(join(ROOT, 'config/cn-hourly.json'));
    expect(c.frequency).toBe('hourly');
    expect(c.data_source.bars_file).toBe(join(ROOT, 'data/sample/cn_hourly.jsonl'));
  });

  it.each(EXAMPLES)('%s names data files that exist', async (file) => {
    expect(await missingFiles(await loadConfig(file))).toEqual([]);
  });
});

describe('reading a config file', () => {
  it('says when the file does not exist', async () => {
    const err = await refusal(loadConfig('config/nope.json'));
    expect(err.message).toBe('config file not found: config/nope.json');
  });

  it('says where a file stops being JSON', async () => {
    const file = await tempFile('bad.json', '{\n  "mode": "backtest"\n  "market": "cn"\n}\n');
    const err = await refusal(loadConfig(file));
    expect(err.message).toBe(`${file}: not valid JSON at line 3, column 3: expected ',' or '}' after a property value, found "\\""`);
  });

  it('says JSON has no comments, with the line', async () => {
    const file = await tempFile('c.json', '{\n  "mode": "backtest",\n  // the market\n  "market": "cn"\n}\n');
    const err = await refusal(loadConfig(file));
    expect(err.message).toBe(`${file}: JSON does not allow comments (line 3); remove them`);
  });

  it('finds comments only outside strings', () => {
    expect(findComments('{"url": "http://x/*y*/", "a": 1}')).toEqual([]);
    expect(findComments('{\n /* a\n b */ "x": 1, // c\n}')).toEqual([2, 3]);
    expect(findComments('{\n  # yaml habit\n}')).toEqual([2]);
  });

  it('names other JSON mistakes', () => {
    const msg = (t: string) => {
      try {
        parseJsonText(t, 'x.json');
        return 'parsed';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(msg('')).toBe('x.json: the file is empty; expected a JSON object');
    expect(msg('{"a": [1, 2,]}')).toBe('x.json: not valid JSON at line 1, column 13: trailing comma before ]');
    expect(msg("{'a': 1}")).toBe('x.json: not valid JSON at line 1, column 2: expected a property name in double quotes, found "\'"');
    expect(msg('{"a": 1')).toBe("x.json: not valid JSON at line 1, column 8: expected ',' or '}' after a property value, found the end of the file");
    expect(msg('\ufeff{"a": 1}')).toBe('parsed');
  });

  it('lists every schema problem with the file name in the message', async () => {
    const file = await tempFile('x.json', JSON.stringify({ mode: 'demo', models: [] }));
    const err = await refusal(loadConfig(file));
    expect(err.message).toBe(`invalid config ${file}: 2 problems`);
    expect(err.problems).toEqual(['mode: expected one of backtest, paper, live, got "demo"', 'models: expected at least one model, got []']);
  });

  it('resolves paths written in the file against its folder; defaults stay relative to the cwd', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-config-'));
    await mkdir(join(dir, 'sub'));
    const write = async (config: object) => {
      const file = join(dir, 'sub', 'c.json');
      await writeFile(file, JSON.stringify(config));
      return loadConfig(file);
    };
    const c = await write({
      data_source: { bars_file: '../bars.jsonl', benchmark_file: '/abs/bench.json' },
      log: { file: 'logs/x.log' },
      models: [
        { name: 'r', signature: 'r', agent: { kind: 'replay', log_file: 'pos.jsonl' } },
        { name: 'l', signature: 'l', agent: { kind: 'llm', basemodel: 'm', base_url: 'http://127.0.0.1:1/v1', prompt_template: 'p.md' } },
      ],
    });
    expect(c.data_source.bars_file).toBe(join(dir, 'bars.jsonl'));
    expect(c.data_source.benchmark_file).toBe('/abs/bench.json');
    expect(c.log.file).toBe(join(dir, 'sub', 'logs', 'x.log'));
    expect(c.models[0]!.agent).toEqual({ kind: 'replay', log_file: join(dir, 'sub', 'pos.jsonl') });
    expect(c.models[1]!.agent).toMatchObject({ prompt_template: join(dir, 'sub', 'p.md') });
    expect(c.state_dir).toBe('state');
    expect(await missingFiles(c)).toEqual([
      `data_source.bars_file: file not found: ${join(dir, 'bars.jsonl')}`,
      'data_source.benchmark_file: file not found: /abs/bench.json',
      `models[0].agent.log_file: file not found: ${join(dir, 'sub', 'pos.jsonl')}`,
      `models[1].agent.prompt_template: file not found: ${join(dir, 'sub', 'p.md')}`,
    ]);
    const s = await write({ state_dir: 'st', models: [{ name: 'a', signature: 'a', agent: { kind: 'rules' } }] });
    expect(s.state_dir).toBe(join(dir, 'sub', 'st'));
  });
});
