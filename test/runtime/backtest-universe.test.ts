/** A backtest with data_source.symbols trades those symbols only, as paper does (paper.test.ts). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/runtime/backtest.js';
import { parseConfig } from '../../src/config/load.js';

const SAMPLE = new URL('../../data/sample/cn_daily.jsonl', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const config = (symbols: string[]) =>
  parseConfig(
    {
      market: 'cn',
      frequency: 'daily',
      data_source: { bars_file: SAMPLE, symbols },
      date_range: { from: '2025-10-09', to: '2025-10-17' },
      risk_control: { enable_stop_loss: false, max_single_position_ratio: 0.5 },
      models: [
        { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'wide', signature: 'wide', agent: { kind: 'rules', strategy: 'equal_weight', params: { symbols: ['601318.SH', '600900.SH'] } } },
      ],
    },
    'test',
  );

async function out(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'agent-trader-bt-universe-'));
  dirs.push(d);
  return d;
}

describe('backtest with data_source.symbols', () => {
  it('the agents see only those symbols, and an order for another is refused SYMBOL_NOT_TRADED', async () => {
    const dir = await out();
    const r = await runBacktest({ config: config(['601318.SH', '600036.SH']), outDir: dir, generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z') });
    const bought = async (sig: string) => {
      const lines = (await readFile(join(dir, sig, 'position.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { positions: Record<string, number>; this_action?: { action: string; symbol: string } });
      return { columns: Object.keys(lines[0]!.positions), symbols: new Set(lines.flatMap((l) => (l.this_action?.action === 'buy' ? [l.this_action.symbol] : []))) };
    };
    expect(await bought('ew')).toEqual({ columns: ['601318.SH', '600036.SH', 'CASH'], symbols: new Set(['601318.SH', '600036.SH']) });
    expect((await bought('wide')).symbols).toEqual(new Set(['601318.SH']));
    expect(r.report.signatures['wide']!.rejected).toMatchObject({ SYMBOL_NOT_TRADED: expect.any(Number) });
    expect(r.report.signatures['ew']!.rejected['SYMBOL_NOT_TRADED']).toBeUndefined();
  }, 60_000);

  it('refuses a symbol the bars file does not have, before anything is written', async () => {
    const dir = await out();
    await expect(runBacktest({ config: config(['600519.SH', '000001.SZ']), outDir: dir, generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z') })).rejects.toThrow(
      /^data_source\.symbols: 000001\.SZ not in .*cn_daily\.jsonl \(it has 6 symbols\); a backtest trades only symbols with bars$/,
    );
  });
});
