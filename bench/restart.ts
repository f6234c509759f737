/**
 * Restart to first session with N orders in the store (default 10,000).
 *
 * Build: a real US hourly backtest (NASDAQ-100 bars) of equal-weight rules agents with
 * rebalance threshold 0 and $10M each, so nearly every symbol is traded every session, is
 * run and extended a day at a time (`--to` extends a run) until the venue's books hold at
 * least N orders. Everything in the store was written by the real engine.
 *
 * Measure: for each repeat, a copy of that out dir is restarted in a FRESH process (so
 * module loading is in the figure) with `to` one trading day later: `runBacktest` reads the
 * bars, opens the store, checks the manifest, restores venue, ledger (and position.jsonl),
 * reconciles, restores the engine, and the clock resumes. Times are from process start
 * (`performance.now()` counts from it) to the end of each phase (the `onPhase` hook), to the
 * first session actor spawned (its `session.start`) and to that session done. The child
 * exits there: the rest of the day is not part of a restart.
 *
 *   npx tsx bench/restart.ts [orders=10000] [repeats=3] [--keep DIR]
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DateTime } from 'luxon';
import { runBacktest } from '../src/runtime/backtest.js';
import { backtestConfig } from '../src/config/backtest-flags.js';
import { openStore } from '../src/actors/store/store.js';
import { loadVenueState } from '../src/runtime/assemble.js';
import { FILL_FACTS_SUBLEVEL } from '../src/runtime/engine-runtime.js';
import { LEDGER_SUBLEVELS } from '../src/actors/ledger/ledger.js';
import { MARKETS } from '../src/domain/markets.js';
import { tradingInstants } from '../src/domain/schedule.js';
import { scheduleSpecOf } from '../src/config/schedule-spec.js';
import type { Config } from '../src/config/schema.js';

const SELF = new URL(import.meta.url).pathname;
const DATA = new URL('../test/fixtures/ai-trader/', import.meta.url).pathname;
const BARS = `${DATA}us/nasdaq100_60min.jsonl`;
const AGENTS = 2;
const FROM = '2025-10-01';
const GENERATED_AT = DateTime.fromISO('2026-01-01T00:00:00Z');

async function configTo(dir: string, to: string): Promise<Config> {
  const file = join(dir, 'bench-config.json');
  await writeFile(
    file,
    JSON.stringify({
      market: 'us',
      frequency: 'hourly',
      broker: { type: 'simulated', rules: 'ai-trader' },
      // Many orders per session: no per-session or per-minute cap in the way, and no stop-loss
      // sells mixed in (the count is of the agents' own orders).
      risk_control: { max_orders_per_session: 200, max_orders_per_minute: 100_000, enable_stop_loss: false, max_daily_loss_ratio: 0.99 },
      agent_config: { initial_cash: 10_000_000 },
      models: Array.from({ length: AGENTS }, (_, i) => ({
        name: `eq${i}`,
        signature: `eq${i}`,
        agent: { kind: 'rules', strategy: 'equal_weight', params: { rebalance_threshold: 0 } },
      })),
    }),
  );
  return backtestConfig({ config: file, bars: BARS, from: FROM, to });
}

/** Trading days of the span, in order (exchange-local dates). */
async function tradingDays(dir: string): Promise<string[]> {
  const config = await configTo(dir, '2025-11-10');
  const zone = MARKETS.us.zone;
  const days = tradingInstants(scheduleSpecOf(config), FROM, '2025-11-10').map((i) => i.setZone(zone).toISODate()!);
  return [...new Set(days)];
}

interface Counts {
  venueOrders: number;
  venueFills: number;
  fillFacts: number;
  ledgerFills: number;
}

const run = promisify(execFile);
const du = async (dir: string) => Number((await run('du', ['-sb', dir])).stdout.split('\t')[0]);

async function counts(out: string): Promise<Counts> {
  const store = await openStore(join(out, 'state'));
  try {
    const venue = (await loadVenueState(store))!;
    let fillFacts = 0;
    for await (const _ of store.listRecords(FILL_FACTS_SUBLEVEL)) fillFacts++;
    let ledgerFills = 0;
    for await (const _ of store.listRecords(LEDGER_SUBLEVELS.fills)) ledgerFills++;
    return { venueOrders: venue.orders.length, venueFills: venue.orders.reduce((n, o) => n + o.fills.length, 0), fillFacts, ledgerFills };
  } finally {
    await store.close();
  }
}

type Marks = Record<string, number>;

/** The child: one restart, timed from process start; prints its marks as JSON and exits. */
async function child(out: string, to: string): Promise<void> {
  const marks: Marks = { script: performance.now() };
  const config = await configTo(out, to);
  marks['config'] = performance.now();
  let session: string | undefined;
  const print = () => {
    process.stdout.write(JSON.stringify(marks) + '\n');
    process.exit(0);
  };
  await runBacktest({
    config,
    outDir: out,
    generatedAt: GENERATED_AT,
    onPhase: (phase) => (marks[phase] = performance.now()),
    inspect: (e) => {
      if (e.type === '@xstate.event' && e.event.type === 'session.start' && session === undefined) {
        session = (e.actorRef as unknown as { id: string }).id;
        marks['first session.start'] = performance.now();
      }
      if (e.type === '@xstate.snapshot' && session !== undefined && (e.actorRef as unknown as { id: string }).id === session && (e.snapshot as { status: string }).status === 'done') {
        marks['first session done'] = performance.now();
        print();
      }
    },
  });
  print();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const keepAt = args.indexOf('--keep');
  const keep = keepAt >= 0 ? args.splice(keepAt, 2)[1] : undefined;
  const target = Number(args[0] ?? 10_000);
  const repeats = Number(args[1] ?? 3);
  const out = keep ?? (await mkdtemp(join(tmpdir(), 'agent-trader-restart-')));
  if (keep) await mkdir(keep, { recursive: true });
  const days = await tradingDays(out);

  // Build: extend the run a day at a time until the venue holds `target` orders.
  let c = await counts(out).catch(() => undefined);
  let dayIndex = 0;
  const built0 = performance.now();
  const lastDayFile = join(out, 'bench-last-day');
  try {
    dayIndex = days.indexOf((await readFile(lastDayFile, 'utf8')).trim());
  } catch {
    dayIndex = -1;
  }
  while (!c || c.venueOrders < target) {
    dayIndex++;
    if (dayIndex >= days.length - 1) throw new Error(`the data ends before ${target} orders (${c?.venueOrders ?? 0})`);
    await runBacktest({ config: await configTo(out, days[dayIndex]!), outDir: out, generatedAt: GENERATED_AT });
    await writeFile(lastDayFile, days[dayIndex]!);
    c = await counts(out);
    process.stderr.write(`built to ${days[dayIndex]}: ${c.venueOrders} orders\n`);
  }
  const buildS = (performance.now() - built0) / 1000;
  const size = await du(join(out, 'state'));
  console.log(
    `state: ${c.venueOrders} venue orders, ${c.venueFills} venue fills, ${c.fillFacts} fill facts, ${c.ledgerFills} ledger fills, ` +
      `${AGENTS} agents, up to ${days[dayIndex]}; state dir ${(size / 1e6).toFixed(1)} MB${buildS > 1 ? `; built in ${buildS.toFixed(0)} s` : ''}`,
  );

  // Measure: restart a fresh copy in a fresh process, `repeats` times.
  const next = days[dayIndex + 1]!;
  const runs: Marks[] = [];
  for (let i = 0; i < repeats; i++) {
    const copy = await mkdtemp(join(tmpdir(), 'agent-trader-restart-copy-'));
    await cp(out, copy, { recursive: true });
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', SELF, '--child', copy, next], { maxBuffer: 1 << 20 });
    const marks = JSON.parse(stdout.trim().split('\n').at(-1)!) as Marks;
    runs.push(marks);
    console.log(`run ${i + 1} (load ${load}): ${Object.entries(marks).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} ms`);
    await rm(copy, { recursive: true, force: true });
  }

  // Per phase: median of the durations (each phase from the end of the previous one).
  const order = Object.keys(runs[0]!);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  let prev = 'process start';
  for (const k of order) {
    const d = runs.map((m) => m[k]! - (prev === 'process start' ? 0 : m[prev]!));
    console.log(`  ${prev} -> ${k}: median ${median(d).toFixed(0)} ms (${Math.min(...d).toFixed(0)}-${Math.max(...d).toFixed(0)})`);
    prev = k;
  }
  const total = runs.map((m) => m['first session.start']! - m['script']!);
  console.log(`runBacktest-side restart (script body -> first session.start): median ${median(total).toFixed(0)} ms; from process start: median ${median(runs.map((m) => m['first session.start']!)).toFixed(0)} ms`);
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
  if (!keep) await rm(out, { recursive: true, force: true });
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!);
else await main();
