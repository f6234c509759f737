/**
 * Backtest speed: every recorded AI-Trader agent of test/fixtures/ai-trader replayed at once,
 * per market (a backtest trades one market), through the whole engine with the
 * simulated broker (ai-trader rules), the ledger (LevelDB + position.jsonl with
 * fsync) and the report. Prints sessions/s and bar-events/s (bars in the span the
 * run could see, per second of wall time).
 *
 *   npx tsx bench/backtest.ts [repeats=3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { loadPriceStore } from '../src/actors/market-data/alpha-vantage-file.js';
import { runBacktest } from '../src/runtime/backtest.js';
import { backtestConfig } from '../src/config/backtest-flags.js';

const DATA = fileURLToPath(new URL('../test/fixtures/ai-trader/', import.meta.url));
const repeats = Number(process.argv[2] ?? 3);

const RUNS = [
  { market: 'cn', frequency: 'daily', bars: `${DATA}cn/sse50_daily.jsonl`, logs: ['cn-daily.gpt-5', 'cn-daily.deepseek-chat-v3.1'] },
  { market: 'us', frequency: 'hourly', bars: `${DATA}us/nasdaq100_60min.jsonl`, logs: ['us-60min.gpt-5', 'us-60min.deepseek-chat-v3.1'] },
] as const;

for (const run of RUNS) {
  const prices = await loadPriceStore(run.bars, { market: run.market });
  const range = prices.range()!;
  const bars = prices.symbols().reduce((n, s) => n + prices.barsAsOf(s, range.last).length, 0);
  const config = await backtestConfig({
    market: run.market,
    frequency: run.frequency,
    bars: run.bars,
    rules: 'ai-trader',
    replayLog: run.logs.map((l) => `${DATA}agent-logs/${l}.position.jsonl`),
  });
  const times: number[] = [];
  let sessions = 0;
  let fills = 0;
  for (let i = 0; i < repeats; i++) {
    const out = await mkdtemp(join(tmpdir(), 'agent-trader-bench-'));
    const t0 = performance.now();
    const r = await runBacktest({ config, outDir: out, generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z'), prices });
    times.push((performance.now() - t0) / 1000);
    sessions = r.ticksTotal * config.models.length;
    fills = Object.values(r.report.signatures).reduce((n, s) => n + s.fills, 0);
    await rm(out, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(
    `${run.market} ${run.frequency}: ${config.models.length} agents, ${sessions} sessions, ${fills} fills, ${bars} bars; ` +
      `median ${median.toFixed(2)} s of ${repeats} -> ${(sessions / median).toFixed(0)} sessions/s, ${(bars / median).toFixed(0)} bar-events/s`,
  );
}
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`);
