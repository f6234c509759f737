import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/domain/errors.js';
import { dec } from '../../src/domain/money.js';
import {
  alignBenchmark,
  benchmarkMetrics,
  defaultPeriodsPerYear,
  maxDrawdown,
  periodReturns,
  ratio,
  runMetrics,
  sessionInstants,
  sharpeRatio,
  totalReturn,
} from '../../src/report/metrics.js';
import type { BenchmarkSeries, EquityPoint } from '../../src/report/types.js';

const ds = (xs: readonly (string | number)[]) => xs.map((x) => dec(x));
/** One point per daily session from 2025-10-09, equity as given. */
const curve = (equities: readonly string[]): EquityPoint[] =>
  equities.map((equity, i) => ({
    at: DateTime.fromISO('2025-10-09T09:35:00+08:00', { setZone: true }).plus({ days: i }).toISO({ suppressMilliseconds: true })!,
    equity,
    cash: '0',
  }));

describe('total return and max drawdown', () => {
  it('computes them on hand-made curves', () => {
    expect(totalReturn(dec(100), dec(130)).toFixed()).toBe('0.3');
    expect(totalReturn(dec(100), dec(80)).toFixed()).toBe('-0.2');
    // peak 120, trough 90: (120 - 90) / 120 = 0.25; the later new high does not undo it
    expect(maxDrawdown(ds([100, 120, 90, 110, 130])).toFixed()).toBe('0.25');
    // two falls: 100 -> 80 (0.2) and 150 -> 105 (0.3): the larger wins
    expect(maxDrawdown(ds([100, 80, 150, 105])).toFixed()).toBe('0.3');
    expect(maxDrawdown(ds([100, 101, 102])).toFixed()).toBe('0');
    expect(maxDrawdown(ds([])).toFixed()).toBe('0');
  });

  it('counts the initial value as the first peak of a run', () => {
    const m = runMetrics({ initialValue: '100', curve: curve(['120', '90', '110', '130']) }, 252);
    expect(m.totalReturn.toFixed()).toBe('0.3');
    expect(m.maxDrawdown.toFixed()).toBe('0.25');
    expect(m.periods).toBe(4);
    // a loss in the very first session is a drawdown from the initial value
    expect(runMetrics({ initialValue: '100', curve: curve(['90']) }, 252).maxDrawdown.toFixed()).toBe('0.1');
  });

  it('keeps money exact (no binary-float drift)', () => {
    const m = runMetrics({ initialValue: '0.3', curve: curve(['0.1', '0.2', '0.3']) }, 252);
    expect(m.totalReturn.isZero()).toBe(true);
    expect(periodReturns(ds(['0.1', '0.3'])).map((r) => r.toFixed())).toEqual(['2']);
  });
});

describe('Sharpe ratio', () => {
  it('matches a hand computation', () => {
    // 100 -> 110 -> 121 -> 108.9: returns 0.1, 0.1, -0.1; mean 1/30, sample sd 1/sqrt(75)
    // per period: sqrt(75)/30 = 0.2886751...; x sqrt(252) = sqrt(18900)/30 = 4.5825756...
    const r = periodReturns(ds([100, 110, 121, '108.9']));
    expect(r.map((x) => x.toFixed())).toEqual(['0.1', '0.1', '-0.1']);
    expect(ratio(sharpeRatio(r, 1)!)).toBe(0.288675);
    expect(ratio(sharpeRatio(r, 252)!)).toBe(4.582576);
    const m = runMetrics({ initialValue: '100', curve: curve(['110', '121', '108.9']) }, 252);
    expect(ratio(m.sharpe!)).toBe(4.582576);
  });

  it('is negative for a losing series and null when undefined', () => {
    expect(sharpeRatio(periodReturns(ds([100, 90, 85, 86])), 242)!.isNegative()).toBe(true);
    // fewer than 2 returns
    expect(sharpeRatio([], 252)).toBeNull();
    expect(sharpeRatio(ds(['0.05']), 252)).toBeNull();
    // zero variance: a flat curve, and a constant return
    expect(sharpeRatio(periodReturns(ds([100, 100, 100, 100])), 252)).toBeNull();
    expect(sharpeRatio(ds(['0.01', '0.01', '0.01']), 252)).toBeNull();
  });

  it('handles a single point and a flat curve', () => {
    const single = runMetrics({ initialValue: '1000', curve: curve(['1010']) }, 242);
    expect(single.final.toFixed()).toBe('1010');
    expect(ratio(single.totalReturn)).toBe(0.01);
    expect(single.maxDrawdown.toFixed()).toBe('0');
    expect(single.sharpe).toBeNull();
    const flat = runMetrics({ initialValue: '1000', curve: curve(['1000', '1000', '1000']) }, 242);
    expect(ratio(flat.totalReturn)).toBe(0);
    expect(ratio(flat.maxDrawdown)).toBe(0);
    expect(flat.sharpe).toBeNull();
    const none = runMetrics({ initialValue: '1000', curve: [] }, 242);
    expect(none.final.toFixed()).toBe('1000');
    expect(none.sharpe).toBeNull();
  });

  it('annualises with the periods per year of the market and frequency', () => {
    expect(defaultPeriodsPerYear('cn', 'daily')).toBe(242);
    expect(defaultPeriodsPerYear('us', 'daily')).toBe(252);
    expect(defaultPeriodsPerYear('cn', 'hourly')).toBe(242 * 4);
    expect(defaultPeriodsPerYear('us', 'hourly')).toBe(252 * 6);
    expect(defaultPeriodsPerYear('us', 'hourly', 7)).toBe(252 * 7);
    expect(() => defaultPeriodsPerYear('us', 'hourly', 0)).toThrow(RangeError);
  });
});

describe('ratio', () => {
  it('rounds half-up to 6 decimals and never gives -0', () => {
    expect(ratio(dec(1).div(3))).toBe(0.333333);
    expect(ratio(dec('0.0000005'))).toBe(0.000001);
    expect(Object.is(ratio(dec('-0.0000001')), 0)).toBe(true);
  });
});

describe('benchmark alignment', () => {
  const series: BenchmarkSeries = {
    symbol: 'QQQ',
    // out of order on purpose; the 11:00 close is given in UTC
    points: [
      { at: '2025-10-01T12:00:00-04:00', close: '3' },
      { at: '2025-10-01T11:00:00-04:00', close: '1' },
      { at: '2025-10-01T15:00:00Z', close: '2' }, // = 11:00 New York: a later revision at the same instant
    ],
  };

  it('takes the latest close known at each session instant, never a later one', () => {
    const aligned = alignBenchmark(series, [
      '2025-10-01T10:05:00-04:00', // before any close
      '2025-10-01T10:59:59.999-04:00', // 1 ms before the 11:00 close
      '2025-10-01T11:00:00-04:00', // exactly when it is known: counts
      '2025-10-01T11:05:00-04:00',
      '2025-10-01T16:00:00-04:00',
    ]);
    expect(aligned.map((p) => p.close?.toFixed() ?? null)).toEqual([null, null, '2', '2', '3']);
    expect(aligned[4]!.knownAt).toBe('2025-10-01T12:00:00-04:00');
  });

  it('never uses a close known after the session instant (property)', () => {
    const t0 = Date.UTC(2025, 9, 1, 14, 0);
    const iso = (ms: number) => DateTime.fromMillis(ms, { zone: 'America/New_York' }).toISO()!;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 999 })), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 30 }),
        (pts, sessions) => {
          const s: BenchmarkSeries = { symbol: 'B', points: pts.map(([m, c]) => ({ at: iso(t0 + m * 60_000), close: String(c) })) };
          const instants = [...sessions].sort((a, b) => a - b).map((m) => iso(t0 + m * 60_000));
          const aligned = alignBenchmark(s, instants);
          aligned.forEach((p, i) => {
            const t = t0 + sessions.slice().sort((a, b) => a - b)[i]! * 60_000;
            const known = pts.filter(([m]) => t0 + m * 60_000 <= t);
            if (known.length === 0) {
              expect(p.close).toBeNull();
              return;
            }
            expect(p.knownAt).not.toBeNull();
            const knownMs = DateTime.fromISO(p.knownAt!).toMillis();
            expect(knownMs).toBeLessThanOrEqual(t);
            // and it is the latest such close
            expect(knownMs).toBe(Math.max(...known.map(([m]) => t0 + m * 60_000)));
          });
        },
      ),
    );
  });

  it('measures the benchmark from the first session where a close is known', () => {
    const m = benchmarkMetrics(series, ['2025-10-01T10:05:00-04:00', '2025-10-01T11:05:00-04:00', '2025-10-01T12:05:00-04:00']);
    expect(m.firstIndex).toBe(1);
    expect(m.initial.toFixed()).toBe('2');
    expect(m.final.toFixed()).toBe('3');
    expect(ratio(m.totalReturn)).toBe(0.5);
    expect(m.maxDrawdown.toFixed()).toBe('0');
  });

  it('refuses a benchmark that knows no close at or before any session', () => {
    expect(() => benchmarkMetrics(series, ['2025-10-01T10:05:00-04:00'])).toThrow(InputError);
    expect(() => benchmarkMetrics(series, ['2025-10-01T10:05:00-04:00'])).toThrow(/no close is known at or before any session/);
  });

  it('takes the union of the runs\' session instants in time order', () => {
    const a = { curve: curve(['1', '2']) };
    const b = { curve: [{ at: '2025-10-09T01:35:00Z', equity: '1', cash: '1' }, ...curve(['1', '1', '1']).slice(2)] };
    expect(sessionInstants([a, b])).toEqual(['2025-10-09T09:35:00+08:00', '2025-10-10T09:35:00+08:00', '2025-10-11T09:35:00+08:00']);
  });
});
