/**
 * Values the schema used to accept and the run then crashed on (issue 13, "also found"):
 * absurd money, replay speeds, NUL bytes in paths, credentials in URLs, a server beyond
 * loopback without a token. Each is refused by the schema with the field and the range;
 * written paths of the wrong kind are refused when the file is loaded.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { MAX_AMOUNT, MAX_REPLAY_SPEED } from '../../src/config/schema.js';
import { redactUrlCredentials } from '../../src/config/urls.js';

const model = { name: 'a', signature: 'a', agent: { kind: 'rules' } };
const AMOUNT = 'expected an amount from 0 to 10^12 with at most 6 decimals';
const POSITIVE = 'expected an amount > 0 and at most 10^12 with at most 6 decimals';
const NO_CREDENTIALS = 'expected a URL without user:password@ (credentials come from environment variables, like the *_env keys)';

function linesOf(raw: Record<string, unknown>): readonly string[] {
  try {
    parseConfig({ models: [model], ...raw }, 'x.json');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('money', () => {
  it('refuses amounts beyond 10^12, with more than 6 decimals, or not finite', () => {
    expect(linesOf({ agent_config: { initial_cash: 1e308 } })).toEqual([`agent_config.initial_cash: ${POSITIVE}, got 1e+308`]);
    expect(linesOf({ agent_config: { initial_cash: Infinity } })).toEqual([`agent_config.initial_cash: ${POSITIVE}, got Infinity`]);
    expect(linesOf({ models: [{ ...model, initial_cash: MAX_AMOUNT + 1 }] })).toEqual([`models[0].initial_cash: ${POSITIVE}, got 1000000000001`]);
    expect(linesOf({ risk_control: { min_cash_reserve: 0.0000001 } })).toEqual([`risk_control.min_cash_reserve: ${AMOUNT}, got 1e-7`]);
    expect(linesOf({ broker: { fees: { cn: { commission_min: -5 } } } })).toEqual([`broker.fees.cn.commission_min: ${AMOUNT}, got -5`]);
  });

  it('accepts the edges: 10^12, sub-cent per-share fees, 0', () => {
    const c = parseConfig(
      { models: [model], agent_config: { initial_cash: MAX_AMOUNT }, broker: { fees: { us: { taf_fee_per_share: 0.000166, commission_min: 0 } } } },
      'x.json',
    );
    expect(c.models[0]!.initial_cash).toBe(MAX_AMOUNT);
    expect(c.broker.fees.us.taf_fee_per_share).toBe(0.000166);
  });
});

describe('replay_speed', () => {
  it(`accepts up to ${MAX_REPLAY_SPEED} and refuses more, saying the range`, () => {
    expect(parseConfig({ models: [model], data_source: { replay_speed: MAX_REPLAY_SPEED } }, 'x.json').data_source.replay_speed).toBe(MAX_REPLAY_SPEED);
    expect(linesOf({ data_source: { replay_speed: 1e12 } })).toEqual([
      'data_source.replay_speed: expected a number > 0 and at most 100000, got 1000000000000',
    ]);
  });
});

describe('paths', () => {
  it('refuses a NUL byte in any path, naming the field', () => {
    expect(
      linesOf({
        state_dir: 'st\u0000ate',
        log: { file: 'a\u0000.log' },
        data_source: { bars_file: 'b\u0000' },
        models: [{ name: 'r', signature: 'r', agent: { kind: 'replay', log_file: '\u0000' } }],
      }),
    ).toEqual([
      'data_source.bars_file: expected a path without NUL characters (\\0), got "b\\u0000"',
      'models[0].agent.log_file: expected a path without NUL characters (\\0), got "\\u0000"',
      'state_dir: expected a path without NUL characters (\\0), got "st\\u0000ate"',
      'log.file: expected a path without NUL characters (\\0), got "a\\u0000.log"',
    ]);
  });
});

describe('URLs with credentials', () => {
  it('are refused in every URL field, and the user:password never appears in the message', () => {
    const lines = linesOf({
      data_source: { type: 'replay', replay_url: 'ws://bob:s3cret@127.0.0.1:9/v2', source_urls: { sina: 'https://u:pw@hq.example.com/' } },
      broker: { base_url: 'https://key:hunter2@broker.example.com/v2' },
      alerts: { channels: [{ type: 'webhook', url: 'https://tok:xyz@hooks.example.com/a' }] },
      models: [
        {
          name: 'l',
          signature: 'l',
          agent: {
            kind: 'llm',
            basemodel: 'm',
            base_url: 'https://a-very-long-user-name-indeed:an-even-longer-password-that-would-be-cut@api.example.com/v1',
            search: { url: 'http://user@search.example.com/' },
          },
        },
      ],
    });
    expect(lines).toEqual([
      `data_source.replay_url: ${NO_CREDENTIALS}, got "ws://***@127.0.0.1:9/v2"`,
      `data_source.source_urls.sina: ${NO_CREDENTIALS}, got "https://***@hq.example.com/"`,
      `broker.base_url: ${NO_CREDENTIALS}, got "https://***@broker.example.com/v2"`,
      `models[0].agent.base_url: ${NO_CREDENTIALS}, got "https://***@api.example.com/v1"`,
      `models[0].agent.search.url: ${NO_CREDENTIALS}, got "http://***@search.example.com/"`,
      `alerts.channels[0].url: ${NO_CREDENTIALS}, got "https://***@hooks.example.com/a"`,
    ]);
    expect(lines.join('\n')).not.toMatch(/s3cret|hunter2|xyz|pw@|long-user|password-that/);
  });

  it('a refused URL of another kind does not show its credentials either', () => {
    expect(linesOf({ broker: { base_url: 'ftp://key:hunter2@broker.example.com/' } })).toEqual([
      'broker.base_url: expected an http:// or https:// URL, got "ftp://***@broker.example.com/"',
    ]);
    expect(redactUrlCredentials('x https://a:b/c@host/p?q=1 y')).toBe('x https://***@host/p?q=1 y');
  });

  it('URLs without credentials pass, an @ in the path or query included', () => {
    const c = parseConfig({ models: [model], broker: { base_url: 'https://broker.example.com/u/a@b?x=c@d' } }, 'x.json');
    expect(c.broker.base_url).toBe('https://broker.example.com/u/a@b?x=c@d');
  });
});

describe('server beyond loopback', () => {
  const TOKEN = 'expected the name of the environment variable holding the feed token';

  it('needs server.token_env', () => {
    expect(linesOf({ server: { host: '0.0.0.0' } })).toEqual([`server.token_env: ${TOKEN}: server.host "0.0.0.0" is beyond loopback, got nothing (required)`]);
    expect(linesOf({ server: { host: '192.168.1.20', port: 0 } })).toEqual([
      `server.token_env: ${TOKEN}: server.host "192.168.1.20" is beyond loopback, got nothing (required)`,
    ]);
  });

  it('loopback hosts, a token, or the server off are fine', () => {
    for (const server of [{ host: '127.0.0.1' }, { host: '127.0.0.2' }, { host: 'localhost' }, { host: '::1' }, { host: '0.0.0.0', token_env: 'FEED_TOKEN' }, { host: '0.0.0.0', enabled: false }]) {
      expect(linesOf({ server }), JSON.stringify(server)).toEqual([]);
    }
  });
});

describe('paths the process writes', () => {
  async function load(config: Record<string, unknown>): Promise<readonly string[]> {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-limits-'));
    await mkdir(join(dir, 'logs'));
    await writeFile(join(dir, 'plain'), 'x');
    const file = join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ models: [model], state_dir: 'state', ...config }));
    try {
      await loadConfig(file);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => p.replaceAll(dir, 'DIR'));
      throw err;
    }
  }

  it('refuses log.file naming a directory and state_dir naming a file', async () => {
    expect(await load({ log: { file: 'logs' }, state_dir: 'plain' })).toEqual([
      'state_dir: expected a directory path, got a file: DIR/plain',
      'log.file: expected a file path, got a directory: DIR/logs',
    ]);
  });

  it('refuses a path whose folders cannot be created (a file on the way)', async () => {
    expect(await load({ log: { file: 'plain/x/run.log' } })).toEqual([
      'log.file: expected a path whose folders can be created, got DIR/plain/x/run.log (DIR/plain is a file)',
    ]);
  });

  it('accepts paths that do not exist yet, and existing ones of the right kind', async () => {
    expect(await load({ log: { file: 'logs/new/run.log' }, state_dir: 'logs' })).toEqual([]);
    expect(await load({ log: { file: 'plain' } })).toEqual([]);
  });
});
