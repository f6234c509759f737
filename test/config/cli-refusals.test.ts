/**
 * The real CLI on configs that used to end in a stack trace or pass silently (issue 13):
 * each is refused with exit 2 and a message naming the field, nothing on stdout, no stack.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ROOT } from '../support/cli.js';

const model = { name: 'a', signature: 'a', agent: { kind: 'rules' } };

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'agent-trader-refusals-'));
}

async function tempConfig(config: unknown): Promise<string> {
  const file = join(await tempDir(), 'config.json');
  await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

describe('config check refuses, exit 2, naming the field', () => {
  it('a file nested 200,000 levels deep', async () => {
    const file = await tempConfig(`{\n  "models": [],\n  "description": ${'['.repeat(200_000)}${']'.repeat(200_000)}\n}\n`);
    const r = cli(['config', 'check', file]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(`error: ${file}: nested deeper than 32 levels at line 3, column 49 (in description[0][0][0]...); a config needs at most 6\n`);
  });

  it('duplicate keys, with the key path and both lines', async () => {
    const file = await tempConfig(
      '{\n  "mode": "backtest",\n  "models": [{ "name": "a", "signature": "a", "agent": { "kind": "rules" } }],\n  "mode": "paper"\n}\n',
    );
    expect(cli(['config', 'check', file])).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: invalid config ${file}: 1 duplicate key\n  mode: duplicate key (lines 2 and 4); JSON keeps only the last one silently, so write it once\n`,
    });
  });

  it('absurd money and replay speed, a NUL in state_dir, a server beyond loopback without a token, credentials in a URL', async () => {
    const file = await tempConfig({
      mode: 'paper',
      market: 'us',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl'), replay_speed: 1e12 },
      broker: { base_url: 'https://key:hunter2@broker.example.com/v2' },
      agent_config: { initial_cash: 1e308 },
      state_dir: 'st\u0000ate',
      server: { host: '0.0.0.0' },
      models: [model],
    });
    const r = cli(['config', 'check', file]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(
      [
        `error: invalid config ${file}: 5 problems`,
        '  data_source.replay_speed: expected a number > 0 and at most 100000, got 1000000000000',
        '  broker.base_url: expected a URL without user:password@ (credentials come from environment variables, like the *_env keys), got "https://***@broker.example.com/v2"',
        '  agent_config.initial_cash: expected an amount > 0 and at most 10^12 with at most 6 decimals, got 1e+308',
        '  state_dir: expected a path without NUL characters (\\0), got "st\\u0000ate"',
        '  server.token_env: expected the name of the environment variable holding the feed token: server.host "0.0.0.0" is beyond loopback, got nothing (required)',
        '',
      ].join('\n'),
    );
    expect(r.stderr).not.toContain('hunter2');
  });

  it('log.file naming a directory', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'logs'));
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ models: [model], log: { file: 'logs' } }));
    expect(cli(['config', 'check', file])).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: invalid config ${file}: 1 problem\n  log.file: expected a file path, got a directory: ${join(dir, 'logs')}\n`,
    });
  });
});

describe('run and backtest refuse the same before starting', () => {
  it('backtest --cash 1e308', async () => {
    const out = join(await tempDir(), 'out');
    const r = cli(['backtest', '--bars', 'data/sample/cn_daily.jsonl', '--cash', '1e308', '--out', out]);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: invalid config backtest flags: 1 problem\n  agent_config.initial_cash: expected an amount > 0 and at most 10^12 with at most 6 decimals, got 1e+308\n',
    });
  });

  it('run with replay_speed 1e12', async () => {
    const dir = await tempDir();
    const file = join(dir, 'paper.json');
    await writeFile(
      file,
      JSON.stringify({
        mode: 'paper',
        market: 'us',
        frequency: 'hourly',
        data_source: { type: 'replay', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl'), replay_speed: 1e12 },
        server: { port: 0 },
        state_dir: join(dir, 'state'),
        models: [model],
      }),
    );
    expect(cli(['run', '--config', file])).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: invalid config ${file}: 1 problem\n  data_source.replay_speed: expected a number > 0 and at most 100000, got 1000000000000\n`,
    });
  });
});
