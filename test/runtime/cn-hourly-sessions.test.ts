/**
 * A-share hourly sessions outside continuous trading: the default schedule puts 11:35 in the
 * lunch break and 15:05 after the close, and the cn default `orders_outside_hours:
 * queue_next_open` makes their orders wait for the next open (13:00, the next trading day's
 * 09:30) as limits at the decision price +/- `execution.queued_limit_band`, instead of being
 * refused MARKET_CLOSED. Real backtests: the shipped config on the bundled sample, and a small
 * file whose next open gaps beyond the band.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import type { InspectionEvent } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { backtestConfig } from '../../src/config/backtest-flags.js';
import type { Config } from '../../src/config/schema.js';
import type { OrderResult } from '../../src/domain/orders.js';
import { runBacktest } from '../../src/runtime/backtest.js';

const CN_HOURLY = fileURLToPath(new URL('../../config/cn-hourly.json', import.meta.url));
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'agent-trader-cn-hourly-'));
  dirs.push(d);
  return d;
};

/** Every order's first answer to its session (queued or final) and how it ended. */
async function backtest(config: Config) {
  const told = new Map<string, OrderResult>();
  const ended = new Map<string, OrderResult>();
  const out = await tempDir();
  const result = await runBacktest({
    config,
    outDir: out,
    generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z'),
    inspect: (e: InspectionEvent) => {
      if (e.type !== '@xstate.event') return;
      const ev = e.event as { type: string; result?: OrderResult; clientOrderId?: string };
      if (ev.type === 'order.result' && ev.result && !told.has(ev.result.clientOrderId)) told.set(ev.result.clientOrderId, ev.result);
      if (ev.type === 'order.finished' && ev.result) ended.set(ev.result.clientOrderId, ev.result);
    },
  });
  return { result, told, ended };
}

/** `rules-momentum.20251010T1135.2` -> `11:35` (the session that made the order). */
const sessionOf = (cid: string) => /\.\d{8}T(\d{2})(\d{2})\.\d+$/.exec(cid)?.slice(1, 3).join(':');

describe('the default cn-hourly config (config/cn-hourly.json)', () => {
  it('trades in all four sessions: 11:35 and 15:05 orders wait for the next open and fill there', async () => {
    const config = await backtestConfig({ config: CN_HOURLY });
    expect(config.execution).toMatchObject({ orders_outside_hours: 'queue_next_open', queued_limit_band: 0.02 });
    const { result, told, ended } = await backtest(config);

    const filledBySession = new Map<string, number>();
    for (const [cid, r] of ended) {
      const s = sessionOf(cid);
      if (s && r.status === 'filled') filledBySession.set(s, (filledBySession.get(s) ?? 0) + 1);
    }
    for (const s of ['10:35', '11:35', '14:05', '15:05']) expect(filledBySession.get(s) ?? 0, `orders of the ${s} sessions filled`).toBeGreaterThan(0);

    // Outside hours: answered `queued`, with when and at what protective limit.
    const queued = [...told.values()].filter((r) => r.status === 'queued');
    expect(queued.length).toBeGreaterThan(0);
    for (const r of queued) {
      const s = sessionOf(r.clientOrderId);
      expect(['11:35', '15:05'], r.clientOrderId).toContain(s);
      expect(r.queuedUntil, r.clientOrderId).toMatch(s === '11:35' ? /T13:00:00\+08:00$/ : /T09:30:00\+08:00$/);
      expect(r.intent.type).toBe('limit');
      expect(r.message).toMatch(/the order waits for the next open, .* as a limit (buy|sell) at [\d.]+ \(the decision price [\d.]+ [+-] 2%/);
    }
    // Nothing refused for the hours any more (it was MARKET_CLOSED 14 for rules-momentum).
    for (const s of Object.values(result.report.signatures)) expect(s.rejected['MARKET_CLOSED']).toBeUndefined();
  }, 120_000);

  it("orders_outside_hours: reject still refuses them, as configured", async () => {
    const flagged = await backtestConfig({ config: CN_HOURLY, to: '2025-10-17' });
    const { result, told } = await backtest({ ...flagged, execution: { ...flagged.execution, orders_outside_hours: 'reject' } });
    expect([...told.values()].some((r) => r.status === 'queued')).toBe(false);
    expect(result.report.signatures['rules-momentum']!.rejected['MARKET_CLOSED']).toBeGreaterThan(0);
  }, 120_000);
});

describe('a queued market order cannot fill at any price', () => {
  /** One SSE stock, hourly, two days; `opens` of the second day by label. */
  async function files(day2: Record<string, [string, string]>) {
    const dir = await tempDir();
    const bar = ([open, close]: [string, string]) => ({ '1. buy price': open, '2. high': open, '3. low': close, '4. sell price': close, '5. volume': '100000' });
    const series: Record<string, unknown> = {};
    for (const label of ['10:30', '11:30', '14:00', '15:00']) series[`2025-10-09 ${label}:00`] = bar(['10.00', '10.00']);
    for (const [label, prices] of Object.entries(day2)) series[`2025-10-10 ${label}:00`] = bar(prices);
    const doc = { 'Meta Data': { '2. Symbol': '600000.SH', '4. Interval': '60min', '6. Time Zone': 'Asia/Shanghai' }, 'Time Series (60min)': series };
    await writeFile(join(dir, 'bars.jsonl'), `${JSON.stringify(doc)}\n`);
    const record = (id: number, date: string, action: string, amount: number, held: number, cash: number) =>
      JSON.stringify({ date, id, this_action: { action, symbol: '600000.SH', amount }, positions: { '600000.SH': held, CASH: cash } });
    const log = [
      JSON.stringify({ date: '2025-10-09 08:30:00', id: 0, positions: { '600000.SH': 0, CASH: 100000 } }),
      record(1, '2025-10-09 15:00:00', 'buy', 100, 100, 99000), // the 15:05 session: queued for 10-10 09:30
      record(2, '2025-10-10 11:30:00', 'buy', 100, 200, 98000), // the 11:35 session: queued for 13:00
    ];
    await writeFile(join(dir, 'sig.position.jsonl'), `${log.join('\n')}\n`);
    return backtestConfig({ market: 'cn', frequency: 'hourly', bars: join(dir, 'bars.jsonl'), replayLog: [join(dir, 'sig.position.jsonl')], stopLoss: false });
  }

  it('an open beyond the band leaves it unfilled (cancelled when its limit times out); one inside the band fills', async () => {
    // 10-10: opens at 10.50 (+5% on the 10.00 it was decided at), 13:00 opens at 10.15 (inside +2% of 10.05).
    const config = await files({ '10:30': ['10.50', '10.05'], '11:30': ['10.05', '10.05'], '14:00': ['10.15', '10.15'], '15:00': ['10.15', '10.15'] });
    const { told, ended } = await backtest(config);
    const byCid = (hhmm: string) => [...ended.entries()].find(([cid]) => cid.includes(hhmm))?.[1];
    const gapped = byCid('20251009T1505');
    expect(told.get(gapped!.clientOrderId)).toMatchObject({ status: 'queued', intent: { type: 'limit', limitPrice: '10.2' }, queuedUntil: '2025-10-10T09:30:00+08:00' });
    expect(gapped).toMatchObject({ status: 'cancelled', reason: 'LIMIT_TIMEOUT', filledQuantity: 0 });
    const inside = byCid('20251010T1135');
    expect(told.get(inside!.clientOrderId)).toMatchObject({ status: 'queued', intent: { limitPrice: '10.25' }, queuedUntil: '2025-10-10T13:00:00+08:00' });
    expect(inside).toMatchObject({ status: 'filled', filledQuantity: 100, averagePrice: '10.15' });
  }, 60_000);
});
