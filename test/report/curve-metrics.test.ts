import { describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import {
  drawdownInfo,
  exposure,
  MIN_RATIO_PERIODS,
  monthlyReturns,
  ratio,
  ratioPeriodsReason,
  sortinoRatio,
  turnover,
} from '../../src/report/metrics.js';
import type { EquityPoint } from '../../src/report/types.js';

const pt = (at: string, equity: string, cash = equity): EquityPoint => ({ at, equity, cash });
const D = (day: number) => `2025-10-${String(day).padStart(2, '0')}T09:35:00+08:00`;

describe('drawdown with dates', () => {
  it('names the peak, the first trough of the largest fall and the recovery', () => {
    // 100 -> 120 (peak) -> 90 (trough, 25%) -> 110 -> 125 (recovered) -> 100 (20%)
    const curve = [pt(D(9), '120'), pt(D(10), '90'), pt(D(13), '110'), pt(D(14), '125'), pt(D(15), '100')];
    const d = drawdownInfo({ initialValue: '100', curve });
    expect(d.max.toFixed()).toBe('0.25');
    expect(d.peak).toEqual({ at: D(9), value: dec(120) });
    expect(d.trough).toEqual({ at: D(10), value: dec(90) });
    expect(d.recoveredAt).toBe(D(14));
    expect(d.series.map((p) => [p.at, ratio(p.drawdown)])).toEqual([
      [D(9), 0],
      [D(10), 0.25],
      [D(13), ratio(dec(10).div(120))],
      [D(14), 0],
      [D(15), 0.2],
    ]);
  });

  it('a fall from the initial value has its peak at null (before the first session), never recovered', () => {
    const d = drawdownInfo({ initialValue: '100', curve: [pt(D(9), '90'), pt(D(10), '95')] });
    expect(d.peak).toEqual({ at: null, value: dec(100) });
    expect(d.recoveredAt).toBeNull();
    const none = drawdownInfo({ initialValue: '100', curve: [pt(D(9), '100'), pt(D(10), '101')] });
    expect(none.max.toFixed()).toBe('0');
    expect(none.peak).toBeUndefined();
  });
});

describe('monthly returns', () => {
  it('puts each session in its month of the market zone, chains month ends, marks partial months', () => {
    const ny = 'America/New_York';
    const curve = [
      pt('2025-10-15T10:05:00-04:00', '101'),
      // 21:00 New York on Oct 31 is Nov 1 in UTC: still October
      pt('2025-11-01T01:00:00Z', '110'),
      pt('2025-11-03T10:05:00-05:00', '99'),
      pt('2025-11-28T15:05:00-05:00', '121'),
      pt('2025-12-01T10:05:00-05:00', '133.1'),
    ];
    const m = monthlyReturns({ initialValue: '100', curve }, ny, '2025-10-15', '2025-12-01');
    expect(m.map((r) => [r.month, r.startValue.toFixed(), r.endValue.toFixed(), r.return.toFixed(), r.sessions, r.partial])).toEqual([
      ['2025-10', '100', '110', '0.1', 2, true],
      ['2025-11', '110', '121', '0.1', 2, false],
      ['2025-12', '121', '133.1', '0.1', 1, true],
    ]);
    // the same instant in Shanghai is November 1st
    expect(monthlyReturns({ initialValue: '100', curve: curve.slice(0, 2) }, 'Asia/Shanghai', '2025-10-01', '2025-11-30').map((r) => r.month)).toEqual(['2025-10', '2025-11']);
    // a span covering whole months marks none partial
    expect(monthlyReturns({ initialValue: '100', curve: curve.slice(2, 4) }, ny, '2025-11-01', '2025-11-30')[0]!.partial).toBe(false);
  });
});

describe('Sharpe / Sortino periods rule, Sortino, exposure, turnover', () => {
  it('needs at least MIN_RATIO_PERIODS returns', () => {
    expect(MIN_RATIO_PERIODS).toBe(20);
    expect(ratioPeriodsReason(19)).toBe('19 return periods, fewer than 20');
    expect(ratioPeriodsReason(1)).toBe('1 return period, fewer than 20');
    expect(ratioPeriodsReason(20)).toBeNull();
  });

  it('Sortino: mean over the downside deviation, null without a negative return', () => {
    // returns 0.1, -0.1, 0.2, -0.2: mean 0; make it 0.1, -0.1, 0.3: mean 0.1, downside sqrt(0.01 / 3)
    const s = sortinoRatio([dec('0.1'), dec('-0.1'), dec('0.3')], 1)!;
    expect(s.toNumber()).toBeCloseTo(0.1 / Math.sqrt(0.01 / 3), 9);
    expect(sortinoRatio([dec('0.1'), dec('0.2')], 252)).toBeNull();
    expect(sortinoRatio([dec('-0.1')], 252)).toBeNull();
  });

  it('exposure counts sessions marked with a position; turnover divides by the mean equity', () => {
    const curve = [pt(D(9), '100'), pt(D(10), '101', '50'), pt(D(13), '99', '0'), pt(D(14), '100')];
    expect(exposure(curve)!.toFixed()).toBe('0.5');
    expect(exposure([])).toBeNull();
    expect(turnover(dec(200), curve)!.toFixed()).toBe('2');
    expect(turnover(dec(200), [])).toBeNull();
  });
});
