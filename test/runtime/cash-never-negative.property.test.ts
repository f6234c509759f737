/**
 * Property (issue 15): over random sessions of buys and sells, in both markets and under both
 * rule sets, no position.jsonl record ever shows a negative position or negative cash.
 *
 * Each case is a whole backtest in virtual time (runBacktest: the engine, the real risk
 * actor, the real SimulatedBroker, the real Ledger, the stop-loss watcher) over two trading
 * days of the bundled sample, with a replay agent asking for a random list of orders at
 * each session. What makes the order of events matter is switched on: a tight stop-loss (its
 * sells fill at bar opens and closes, between the sessions' orders), a small volume share
 * (strict: partial fills that rest and fill at later bars), and orders outside the hours queued
 * to the next open; cash is short enough that many buys do not fit. The records must also end
 * where report.json does.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { parseConfig } from '../../src/config/load.js';
import { isTradingDay } from '../../src/domain/calendar/index.js';
import type { Market } from '../../src/domain/markets.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { runBacktest } from '../../src/runtime/backtest.js';
import { ROOT } from '../support/cli.js';

const BARS: Record<Market, string> = { cn: join(ROOT, 'data/sample/cn_hourly.jsonl'), us: join(ROOT, 'data/sample/us_hourly.jsonl') };
/** AI-Trader's hourly labels (the replay agent finds a session's actions by them). */
const LABELS: Record<Market, readonly string[]> = {
  cn: ['10:30:00', '11:30:00', '14:00:00', '15:00:00'],
  us: ['10:00:00', '11:00:00', '12:00:00', '13:00:00', '14:00:00', '15:00:00'],
};
const SPAN: Record<Market, { from: string; to: string }> = { cn: { from: '2025-10-09', to: '2025-11-18' }, us: { from: '2025-10-01', to: '2025-11-07' } };
const CASH: Record<Market, number> = { cn: 60_000, us: 4_000 };

const prices = {} as Record<Market, PriceStore>;
const days = {} as Record<Market, string[]>;
beforeAll(async () => {
  for (const market of ['cn', 'us'] as const) {
    prices[market] = await loadPriceStore(BARS[market], { market });
    const out: string[] = [];
    for (let d = DateTime.fromISO(SPAN[market].from); d <= DateTime.fromISO(SPAN[market].to); d = d.plus({ days: 1 })) {
      if (isTradingDay(market, d.toISODate()!)) out.push(d.toISODate()!);
    }
    days[market] = out;
  }
});

interface Order {
  readonly side: 'buy' | 'sell';
  readonly symbol: number;
  readonly lots: number;
}
interface Case {
  readonly start: number;
  /** Per session (two days of them), the orders the agent asks for, in order. */
  readonly sessions: readonly (readonly Order[])[];
  readonly queueOutsideHours: boolean;
}

const order: fc.Arbitrary<Order> = fc.record({
  side: fc.constantFrom('buy' as const, 'buy' as const, 'sell' as const),
  symbol: fc.nat({ max: 5 }),
  lots: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 30 }) }),
});
const caseOf = (market: Market): fc.Arbitrary<Case> =>
  fc.record({
    start: fc.nat({ max: 20 }),
    sessions: fc.array(fc.array(order, { maxLength: 4 }), { minLength: 2 * LABELS[market].length, maxLength: 2 * LABELS[market].length }),
    queueOutsideHours: fc.boolean(),
  });

interface Rec {
  date: string;
  this_action?: { action: string; symbol: string; amount: number };
  positions: Record<string, number>;
}

/** What the cases exercised, so a generator that never trades fails the test. */
const seen = { records: 0, actions: 0, refusedForCash: 0, sellsBeforeBuysInALabel: 0 };

async function run(market: Market, rules: 'strict' | 'ai-trader', c: Case): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-cash-property-'));
  try {
    const symbols = prices[market].symbols();
    const dates = days[market].slice(c.start % (days[market].length - 1)).slice(0, 2);
    const labels = dates.flatMap((d) => LABELS[market].map((t) => `${d} ${t}`));
    const lot = market === 'cn' ? 100 : 1;
    // An AI-Trader position.jsonl: record 0, then the actions (their positions are not read).
    const lines = [{ date: `${dates[0]} 09:30:00`, id: 0, positions: { ...Object.fromEntries(symbols.map((s) => [s, 0])), CASH: CASH[market] } }];
    c.sessions.forEach((orders, i) =>
      orders.forEach((o) =>
        lines.push({ date: labels[i]!, id: lines.length, this_action: { action: o.side, symbol: symbols[o.symbol % symbols.length]!, amount: o.lots * lot }, positions: {} } as never),
      ),
    );
    const log = join(dir, 'random.position.jsonl');
    await writeFile(log, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const config = parseConfig(
      {
        mode: 'backtest',
        market,
        frequency: 'hourly',
        data_source: { type: 'file', bars_file: BARS[market] },
        date_range: { from: dates[0], to: dates[1] },
        broker: { type: 'simulated', rules, max_volume_share: 0.002 },
        risk_control: {
          min_cash_reserve: 0,
          max_single_position_ratio: 0.999,
          max_orders_per_session: 50,
          max_orders_per_minute: 1000,
          duplicate_window_seconds: 0,
          max_daily_loss_ratio: 0.999,
          enable_stop_loss: true,
          stop_loss_ratio: 0.004,
        },
        execution: { orders_outside_hours: c.queueOutsideHours ? 'queue_next_open' : 'reject' },
        models: [{ name: 'random', signature: 'random', agent: { kind: 'replay', log_file: log } }],
        agent_config: { initial_cash: CASH[market] },
        state_dir: join(dir, 'state-dir'),
      },
      'property',
    );
    const out = join(dir, 'out');
    const { report } = await runBacktest({ config, outDir: out, generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z'), prices: prices[market] });
    const records = (await readFile(join(out, 'random', 'position.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Rec);
    for (const r of records) {
      for (const [k, v] of Object.entries(r.positions)) expect(v, `${k} after record ${JSON.stringify(r)}`).toBeGreaterThanOrEqual(0);
    }
    const s = report.signatures['random']!;
    expect(records.at(-1)!.positions['CASH']!.toFixed(2), 'the log ends where report.json does').toBe(s.final_cash);
    seen.records += records.length;
    seen.actions += records.filter((r) => r.this_action?.action === 'buy' || r.this_action?.action === 'sell').length;
    seen.refusedForCash += (s.rejected['INSUFFICIENT_CASH'] ?? 0) + (s.rejected['MIN_CASH_RESERVE'] ?? 0);
    for (let i = 1; i < records.length; i++) {
      const [a, b] = [records[i - 1]!, records[i]!];
      if (a.date === b.date && a.this_action?.action === 'sell' && b.this_action?.action === 'buy') seen.sellsBeforeBuysInALabel++;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('property: no position.jsonl record shows a negative position or negative cash', () => {
  for (const market of ['cn', 'us'] as const) {
    for (const rules of ['strict', 'ai-trader'] as const) {
      it(`${market}, --rules ${rules}`, async () => {
        const before = { ...seen };
        await fc.assert(fc.asyncProperty(caseOf(market), (c) => run(market, rules, c)), { numRuns: 20 });
        // The cases traded and ran short of cash (a generator that only holds would prove nothing).
        expect(seen.actions - before.actions).toBeGreaterThan(40);
        expect(seen.refusedForCash - before.refusedForCash).toBeGreaterThan(5);
      }, 300_000);
    }
  }

  it('the cases had sells (stop-losses, queued orders) filled before buys of the same session', () => {
    expect(seen.sellsBeforeBuysInALabel).toBeGreaterThan(10);
  });
});
