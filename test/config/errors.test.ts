import { describe, expect, it } from 'vitest';
import { KILL_SWITCH_FILE } from '../../src/actors/risk/kill-switch.js';
import { RUN_DIR_ENTRIES } from '../../src/config/schema.js';
import { REPORT_HTML, REPORT_JSON } from '../../src/report/io.js';
import { ConfigError } from '../../src/config/errors.js';
import { editDistance, formatPath, looksLikeSecretKey, renderValue, suggestKey } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { InputError } from '../../src/domain/errors.js';

const model = { name: 'a', signature: 'a', agent: { kind: 'rules' } };

/** The ConfigError thrown for `raw`. */
function problemsOf(raw: unknown): ConfigError {
  try {
    parseConfig(raw, 'config/x.json');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

const linesOf = (raw: unknown) => problemsOf(raw).problems;

describe('config problems as "path: expected ..., got ..."', () => {
  it('reports the issue example word for word', () => {
    const err = problemsOf({ models: [model], risk_control: { stop_loss_ratio: '8%' } });
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('invalid config config/x.json: 1 problem');
    expect(err.problems).toEqual(['risk_control.stop_loss_ratio: expected a number between 0 and 1, got "8%"']);
  });

  it('shows the received value as JSON, and a missing value as required', () => {
    expect(linesOf({ models: [model], risk_control: { max_daily_loss_ratio: -1 } })).toEqual([
      'risk_control.max_daily_loss_ratio: expected a number between 0 and 1, got -1',
    ]);
    expect(linesOf({ models: [model], risk_control: { max_single_position_ratio: null } })).toEqual([
      'risk_control.max_single_position_ratio: expected a number between 0 and 1, got null',
    ]);
    expect(linesOf({})).toEqual(['models: expected an array of models, got nothing (required)']);
    expect(linesOf({ models: [{ ...model, agent: { kind: 'replay' } }] })).toEqual([
      'models[0].agent.log_file: expected a path, got nothing (required)',
    ]);
  });

  it('lists the allowed values of an enum', () => {
    expect(linesOf({ models: [model], mode: 'demo' })).toEqual(['mode: expected one of backtest, paper, live, got "demo"']);
    expect(linesOf({ models: [model], broker: { rules: 'loose' } })).toEqual([
      'broker.rules: expected one of strict, ai-trader, got "loose"',
    ]);
    expect(linesOf({ models: [{ ...model, agent: { kind: 'gpt' } }] })).toEqual([
      'models[0].agent.kind: expected one of llm, rules, replay, module, got "gpt"',
    ]);
  });

  it('refuses unknown keys, suggesting the nearest known one', () => {
    expect(linesOf({ models: [model], risk_control: { stop_los_ratio: 0.1 } })).toEqual([
      'risk_control.stop_los_ratio: unknown key (did you mean stop_loss_ratio?)',
    ]);
    expect(linesOf({ models: [{ ...model, agent: { kind: 'rules', params: { lokback: 3 } } }] })).toEqual([
      'models[0].agent.params.lokback: unknown key (did you mean lookback?)',
    ]);
    expect(linesOf({ models: [model], StateDir: 'x' })).toEqual(['StateDir: unknown key (did you mean state_dir?)']);
    const [far] = linesOf({ models: [model], execution: { zzz: 1 } });
    expect(far).toBe('execution.zzz: unknown key (allowed: orders_outside_hours, queued_limit_band, limit_order_timeout_seconds, order_type)');
  });

  it('checks time formats', () => {
    expect(linesOf({ models: [model], schedule: { trigger_time: '9:35', trigger_times: ['10:35', '24:00'] } })).toEqual([
      'schedule.trigger_time: expected a time HH:mm, got "9:35"',
      'schedule.trigger_times[1]: expected a time HH:mm, got "24:00"',
    ]);
  });

  it('reports every problem at once, not only the first', () => {
    const err = problemsOf({
      mode: 'demo',
      market: 'jp',
      schedule: { timezone: 'Mars/Olympus' },
      risk_control: { stop_loss_ratio: '8%', stop_los_ratio: 0.1 },
      models: [model, { ...model, name: '' }],
      date_range: { from: '2025-02-30', to: '2025-01-01' },
    });
    expect(err.problems).toEqual([
      'mode: expected one of backtest, paper, live, got "demo"',
      'market: expected one of cn, us, got "jp"',
      'schedule.timezone: expected an IANA time zone (like Asia/Shanghai or America/New_York), got "Mars/Olympus"',
      'risk_control.stop_loss_ratio: expected a number between 0 and 1, got "8%"',
      'risk_control.stop_los_ratio: unknown key (did you mean stop_loss_ratio?)',
      'models[1].name: expected a name, got ""',
      'models[1].signature: expected a unique signature, got "a" (already used by models[0])',
      'date_range.from: expected a date YYYY-MM-DD, got "2025-02-30"',
    ]);
    expect(err.message).toBe('invalid config config/x.json: 8 problems');
  });

  it('names the duplicate signature at the later model', () => {
    expect(linesOf({ models: [model, { ...model, name: 'b' }, { ...model, signature: 'c' }, { ...model, signature: 'c' }] })).toEqual([
      'models[1].signature: expected a unique signature, got "a" (already used by models[0])',
      'models[3].signature: expected a unique signature, got "c" (already used by models[2])',
    ]);
  });

  it('refuses a signature that only differs in case from another: on macOS and Windows both are one folder, one position.jsonl', () => {
    expect(linesOf({ models: [model, { ...model, signature: 'A' }] })).toEqual(['models[1].signature: expected a unique signature, got "A" (already used by models[0], as "a": folder names ignore case on some systems)']);
  });

  it('refuses a signature that names what the run directory already holds (its folder would take that place)', () => {
    // Found by running them: report.json / report.html ended a whole backtest with EISDIR and a stack
    // trace; kill-switch.json as a folder halted every agent (an unreadable switch fails safe).
    for (const signature of ['state', 'report.json', 'Report.HTML', 'reports', 'runs', 'kill-switch.json']) {
      expect(linesOf({ models: [{ ...model, signature }] })).toEqual([
        `models[0].signature: expected a signature that is not a name the run directory uses (state, reports, runs, report.json, report.html, kill-switch.json), got "${signature}"`,
      ]);
    }
  });

  it('knows every name the runtimes put in a run directory', () => {
    expect([...RUN_DIR_ENTRIES].sort()).toEqual([KILL_SWITCH_FILE, REPORT_JSON, REPORT_HTML, 'reports', 'runs', 'state'].sort());
  });

  it('refuses signatures that are not safe folder names', () => {
    for (const signature of ['../x', '.hidden', 'a b', '']) {
      expect(linesOf({ models: [{ ...model, signature }] })[0]).toMatch(/^models\[0\]\.signature: expected a signature of letters/);
    }
  });

  it('refuses secret values in the file and never echoes them', () => {
    const err = problemsOf({
      market: 'us',
      broker: { type: 'alpaca', api_key: 'sk-SECRET-1', secret: 'sk-SECRET-2', api_key_env: 'A', api_secret_env: 'B' },
      data_source: { token: 'sk-SECRET-3' },
      models: [{ name: 'm', signature: 'm', agent: { kind: 'llm', basemodel: 'x', base_url: 'https://x.test/v1', apiKey: 'sk-SECRET-4' } }],
    });
    expect(err.problems).toEqual([
      'data_source.token: secrets are not read from the config file; set token_env to the name of an environment variable',
      'broker.api_key: secrets are not read from the config file; set api_key_env to the name of an environment variable',
      'broker.secret: secrets are not read from the config file; set api_secret_env to the name of an environment variable',
      'models[0].agent.apiKey: secrets are not read from the config file; set api_key_env to the name of an environment variable',
    ]);
    expect(JSON.stringify(err.problems)).not.toContain('SECRET');
  });

  it('does not echo a secret pasted where an env var name belongs', () => {
    const [line] = linesOf({ models: [model], broker: { api_key_env: 'sk-live-SECRET' } });
    expect(line).toBe(
      'broker.api_key_env: expected the name of an environment variable (like OPENAI_API_KEY: A-Z, 0-9, _), got a value that is not a variable name (not shown: it may be a secret)',
    );
  });

  it('refuses a broker of another market, and a Futu trading market that is not the config\'s', () => {
    expect(linesOf({ market: 'us', broker: { type: 'eastmoney' } })).toContain('broker.type: expected market cn with broker.type eastmoney (it trades A-shares only), got market us');
    expect(linesOf({ market: 'cn', broker: { type: 'alpaca', api_key_env: 'A', api_secret_env: 'B' } })).toContain('broker.type: expected market us with broker.type alpaca (it trades US stocks only), got market cn');
    expect(linesOf({ mode: 'live', market: 'cn', broker: { type: 'bridge' } })).toContain(
      'broker.paper: expected false with broker.type bridge: it has no paper account, every order is real money (rehearse in paper mode on the simulated broker), got true',
    );
    expect(linesOf({ market: 'cn', broker: { type: 'futu', futu: { trd_market: 'US' } } })).toContain('broker.futu.trd_market: expected CN or HKCC for market cn, got "US"');
  });

  it('checks fields against each other', () => {
    expect(linesOf({ mode: 'live', data_source: { type: 'sina' }, models: [model] })).toEqual([
      'broker.type: expected a real broker (alpaca, futu, bridge, eastmoney) in live mode, got "simulated"',
    ]);
    expect(linesOf({ mode: 'paper', data_source: { type: 'sina' }, broker: { paper: false }, models: [model] })).toEqual([
      'broker.paper: expected true in paper mode (only live mode may use a real-money account), got false',
    ]);
    expect(linesOf({ mode: 'paper', models: [model] })).toEqual([
      'data_source.type: expected a live quote source in paper mode (alpaca, sina, tencent, eastmoney, akshare, tushare, replay, or broker with broker.type futu), got "file"',
    ]);
    expect(linesOf({ mode: 'paper', data_source: { type: 'broker' }, models: [model] })).toEqual([
      'data_source.type: expected broker.type futu with data_source.type broker (the broker\'s own quotes: Futu OpenD\'s pushes), got "broker" with broker.type simulated',
    ]);
    expect(linesOf({ mode: 'backtest', data_source: { type: 'broker' }, broker: { type: 'alpaca', api_key_env: 'K', api_secret_env: 'S' }, models: [model] })).toContain(
      'data_source.type: expected broker.type futu with data_source.type broker (the broker\'s own quotes: Futu OpenD\'s pushes), got "broker" with broker.type alpaca',
    );
    // Futu's own quotes in front of the simulated venue (paper mode trades no broker account).
    expect(parseConfig({ mode: 'paper', data_source: { type: 'broker' }, broker: { type: 'futu', futu: { trd_market: 'CN' } }, models: [model] }, 'config/x.json').data_source.type).toBe('broker');
    expect(linesOf({ mode: 'paper', market: 'us', data_source: { type: 'alpaca' }, models: [model] })).toEqual([
      'data_source.key_env: expected the name of the environment variable holding the Alpaca key id, got nothing (required)',
      'data_source.secret_env: expected the name of the environment variable holding the Alpaca secret key, got nothing (required)',
    ]);
    expect(linesOf({ mode: 'paper', market: 'us', data_source: { type: 'sina' }, models: [model] })).toEqual([
      'data_source.type: expected a US source (alpaca or replay) for market us, got "sina"',
    ]);
    expect(linesOf({ mode: 'paper', data_source: { type: 'replay' }, models: [model] })).toEqual([
      'data_source.bars_file: expected the bars the built-in replay server serves (or data_source.replay_url of a running one), got nothing (required)',
    ]);
    expect(linesOf({ models: [model], date_range: { from: '2025-03-01', to: '2025-02-28' } })).toEqual([
      'date_range.to: expected a date on or after from (2025-03-01), got "2025-02-28"',
    ]);
    expect(linesOf({ models: [{ ...model, enabled: false }] })).toEqual(['models: expected at least one enabled model, got 1 disabled']);
    expect(linesOf({ market: 'cn', risk_control: { deny_symbols: ['AAPL'] }, models: [model] })).toEqual([
      'risk_control.deny_symbols[0]: expected a cn symbol like 600519.SH, got "AAPL"',
    ]);
    expect(linesOf({ data_source: { type: 'tushare', fallback: ['akshare', 'akshare'] }, models: [model] })).toEqual([
      'data_source.fallback[1]: expected each source once, got "akshare"',
      'data_source.token_env: expected the name of the environment variable holding the Tushare token, got nothing (required)',
    ]);
  });

  it('says what a non-object config is', () => {
    expect(linesOf([])).toEqual(['(top level): expected an object, got []']);
  });
});

describe('formatting helpers', () => {
  it('writes paths the way a person reads them', () => {
    expect(formatPath(['risk_control', 'stop_loss_ratio'])).toBe('risk_control.stop_loss_ratio');
    expect(formatPath(['models', 1, 'signature'])).toBe('models[1].signature');
    expect(formatPath(['a', 'b c'])).toBe('a["b c"]');
    expect(formatPath([])).toBe('(top level)');
  });

  it('renders received values', () => {
    expect(renderValue('8%')).toBe('"8%"');
    expect(renderValue(-1)).toBe('-1');
    expect(renderValue(null)).toBe('null');
    expect(renderValue(undefined)).toBe('nothing (required)');
    expect(renderValue(Array.from({ length: 50 }, (_, i) => i))).toBe('an array of 50 items');
  });

  it('suggests keys within a small edit distance only', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(suggestKey('stop_los_ratio', ['stop_loss_ratio', 'enable_stop_loss'])).toBe('stop_loss_ratio');
    expect(suggestKey('maxSteps', ['max_steps'])).toBe('max_steps');
    expect(suggestKey('zzz', ['order_type'])).toBeUndefined();
  });

  it('knows which keys look like secret values', () => {
    for (const k of ['api_key', 'apiKey', 'secret', 'api_secret', 'token', 'access_token', 'password', 'private_key', 'secretKey']) {
      expect(looksLikeSecretKey(k), k).toBe(true);
    }
    for (const k of ['api_key_env', 'token_env', 'max_tokens_per_session', 'keys', 'monkey', 'lookback']) {
      expect(looksLikeSecretKey(k), k).toBe(false);
    }
  });
});
