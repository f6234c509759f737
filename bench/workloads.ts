/**
 * Issue 20's four backtest workloads on NASDAQ-100 hourly bars (test/fixtures/ai-trader/us:
 * 101 symbols x 174 bars, 2025-10-01..11-10), strict rules, each run in a FRESH child
 * process so its peak RSS (`process.resourceUsage().maxRSS`) is its own:
 *
 * - replay:   the recorded AI-Trader gpt-5 US run (agent-logs/us-60min.gpt-5), 10k USD
 * - eq+mom:   equal_weight + momentum (lookback 6, top 5), config/us-hourly.json's rules agents, 10k USD
 * - 7-rules:  7 rules agents (equal_weight at 3 thresholds, momentum at 4 settings), 10k USD each
 * - eq-1m:    equal_weight, rebalance_threshold 0, 1M USD, no per-session order cap in the way
 *
 * Wall is `runBacktest` alone (bars already parsed, as bench/backtest.ts); "process" is the
 * child from spawn to exit (node + tsx start-up, parsing the bars, the run, the report).
 * Each row also prints a sha256 of report.json and every position.jsonl: a speed change must
 * leave it unchanged (the same inputs give a byte-identical report).
 *
 *   npx tsx bench/workloads.ts [repeats=1] [names...]     # e.g. 3 eq+mom eq-1m
 *
 * The peer side (backtrader) is bench/peer/run.sh; it is skipped when backtrader is not installed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DateTime } from 'luxon';
import { loadPriceStore } from '../src/actors/market-data/alpha-vantage-file.js';
import { backtestConfig } from '../src/config/backtest-flags.js';
import { runBacktest } from '../src/runtime/backtest.js';

const SELF = fileURLToPath(import.meta.url);
const DATA = fileURLToPath(new URL('../test/fixtures/ai-trader/', import.meta.url));
const BARS = `${DATA}us/nasdaq100_60min.jsonl`;
const GENERATED_AT = DateTime.fromISO('2026-01-01T00:00:00Z');

/** config/us-hourly.json's schedule and risk (the LLM agent left out). */
const BASE = {
  market: 'us',
  frequency: 'hourly',
  schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'], timezone: 'America/New_York' },
  broker: { type: 'simulated', rules: 'strict' },
  risk_control: { min_cash_reserve: 1000 },
  agent_config: { initial_cash: 10_000 },
};
const rules = (signature: string, strategy: 'equal_weight' | 'momentum', params: Record<string, number> = {}) => ({
  name: signature,
  signature,
  agent: { kind: 'rules', strategy, params },
});

export const WORKLOADS: Record<string, { readonly title: string; readonly config: Record<string, unknown>; readonly replayLog?: string[] }> = {
  replay: {
    title: 'replay of a recorded US run (gpt-5)',
    config: { ...BASE },
    replayLog: [`${DATA}agent-logs/us-60min.gpt-5.position.jsonl`],
  },
  'eq+mom': {
    title: 'equal_weight + momentum',
    config: { ...BASE, models: [rules('rules-equal-weight', 'equal_weight'), rules('rules-momentum', 'momentum', { lookback: 6, top_n: 5 })] },
  },
  '7-rules': {
    title: '7 rules agents',
    config: {
      ...BASE,
      models: [
        rules('eq-5', 'equal_weight'),
        rules('eq-2', 'equal_weight', { rebalance_threshold: 0.02 }),
        rules('eq-10', 'equal_weight', { rebalance_threshold: 0.1 }),
        rules('mom-6-5', 'momentum', { lookback: 6, top_n: 5 }),
        rules('mom-3-3', 'momentum', { lookback: 3, top_n: 3 }),
        rules('mom-12-10', 'momentum', { lookback: 12, top_n: 10 }),
        rules('mom-24-20', 'momentum', { lookback: 24, top_n: 20 }),
      ],
    },
  },
  'eq-1m': {
    title: 'equal_weight, threshold 0, 1M USD',
    config: {
      ...BASE,
      // Every symbol is re-traded each session: no per-session or per-minute cap in the way.
      risk_control: { min_cash_reserve: 1000, max_orders_per_session: 200, max_orders_per_minute: 100_000 },
      agent_config: { initial_cash: 1_000_000 },
      models: [rules('eq-0', 'equal_weight', { rebalance_threshold: 0 })],
    },
  },
};

interface Row {
  name: string;
  wallS: number;
  /** user + system CPU seconds of the whole process (all threads: LevelDB's too) during `runBacktest`. */
  cpuS: number;
  processS: number;
  load: string;
  sessions: number;
  orders: number;
  fills: number;
  bars: number;
  maxRssMb: number;
  reportSha: string;
}

/** report.json and every position.jsonl under the out dir, in path order. */
async function reportHash(out: string): Promise<string> {
  const files: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'state') await visit(p);
      } else if (e.name === 'report.json' || e.name === 'position.jsonl') files.push(p);
    }
  };
  await visit(out);
  const h = createHash('sha256');
  for (const f of files.sort()) h.update(f.slice(out.length)).update(await readFile(f));
  return h.digest('hex').slice(0, 16);
}

async function child(name: string): Promise<void> {
  const w = WORKLOADS[name];
  if (!w) throw new Error(`no workload ${name}: ${Object.keys(WORKLOADS).join(', ')}`);
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-workload-'));
  try {
    const file = join(out, 'bench-config.json');
    await writeFile(file, JSON.stringify(w.config));
    const config = await backtestConfig({ config: file, bars: BARS, ...(w.replayLog ? { replayLog: w.replayLog } : {}) });
    const prices = await loadPriceStore(BARS, { market: 'us' });
    const range = prices.range()!;
    const bars = prices.symbols().reduce((n, s) => n + prices.barsAsOf(s, range.last).length, 0);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await runBacktest({ config, outDir: out, generatedAt: GENERATED_AT, prices });
    const wallS = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const sigs = Object.values(r.report.signatures);
    const row: Omit<Row, 'processS' | 'load'> = {
      name,
      wallS,
      cpuS: (c.user + c.system) / 1e6,
      sessions: r.ticksTotal * config.models.length,
      orders: sigs.reduce((n, s) => n + s.orders, 0),
      fills: sigs.reduce((n, s) => n + s.fills, 0),
      bars,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      reportSha: await reportHash(out),
    };
    process.stdout.write(JSON.stringify(row) + '\n');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

const run = promisify(execFile);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const repeats = args[0] !== undefined && /^\d+$/.test(args[0]) ? Number(args.shift()) : 1;
  const names = args.length ? args : Object.keys(WORKLOADS);
  const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(`${new Date().toISOString()} node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load ${await load()}`);
  console.log('| work | orders | fills | sessions | wall s (median) | range | CPU s | orders/s | ms/order | CPU ms/order | sessions/s | bar-events/s | peak RSS MB | process s | load before | report sha256 |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const name of names) {
    const rows: Row[] = [];
    for (let i = 0; i < repeats; i++) {
      const before = await load();
      const t0 = performance.now();
      const { stdout } = await run(process.execPath, ['--import', 'tsx', SELF, '--child', name], { maxBuffer: 1 << 24 });
      const processS = (performance.now() - t0) / 1000;
      rows.push({ ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as Row), processS, load: before.split(' ')[0]! });
    }
    const by = [...rows].sort((a, b) => a.wallS - b.wallS);
    const m = by[Math.floor(by.length / 2)]!;
    const shas = [...new Set(rows.map((r) => r.reportSha))];
    const f = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
    console.log(
      `| ${WORKLOADS[name]!.title} | ${f(m.orders)} | ${f(m.fills)} | ${f(m.sessions)} | ${f(m.wallS, 2)} | ${f(by[0]!.wallS, 2)}-${f(by.at(-1)!.wallS, 2)} | ${f(m.cpuS, 2)} | ` +
        `${f(m.orders / m.wallS)} | ${f((m.wallS * 1000) / Math.max(1, m.orders), 2)} | ${f((m.cpuS * 1000) / Math.max(1, m.orders), 2)} | ${f(m.sessions / m.wallS)} | ${f(m.bars / m.wallS)} | ` +
        `${f(Math.max(...rows.map((r) => r.maxRssMb)))} | ${f(m.processS, 2)} | ${rows.map((r) => r.load).join(' ')} | ${shas.join(' ')} |`,
    );
  }
  console.log(`load after: ${await load()}`);
}

if (process.argv[2] === '--json') console.log(JSON.stringify(WORKLOADS[process.argv[3]!]));
else if (process.argv[2] === '--child') await child(process.argv[3]!);
else await main();
