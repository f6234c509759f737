import { describe, expect, it } from 'vitest';
import { checkHeartbeats, type Observation } from '../../src/domain/monitor/heartbeats.js';
import { dailyReport, dailyReportText } from '../../src/domain/monitor/daily-report.js';

const limits = { clockStallMs: 30_000, quoteSilenceMs: 60_000, sessionStuckMs: 600_000 };
const alive: Observation = { wallMs: 1_000_000, runMs: 5_000_000, lastClockBeatWallMs: 1_000_000, marketOpen: true, lastQuoteMs: 5_000_000, brokerConnected: true, running: {} };
const failing = (o: Partial<Observation>) => checkHeartbeats({ ...alive, ...o }, limits).filter((s) => !s.ok).map((s) => `${s.code} ${s.level}: ${s.problem}`);

describe('heartbeats', () => {
  it('all alive', () => expect(failing({})).toEqual([]));

  it('clock: stalled only beyond its limit', () => {
    expect(failing({ lastClockBeatWallMs: 1_000_000 - 30_000 })).toEqual([]);
    expect(failing({ lastClockBeatWallMs: 1_000_000 - 30_001 })).toEqual(['CLOCK_STALLED critical: the run clock has not beaten for 30 s (limit 30 s): no tick can fire']);
  });

  it('quotes: silent only while the market is open', () => {
    expect(failing({ lastQuoteMs: 5_000_000 - 60_000 })).toEqual([]);
    expect(failing({ lastQuoteMs: 5_000_000 - 61_000 })).toEqual(['QUOTE_FEED_SILENT warning: the market is open and the last quote is 61 s old (limit 60 s)']);
    expect(failing({ lastQuoteMs: 0, marketOpen: false })).toEqual([]);
    expect(failing({ lastQuoteMs: undefined })).toEqual(['QUOTE_FEED_SILENT warning: the market is open and no quote has arrived yet']);
    // Counted from the open: yesterday's last quote is not a silence of 18 hours.
    expect(failing({ lastQuoteMs: 1_000, openedAtMs: 5_000_000 - 60_000 })).toEqual([]);
    expect(failing({ lastQuoteMs: undefined, openedAtMs: 5_000_000 - 61_000 })).toEqual([
      'QUOTE_FEED_SILENT warning: the market opened 61 s ago and no quote has arrived since (limit 60 s)',
    ]);
  });

  it('broker and sessions', () => {
    expect(failing({ brokerConnected: false })).toEqual(['BROKER_DISCONNECTED critical: the broker is not connected: orders cannot be placed or reconciled']);
    expect(failing({ running: { a: { sessionId: 'a@x', atMs: 5_000_000 - 600_000 } } })).toEqual([]);
    expect(failing({ running: { a: { sessionId: 'a@x', atMs: 5_000_000 - 601_000 } } })).toEqual(['SESSION_STUCK warning: sessions running past their deadline: a (a@x, 601 s)']);
  });
});

describe('daily report', () => {
  it('reports the day: PnL against the start of day, counts since the previous report', () => {
    const day = (orders: number, fees: string, rejections: Record<string, number>) => ({ orders, fills: orders, fees, rejections });
    const first = dailyReport('us', '2025-11-06', 'USD', [{ signature: 'a', equity: '10100', startOfDayEquity: '10000', cash: '500', totals: day(3, '1.5', { LOT_SIZE: 1 }) }]);
    expect(first.lines[0]).toEqual({ signature: 'a', equity: '10100.00', pnl: '100.00', pnlPercent: '1.00', cash: '500.00', orders: 3, fills: 3, fees: '1.50', rejections: { LOT_SIZE: 1 } });
    const second = dailyReport('us', '2025-11-07', 'USD', [{ signature: 'a', equity: '9999', startOfDayEquity: '10100', cash: '700', totals: day(5, '2', { LOT_SIZE: 1, STALE_QUOTE: 2 }) }], first.totals);
    expect(second.lines[0]).toMatchObject({ pnl: '-101.00', pnlPercent: '-1.00', orders: 2, fees: '0.50', rejections: { STALE_QUOTE: 2 } });
    expect(dailyReportText(second)).toBe('Daily report us 2025-11-07\n- a: equity 9999.00 USD (-101.00, -1.00%), 2 orders, 2 fills, fees 0.50, rejected: STALE_QUOTE 2');
  });
});
