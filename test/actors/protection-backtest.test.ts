/** Stop-loss sells in a whole backtest: counted as orders in the report, once each, also in the ledger's journal. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestResult } from '../../src/runtime/backtest.js';
import { openStore } from '../../src/actors/store/store.js';
import { parseConfig } from '../../src/config/load.js';

const SAMPLE = new URL('../../data/sample/cn_daily.jsonl', import.meta.url).pathname;

let out: string;
let result: BacktestResult;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'agent-trader-protect-'));
  const config = parseConfig(
    {
      market: 'cn',
      frequency: 'daily',
      data_source: { bars_file: SAMPLE },
      date_range: { from: '2025-10-09', to: '2025-10-31' },
      risk_control: { enable_stop_loss: true, stop_loss_ratio: 0.02, max_single_position_ratio: 0.5 },
      models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
    },
    'test',
  );
  result = await runBacktest({ config, outDir: out, generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z') });
}, 60_000);
afterAll(() => rm(out, { recursive: true, force: true }));

describe('protective orders in a backtest', () => {
  it('counts each stop-loss sell once in the orders of the report', async () => {
    const store = await openStore(join(out, 'state'));
    let protective = 0;
    let sessionOrders = 0;
    const cids = new Set<string>();
    try {
      for await (const { entry } of store.readJournal<{ type?: string; orders?: number; clientOrderId?: string; status?: string }>()) {
        if (entry.type === 'ledger.protectiveOrder') {
          protective++;
          cids.add(entry.clientOrderId!);
        }
        if (entry.type === 'ledger.session') sessionOrders += entry.orders!;
      }
    } finally {
      await store.close();
    }
    expect(protective).toBeGreaterThan(0);
    expect(cids.size).toBe(protective);
    expect([...cids].every((c) => /^ew\.\d{8}T\d{4}\.SL-/.test(c))).toBe(true);
    expect(result.report.signatures['ew']!.orders).toBe(sessionOrders + protective);
  });
});
