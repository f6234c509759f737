/**
 * The account's program-trading tally in a process: counted with the step that asks the broker,
 * committed with it (a restart keeps the day's count), alerts sent after the commit, once each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/actors/store/store.js';
import { parseConfig } from '../../src/config/load.js';
import type { Message } from '../../src/domain/messages.js';
import { programTrading, programTradingOn } from '../../src/runtime/program-trading.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';

const config = (extra: Record<string, unknown> = {}, mode = 'paper', market = 'cn') =>
  parseConfig(
    {
      mode,
      market,
      data_source: market === 'cn' ? { type: 'sina', symbols: ['600519.SH'] } : { type: 'replay', bars_file: 'x.jsonl' },
      models: [{ name: 'a', signature: 'a', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      risk_control: { program_trading: { max_actions_per_second: 5, max_actions_per_day: 4, ...extra } },
    },
    't',
  );

let dirs: string[] = [];
let stores: Store[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  dirs = [];
  stores = [];
});

describe('the program-trading tally of a running process', () => {
  it('is on for A-shares in paper and live, off in backtests and (unless asked) for US stocks', () => {
    expect(programTradingOn(config())).toBe(true);
    expect(programTradingOn(config({}, 'backtest'))).toBe(false);
    expect(programTradingOn(config({}, 'paper', 'us'))).toBe(false);
    expect(programTradingOn(config({ enabled: true }, 'paper', 'us'))).toBe(true);
    expect(programTradingOn(config({ enabled: false }))).toBe(false);
  });

  it('commits each count with its step, keeps the day across a restart, and alerts after the commit, once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-pt-'));
    dirs.push(dir);
    const wall = new EpochVirtualScheduler(Date.UTC(2025, 10, 7, 2, 0)); // 10:00 Shanghai
    const alerts: Message<'monitor.alert'>[] = [];
    const store = await openStore(join(dir, 'state'));
    const pt = (await programTrading({ config: config(), store, wall, alert: (a) => alerts.push(a) }))!;
    pt.record('order');
    pt.record('cancel');
    // 2 of 4: the 50% alert waits for the commit.
    expect(alerts).toEqual([]);
    await store.commitNow();
    expect(alerts.map((a) => a.code)).toEqual(['PROGRAM_TRADING_RATE']);
    expect(alerts[0]!.message).toContain('2 orders + cancels today');
    await store.close();

    const again = await openStore(join(dir, 'state'));
    stores.push(again);
    const pt2 = (await programTrading({ config: config(), store: again, wall, alert: (a) => alerts.push(a) }))!;
    expect(pt2.view().tally.today).toEqual({ orders: 1, cancels: 1, maxPerSecond: 2 });
    pt2.record('order');
    pt2.record('order');
    await again.commitNow();
    // 80% at 4 (ceil 3.2); the 50% one is not sent again.
    expect(alerts.map((a) => a.code)).toEqual(['PROGRAM_TRADING_RATE', 'PROGRAM_TRADING_RATE']);
    expect(pt2.view().tally.today.orders).toBe(3);
  });
});
