/**
 * Performance metrics of an equity curve: pure, exact decimals.
 *
 * Definitions (what report.json means):
 * - The value series of a signature is `[initialValue, curve[0].equity, ..., curve[n-1].equity]`:
 *   the initial value is the account before the first session, each curve point is its
 *   value after one session. So n sessions give n per-period returns.
 * - total return = final / initial - 1 (final = the last curve point, or initial if none).
 * - max drawdown = max over t of (peak_t - value_t) / peak_t, peak_t = the highest value
 *   up to t (initial included); a positive fraction, 0 for a curve that never falls.
 * - Sharpe = mean(r) / sd(r) * sqrt(periodsPerYear), r = per-period simple returns,
 *   risk-free rate 0, sd the SAMPLE standard deviation (n - 1). null when there are
 *   fewer than 2 returns or their variance is exactly 0 (a flat curve): undefined, not 0
 *   or infinity.
 * - periodsPerYear: daily 242 (cn) / 252 (us) trading days; hourly = those x sessions
 *   per day (default: the default schedule's trigger times, cn 4, us 6).
 *
 * Everything is computed in Dec (40 significant digits, so a flat curve has exactly
 * zero variance); ratios leave as JSON numbers rounded half-up to 6 decimals (`ratio`).
 */
import { DateTime } from 'luxon';
import { InputError } from '../domain/errors.js';
import type { Frequency, Market } from '../domain/markets.js';
import { Dec, dec } from '../domain/money.js';
import { SCHEDULE_DEFAULTS } from '../domain/schedule.js';
import { instantMillis, type BenchmarkSeries, type SignatureRun } from './types.js';

export const RATIO_DECIMALS = 6;

/** Trading days per year used to annualise daily returns. */
export const TRADING_DAYS_PER_YEAR: Readonly<Record<Market, number>> = { cn: 242, us: 252 };

/**
 * Periods per year for a market and frequency: daily = trading days; hourly = trading
 * days x sessions per day (default: the number of default hourly trigger times).
 */
export function defaultPeriodsPerYear(market: Market, frequency: Frequency, sessionsPerDay?: number): number {
  const days = TRADING_DAYS_PER_YEAR[market];
  if (frequency === 'daily') return days;
  const perDay = sessionsPerDay ?? SCHEDULE_DEFAULTS[market].triggerTimes.length;
  if (!Number.isInteger(perDay) || perDay < 1) throw new RangeError(`sessions per day must be a whole number >= 1, got ${perDay}`);
  return days * perDay;
}

/** A ratio as a JSON number rounded half-up to 6 decimals (never -0). */
export function ratio(value: Dec): number {
  const n = value.toDecimalPlaces(RATIO_DECIMALS, Dec.ROUND_HALF_UP).toNumber();
  return n === 0 ? 0 : n;
}

/** final / initial - 1. */
export function totalReturn(initial: Dec, final: Dec): Dec {
  if (initial.lte(0)) throw new RangeError(`initial value must be > 0, got ${initial.toFixed()}`);
  return final.div(initial).minus(1);
}

/** Largest (peak - value) / peak over the series, as a positive fraction; 0 if it never falls. */
export function maxDrawdown(values: readonly Dec[]): Dec {
  let peak: Dec | undefined;
  let worst = new Dec(0);
  for (const v of values) {
    if (peak === undefined || v.gt(peak)) peak = v;
    if (peak.lte(0)) continue; // a non-positive peak has no meaningful fraction
    const dd = peak.minus(v).div(peak);
    if (dd.gt(worst)) worst = dd;
  }
  return worst;
}

/** Simple returns v[i] / v[i-1] - 1 for i >= 1. */
export function periodReturns(values: readonly Dec[]): Dec[] {
  const out: Dec[] = [];
  for (let i = 1; i < values.length; i++) {
    const prev = values[i - 1]!;
    if (prev.lte(0)) throw new RangeError(`cannot take a return from a value <= 0 (${prev.toFixed()})`);
    out.push(values[i]!.div(prev).minus(1));
  }
  return out;
}

/**
 * Annualised Sharpe ratio of per-period returns, risk-free 0, sample sd (n - 1).
 * null when fewer than 2 returns or zero variance.
 */
export function sharpeRatio(returns: readonly Dec[], periodsPerYear: number): Dec | null {
  if (!(periodsPerYear > 0) || !Number.isFinite(periodsPerYear)) throw new RangeError(`periods per year must be > 0, got ${periodsPerYear}`);
  const n = returns.length;
  if (n < 2) return null;
  const mean = returns.reduce((s, r) => s.plus(r), new Dec(0)).div(n);
  const ss = returns.reduce((s, r) => s.plus(r.minus(mean).pow(2)), new Dec(0));
  if (ss.isZero()) return null;
  const sd = ss.div(n - 1).sqrt();
  return mean.div(sd).times(dec(periodsPerYear).sqrt());
}

export interface CurveMetrics {
  readonly initial: Dec;
  readonly final: Dec;
  readonly totalReturn: Dec;
  readonly maxDrawdown: Dec;
  readonly sharpe: Dec | null;
  /** How many per-period returns the Sharpe ratio saw. */
  readonly periods: number;
}

/** The value series of a run: initial value, then one value per session. */
export function runValues(run: Pick<SignatureRun, 'initialValue' | 'curve'>): Dec[] {
  return [dec(run.initialValue), ...run.curve.map((p) => dec(p.equity))];
}

/** All metrics of a value series whose first element is the starting value. */
export function seriesMetrics(values: readonly Dec[], periodsPerYear: number): CurveMetrics {
  if (values.length === 0) throw new RangeError('a value series needs at least its starting value');
  const initial = values[0]!;
  const final = values[values.length - 1]!;
  const returns = periodReturns(values);
  return {
    initial,
    final,
    totalReturn: totalReturn(initial, final),
    maxDrawdown: maxDrawdown(values),
    sharpe: sharpeRatio(returns, periodsPerYear),
    periods: returns.length,
  };
}

export function runMetrics(run: Pick<SignatureRun, 'initialValue' | 'curve'>, periodsPerYear: number): CurveMetrics {
  return seriesMetrics(runValues(run), periodsPerYear);
}

// ---------------------------------------------------------------------------------------
// Benchmark

export interface AlignedBenchmarkPoint {
  /** The session instant (as given). */
  readonly at: string;
  /** The latest benchmark close known at `at` (its `at` <= the session's), or null if none yet. */
  readonly close: Dec | null;
  /** When that close became known. */
  readonly knownAt: string | null;
}

/**
 * The benchmark at each session instant: its latest close with `at <= instant` (a close
 * known exactly at the instant counts; one known a millisecond later does not). No
 * look-ahead: sessions before the first known close get null. Of points at the same
 * instant, the last one given wins.
 */
export function alignBenchmark(series: BenchmarkSeries, instants: readonly string[]): AlignedBenchmarkPoint[] {
  const pts = series.points
    .map((p) => ({ ms: instantMillis(p.at), at: p.at, close: dec(p.close) }))
    .sort((a, b) => a.ms - b.ms);
  return instants.map((at) => {
    const t = instantMillis(at);
    // last index with ms <= t
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]!.ms <= t) lo = mid + 1;
      else hi = mid;
    }
    const p = lo > 0 ? pts[lo - 1]! : undefined;
    return { at, close: p ? p.close : null, knownAt: p ? p.at : null };
  });
}

export interface BenchmarkMetrics {
  readonly symbol: string;
  readonly aligned: AlignedBenchmarkPoint[];
  /** Index in `aligned` of the first session with a known close (the baseline). */
  readonly firstIndex: number;
  readonly initial: Dec;
  readonly final: Dec;
  readonly totalReturn: Dec;
  readonly maxDrawdown: Dec;
}

/**
 * Benchmark metrics over the run's sessions: its aligned closes from the first session
 * where one is known to the last session. An InputError when it knows no close at or
 * before any session (a benchmark file for another period).
 */
export function benchmarkMetrics(series: BenchmarkSeries, instants: readonly string[]): BenchmarkMetrics {
  const aligned = alignBenchmark(series, instants);
  const firstIndex = aligned.findIndex((p) => p.close !== null);
  if (firstIndex < 0) {
    const ms = series.points.map((p) => instantMillis(p.at));
    const first = ms.length ? DateTime.fromMillis(Math.min(...ms)).toISO() : undefined;
    const span = instants.length ? `${instants[0]} .. ${instants[instants.length - 1]}` : 'no sessions';
    throw new InputError(
      `benchmark ${series.symbol}: no close is known at or before any session of the run (${span}); ` +
        (first ? `its first close is known at ${first}` : 'it has no closes') +
        '; expected a benchmark file covering the run',
    );
  }
  const values = aligned.slice(firstIndex).map((p) => p.close!);
  const initial = values[0]!;
  const final = values[values.length - 1]!;
  return {
    symbol: series.symbol,
    aligned,
    firstIndex,
    initial,
    final,
    totalReturn: totalReturn(initial, final),
    maxDrawdown: maxDrawdown(values),
  };
}

/** The session instants of the runs: the union of their curve instants, in time order, each once. */
export function sessionInstants(runs: readonly Pick<SignatureRun, 'curve'>[]): string[] {
  const byMs = new Map<number, string>();
  for (const run of runs) {
    for (const p of run.curve) {
      const ms = instantMillis(p.at);
      if (!byMs.has(ms)) byMs.set(ms, p.at);
    }
  }
  return [...byMs.entries()].sort((a, b) => a[0] - b[0]).map(([, at]) => at);
}

// ---------------------------------------------------------------------------------------
// Enough periods for a ratio, Sortino, drawdown with dates, monthly returns, exposure

/**
 * Fewer return periods than this and Sharpe / Sortino are not shown (null, with the reason):
 * a mean and a deviation of a handful of returns are noise (a one-day Sharpe of 8.87).
 */
export const MIN_RATIO_PERIODS = 20;

/** Why a ratio is not shown, or null when it is. */
export function ratioPeriodsReason(periods: number): string | null {
  return periods < MIN_RATIO_PERIODS ? `${periods} return period${periods === 1 ? '' : 's'}, fewer than ${MIN_RATIO_PERIODS}` : null;
}

/**
 * Annualised Sortino ratio, target 0: mean(r) / downside deviation x sqrt(periodsPerYear),
 * downside deviation = sqrt(sum(min(r, 0)^2) / n) over all n returns. null when fewer
 * than 2 returns or none is negative (no downside: undefined, not infinity).
 */
export function sortinoRatio(returns: readonly Dec[], periodsPerYear: number): Dec | null {
  if (!(periodsPerYear > 0) || !Number.isFinite(periodsPerYear)) throw new RangeError(`periods per year must be > 0, got ${periodsPerYear}`);
  const n = returns.length;
  if (n < 2) return null;
  const mean = returns.reduce((s, r) => s.plus(r), new Dec(0)).div(n);
  const down = returns.reduce((s, r) => (r.isNegative() ? s.plus(r.pow(2)) : s), new Dec(0));
  if (down.isZero()) return null;
  return mean.div(down.div(n).sqrt()).times(dec(periodsPerYear).sqrt());
}

export interface DrawdownPoint {
  readonly at: string;
  /** (peak - value) / peak, the peak being the highest value so far (initial value included). */
  readonly drawdown: Dec;
}

export interface DrawdownInfo {
  readonly series: DrawdownPoint[];
  readonly max: Dec;
  /** Where the largest drawdown started (at null = the initial value) and bottomed; absent when there is none. */
  readonly peak?: { readonly at: string | null; readonly value: Dec };
  readonly trough?: { readonly at: string; readonly value: Dec };
  /** The first session back at or above that peak; null when it never got back. */
  readonly recoveredAt?: string | null;
}

/**
 * The drawdown after each session and the largest one with its dates: the first trough
 * reaching the largest value, the peak it fell from (the latest highest value before it),
 * and the first session after it back at that peak.
 */
export function drawdownInfo(run: Pick<SignatureRun, 'initialValue' | 'curve'>): DrawdownInfo {
  let peak = dec(run.initialValue);
  let peakAt: string | null = null;
  let max = new Dec(0);
  let best: { peak: { at: string | null; value: Dec }; trough: { at: string; value: Dec }; index: number } | undefined;
  const series = run.curve.map((p, i) => {
    const v = dec(p.equity);
    if (v.gt(peak)) {
      peak = v;
      peakAt = p.at;
    }
    const dd = peak.lte(0) ? new Dec(0) : peak.minus(v).div(peak);
    if (dd.gt(max)) {
      max = dd;
      best = { peak: { at: peakAt, value: peak }, trough: { at: p.at, value: v }, index: i };
    }
    return { at: p.at, drawdown: dd };
  });
  if (!best) return { series, max };
  const b: { peak: { at: string | null; value: Dec }; trough: { at: string; value: Dec }; index: number } = best;
  const back = run.curve.slice(b.index + 1).find((p) => dec(p.equity).gte(b.peak.value));
  return { series, max, peak: b.peak, trough: b.trough, recoveredAt: back ? back.at : null };
}

export interface MonthlyReturn {
  /** YYYY-MM in the market's zone. */
  readonly month: string;
  /** The value at the end of the previous month (the initial value for the first). */
  readonly startValue: Dec;
  /** The value after the month's last session. */
  readonly endValue: Dec;
  readonly return: Dec;
  readonly sessions: number;
  /** The run's span [from, to] does not cover the whole month. */
  readonly partial: boolean;
}

/**
 * One return per calendar month of the market's zone that has sessions: its last value /
 * the previous month's last value (or the initial value) - 1. A session belongs to the
 * month of its instant in `zone` (a 21:00 New York session on the 31st is in that month,
 * though it is the 1st in UTC). A month is partial when the run's span (`from` .. `to`,
 * exchange dates) starts after its first day or ends before its last.
 */
export function monthlyReturns(run: Pick<SignatureRun, 'initialValue' | 'curve'>, zone: string, from: string, to: string): MonthlyReturn[] {
  const out: MonthlyReturn[] = [];
  let start = dec(run.initialValue);
  let month: string | undefined;
  let last = start;
  let sessions = 0;
  const close = () => {
    if (month === undefined) return;
    const first = `${month}-01`;
    const end = DateTime.fromISO(first, { zone }).endOf('month').toISODate()!;
    out.push({ month, startValue: start, endValue: last, return: totalReturn(start, last), sessions, partial: from > first || to < end });
    start = last;
  };
  for (const p of run.curve) {
    const m = DateTime.fromISO(p.at, { setZone: true }).setZone(zone).toFormat('yyyy-LL');
    if (m !== month) {
      close();
      month = m;
      sessions = 0;
    }
    last = dec(p.equity);
    sessions++;
  }
  close();
  return out;
}

/** Share of the sessions whose mark held a position (equity differs from cash); null without sessions. */
export function exposure(curve: readonly { equity: string; cash: string }[]): Dec | null {
  if (curve.length === 0) return null;
  return new Dec(curve.filter((p) => !dec(p.equity).eq(dec(p.cash))).length).div(curve.length);
}

/** Traded value / the mean of the sessions' equity; null without sessions or with a mean <= 0. */
export function turnover(traded: Dec, curve: readonly { equity: string }[]): Dec | null {
  if (curve.length === 0) return null;
  const mean = curve.reduce((s, p) => s.plus(dec(p.equity)), new Dec(0)).div(curve.length);
  return mean.lte(0) ? null : traded.div(mean);
}
