/**
 * The config of a `backtest` run: the config file (or none) with the command-line
 * flags laid over it, validated by the same schema, so a backtest needs no config
 * file and a bad flag gets the same precise message as a bad key.
 *
 * Paths given as flags are relative to the working directory; paths written in the
 * file stay relative to the file. Flags win over the file.
 */
import { basename, dirname, relative, resolve } from 'node:path';
import { readBarsFacts } from '../actors/market-data/bars-file-facts.js';
import { InputError } from '../domain/errors.js';
import { checkBarsFacts, type Given } from './bars-check.js';
import { checkWrittenPaths, parseConfig, readConfigJson } from './load.js';
import type { Config } from './schema.js';

export interface BacktestFlags {
  readonly config?: string;
  readonly market?: string;
  readonly frequency?: string;
  readonly bars?: string;
  readonly replayLog?: readonly string[];
  readonly signature?: string;
  readonly rules?: string;
  readonly cash?: string;
  readonly from?: string;
  readonly to?: string;
  /** `--no-stop-loss`: false turns risk_control.enable_stop_loss off (AI-Trader's runs had none). */
  readonly stopLoss?: boolean;
}

/** `cn-daily.gpt-5.position.jsonl` -> `gpt-5`; any other name -> its stem. */
export function signatureFromLogName(path: string): string {
  const name = basename(path).replace(/\.position\.jsonl$|\.jsonl$/, '');
  const m = /^(?:cn|us)-[^.]+\.(.+)$/.exec(name);
  return (m?.[1] ?? name).replace(/[^A-Za-z0-9._-]/g, '-');
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Raw) } : {});

export async function backtestConfig(flags: BacktestFlags, cwd = process.cwd()): Promise<Config> {
  const file = flags.config ? resolve(cwd, flags.config) : undefined;
  const raw: Raw = file ? obj(await readConfigJson(file)) : {};
  const abs = (p: string) => resolve(cwd, p);

  raw['mode'] = 'backtest';
  if (flags.market) raw['market'] = flags.market;
  if (flags.frequency) raw['frequency'] = flags.frequency;
  if (flags.bars) raw['data_source'] = { ...obj(raw['data_source']), bars_file: abs(flags.bars) };
  if (flags.rules) raw['broker'] = { ...obj(raw['broker']), rules: flags.rules };
  if (flags.cash !== undefined) {
    const cash = Number(flags.cash);
    // Let the schema word the error: a non-number goes through as the string it is.
    raw['agent_config'] = { ...obj(raw['agent_config']), initial_cash: Number.isFinite(cash) && flags.cash.trim() !== '' ? cash : flags.cash };
  }
  if (flags.from || flags.to) {
    const range = obj(raw['date_range']);
    raw['date_range'] = { ...range, ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}) };
  }
  if (flags.stopLoss === false) raw['risk_control'] = { ...obj(raw['risk_control']), enable_stop_loss: false };
  const logs = flags.replayLog ?? [];
  if (logs.length > 0) {
    if (flags.signature && logs.length > 1) {
      throw new InputError('--signature names one agent; with several --replay-log files each is named after its file');
    }
    raw['models'] = logs.map((log) => {
      const signature = flags.signature ?? signatureFromLogName(log);
      return { name: signature, signature, agent: { kind: 'replay', log_file: abs(log) } };
    });
  } else if (raw['models'] === undefined) {
    const signature = flags.signature ?? 'rules-equal-weight';
    raw['models'] = [{ name: signature, signature, agent: { kind: 'rules', strategy: 'equal_weight' } }];
  } else if (flags.signature) {
    throw new InputError('--signature renames the agent of --replay-log or of the default rules agent; the config names its own models');
  }
  await fitToBars(raw, flags, file, cwd);
  const source = file ?? 'backtest flags';
  const config = parseConfig(raw, source, { baseDir: file ? dirname(file) : cwd });
  await checkWrittenPaths(config, source);
  if (!config.data_source.bars_file) {
    throw new InputError('a backtest needs prices: give --bars FILE or a config with data_source.bars_file');
  }
  return config;
}

/**
 * Read the bars file's market, interval and dates before anything runs: what the flags and
 * the config leave out is taken from the file (written into `raw`), and what contradicts it
 * (A-share bars with --market us, daily bars with --frequency hourly, --from/--to outside
 * the bars) is an InputError naming both sides. Without a bars file nothing is checked
 * (the caller says a backtest needs one).
 */
async function fitToBars(raw: Raw, flags: BacktestFlags, file: string | undefined, cwd: string): Promise<void> {
  const written = obj(raw['data_source'])['bars_file'];
  const configBars = typeof written === 'string' && written !== '' ? written : undefined;
  const named = flags.bars ?? configBars;
  if (named === undefined) return;
  // A path from the file is relative to the file; it was replaced by an absolute one when --bars was given.
  const path = flags.bars ? resolve(cwd, flags.bars) : resolve(file ? dirname(file) : cwd, named);
  const facts = await readBarsFacts(path);
  const inFile = file ? ` in ${relative(cwd, file) || file}` : '';
  const given = (flag: string, key: string, flagValue: string | undefined, value: unknown): Given | undefined => {
    if (flagValue !== undefined) return { value: flagValue, said: `${flag} ${flagValue}` };
    return typeof value === 'string' ? { value, said: `${key} "${value}"${inFile}` } : undefined;
  };
  const range = obj(raw['date_range']);
  const checked = checkBarsFacts({
    file: named,
    facts,
    market: given('--market', 'market', flags.market, raw['market']),
    frequency: given('--frequency', 'frequency', flags.frequency, raw['frequency']),
    from: given('--from', 'date_range.from', flags.from, range['from']),
    to: given('--to', 'date_range.to', flags.to, range['to']),
    ask: { market: '--market cn|us', frequency: '--frequency daily|hourly' },
  });
  const { problems } = checked;
  if (problems.length === 1) throw new InputError(problems[0]!);
  if (problems.length > 1) throw new InputError(`${problems.length} problems with the bars in ${named}`, problems);
  if (raw['market'] === undefined && checked.market) raw['market'] = checked.market;
  if (raw['frequency'] === undefined && checked.frequency) raw['frequency'] = checked.frequency;
}
