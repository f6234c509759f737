/**
 * The hostile tests' rig: real `run` processes (the CLI) against a fake broker in its own process,
 * SIGKILLed by failpoints and restarted on the same --out. Waits on processes and output only.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { openStore } from '../../src/actors/store/store.js';
import { ROOT } from '../support/cli.js';

export const CN = join(ROOT, 'data/sample/cn_hourly.jsonl');
export const DAY = '2025-10-15';
export const ALLOCATION = 100_000;
export const OWN_CASH = 50_000;
export const NO_FEES = { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 } };

export interface Follows {
  follow(url: string): Promise<unknown>;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `run` (or any CLI command) in its own process; once it says where its replay is, the fake follows it. */
export function runCli(f: Follows | undefined, args: readonly string[], env: NodeJS.ProcessEnv = {}, onOutput?: (stdout: string) => void): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, ...args], { cwd: ROOT, env: { ...process.env, AGENT_TRADER_FAILPOINT: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let following = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const url = /^paper run .*?(ws:\/\/127\.0\.0\.1:\d+)/m.exec(stdout)?.[1];
      if (url && !following && f) {
        following = true;
        void f.follow(url).catch(() => undefined);
      }
      onOutput?.(stdout);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A live cn config on the sample day with two rules agents; `broker` is the broker block. */
export async function writeConfig(broker: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<{ dir: string; file: string; config: Record<string, unknown> }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-hostile-'));
  const file = join(dir, 'live.json');
  const config = {
    mode: 'live',
    market: 'cn',
    frequency: 'hourly',
    data_source: { type: 'replay', bars_file: CN, replay_date: DAY, replay_speed: 2_500, stale_quote_seconds: 7200 },
    broker: { poll_seconds: 0.05, fees: NO_FEES, ...broker },
    risk_control: { min_cash_reserve: 1000, live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } },
    models: [
      { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
      { name: 'Mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
    ],
    agent_config: { initial_cash: ALLOCATION },
    server: { port: 0 },
    state_dir: join(dir, 'state'),
    ...extra,
  };
  await writeFile(file, JSON.stringify(config));
  return { dir, file, config };
}

/** The day's opening prices per symbol (to prime a fake's counter). */
export async function openingPrices(): Promise<Record<string, string>> {
  const history = await loadPriceStore(CN, { market: 'cn' });
  const open = DateTime.fromISO(`${DAY}T09:30`, { zone: 'Asia/Shanghai' });
  const out: Record<string, string> = {};
  for (const s of history.symbols()) {
    const p = history.priceAsOf(s, open);
    if (p) out[s] = p.price.toFixed(2);
  }
  return out;
}

export interface Books {
  /** Shares booked per client order id. */
  readonly booked: Record<string, number>;
  /** Fill ids per client order id (each must be booked once). */
  readonly fillIds: Record<string, string[]>;
  /** The last position.jsonl record of each signature (positions and CASH). */
  readonly last: Record<string, Record<string, number>>;
}

export async function books(stateDir: string, out: string, signatures: readonly string[] = ['ew', 'mom']): Promise<Books> {
  const store = await openStore(stateDir);
  const booked: Record<string, number> = {};
  const fillIds: Record<string, string[]> = {};
  try {
    for await (const { value } of store.listRecords<{ clientOrderId: string; fill: { quantity: number; fillId: string } }>('ledger-fills')) {
      booked[value.clientOrderId] = (booked[value.clientOrderId] ?? 0) + value.fill.quantity;
      (fillIds[value.clientOrderId] ??= []).push(value.fill.fillId);
    }
  } finally {
    await store.close();
  }
  const last: Record<string, Record<string, number>> = {};
  for (const sig of signatures) {
    const text = await readFile(join(out, sig, 'position.jsonl'), 'utf8').catch(() => '');
    if (text) last[sig] = (JSON.parse(text.trim().split('\n').at(-1)!) as { positions: Record<string, number> }).positions;
  }
  return { booked, fillIds, last };
}

/** The failpoint plan of a drill: from HOSTILE_PLAN, else the default given. */
export function plan(fallback: string): string[] {
  return (process.env['HOSTILE_PLAN'] || fallback).split(',').filter(Boolean);
}
