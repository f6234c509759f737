/**
 * Our exchange calendars (versioned tables in src/domain/calendar, plus the years a user's
 * closures file added) checked against the outside: every day they disagree on is a line for a
 * `CALENDAR_MISMATCH` alert, so a closure announced after this build (the exchanges publish
 * next year's holidays each December, a national day of mourning comes at a week's notice) or
 * a wrong day in a closures file is noticed instead of trading into it.
 *
 * - A-shares: Tushare's `trade_cal` when a Tushare token is configured (the current year and
 *   the years a closures file added).
 * - US: Alpaca's `/v2/calendar` when Alpaca keys are configured, for the coming
 *   ALPACA_CALENDAR_CHECK_DAYS days: open or closed, and the regular hours (an early close).
 */
import { DateTime } from 'luxon';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { readSecret } from '../../config/env.js';
import { isTradingDay, tradingDay, type TradingDay } from '../../domain/calendar/index.js';
import { tushareTradeCal, type TradeCalDay } from '../../streams/cn-quotes/index.js';
import { AlpacaError } from '../brokers/alpaca/errors.js';
import { AlpacaRest } from '../brokers/alpaca/rest.js';
import { ALPACA_PAPER_URL, alpacaBaseUrl } from '../brokers/alpaca/settings.js';
import { WireCalendarDaySchema, type WireCalendarDay } from '../brokers/alpaca/wire.js';

/** Days on which Tushare and our calendar disagree, as sentences (empty: they agree). */
export function calendarDifferences(days: readonly TradeCalDay[]): string[] {
  const out: string[] = [];
  for (const d of days) {
    const date = DateTime.fromFormat(d.calDate, 'yyyyLLdd').toISODate();
    if (!date) continue;
    let ours: boolean;
    try {
      ours = isTradingDay('cn', date);
    } catch {
      continue; // a year our tables do not cover: the calendar says so itself when asked to trade it
    }
    if (ours !== d.isOpen) out.push(`${date}: Tushare (${d.exchange}) says ${d.isOpen ? 'open' : 'closed'}, our calendar says ${ours ? 'open' : 'closed'}`);
  }
  return out;
}

/** The years to check: the current one, and every year a closures file added (the least trusted). */
export function calendarCheckYears(currentYear: number, addedYears: readonly number[]): number[] {
  return [...new Set([currentYear, ...addedYears])].sort((a, b) => a - b);
}

export interface CalendarCheck {
  /** Days the two calendars disagree on, as sentences. */
  readonly differences: string[];
  /** Years Tushare returned no days for (not published there yet): nothing was compared. */
  readonly unchecked: number[];
}

/** Fetch the SSE calendar of each of `years` from Tushare and compare it with ours. */
export async function checkCalendarWithTushare(options: {
  readonly token: string;
  readonly url?: string;
  readonly years: readonly number[];
  readonly timeoutMs?: number;
}): Promise<CalendarCheck> {
  const differences: string[] = [];
  const unchecked: number[] = [];
  for (const year of options.years) {
    const days = await tushareTradeCal({
      token: options.token,
      ...(options.url ? { url: options.url } : {}),
      startDate: `${year}0101`,
      endDate: `${year}1231`,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    if (days.length === 0) unchecked.push(year);
    differences.push(...calendarDifferences(days));
  }
  return { differences, unchecked };
}

// ---------------------------------------------------------------------------------------
// US: Alpaca's /v2/calendar

/** How far ahead the start-up check looks (calendar days from today, today included). */
export const ALPACA_CALENDAR_CHECK_DAYS = 30;

const hhmm = (t: DateTime): string => t.toFormat('HH:mm');

/**
 * Days from `from` to `to` (inclusive) on which Alpaca's calendar and our NYSE calendar disagree,
 * on whether the market opens or on its regular hours, as sentences (empty: they agree). Alpaca
 * lists trading days only; a day it leaves out is closed there. Days our tables do not cover are
 * not compared (the calendar says so itself when asked to trade them).
 */
export function alpacaCalendarDifferences(days: readonly WireCalendarDay[], from: string, to: string): string[] {
  const theirs = new Map(days.map((d) => [d.date, d]));
  const out: string[] = [];
  for (let d = DateTime.fromISO(from, { zone: 'America/New_York' }); d.toISODate()! <= to; d = d.plus({ days: 1 })) {
    const date = d.toISODate()!;
    let ours: TradingDay | undefined;
    try {
      ours = tradingDay('us', date);
    } catch {
      continue;
    }
    const alpaca = theirs.get(date);
    const ourHours = ours ? `${hhmm(ours.open)}-${hhmm(ours.close)}` : undefined;
    const alpacaHours = alpaca ? `${alpaca.open}-${alpaca.close}` : undefined;
    if (ourHours === alpacaHours) continue;
    const said = (h: string | undefined) => (h ? `open ${h}` : 'closed');
    out.push(`${date}: Alpaca says ${said(alpacaHours)}, our calendar says ${said(ourHours)}`);
  }
  return out;
}

const CalendarSchema = z.array(WireCalendarDaySchema);

/** Alpaca's calendar from `from` to `to` (GET /v2/calendar with the real client), compared with ours. */
export async function checkCalendarWithAlpaca(rest: AlpacaRest, from: string, to: string): Promise<string[]> {
  const days = await rest.call('GET', '/v2/calendar', CalendarSchema, { query: { start: from, end: to } });
  return alpacaCalendarDifferences(days, from, to);
}

/** Where the start-up check reads Alpaca's calendar: the trading API of the configured keys, if any. */
export function alpacaCalendarSource(config: Pick<Config, 'mode' | 'market' | 'broker' | 'data_source'>): { baseUrl: string; keyEnv: string; secretEnv: string; keyPath: string } | undefined {
  if (config.market !== 'us' || config.mode === 'backtest') return undefined;
  const { broker, data_source: ds } = config;
  if (broker.type === 'alpaca' && broker.api_key_env && broker.api_secret_env) {
    return { baseUrl: alpacaBaseUrl(broker), keyEnv: broker.api_key_env, secretEnv: broker.api_secret_env, keyPath: 'broker.api_key_env' };
  }
  // Market-data keys of an Alpaca account reach its trading API too; without a broker section, the paper one.
  if (ds.type === 'alpaca' && ds.key_env && ds.secret_env) return { baseUrl: ALPACA_PAPER_URL, keyEnv: ds.key_env, secretEnv: ds.secret_env, keyPath: 'data_source.key_env' };
  return undefined;
}

export interface StartupCalendarCheckOptions {
  readonly config: Pick<Config, 'mode' | 'market' | 'broker' | 'data_source'>;
  readonly env: NodeJS.ProcessEnv;
  /** Now (the wall clock, at the edge): the check covers today and the days after. */
  readonly now: DateTime;
  readonly notify: (level: 'info' | 'warning', code: 'CALENDAR_MISMATCH' | 'CALENDAR_CHECK_FAILED', message: string) => void;
  readonly scheduler?: SchedulerLike;
  readonly days?: number;
  readonly timeoutMs?: number;
}

/**
 * The start-up check of a US paper/live process with Alpaca keys: the coming days of Alpaca's
 * calendar against ours; `CALENDAR_MISMATCH` (warning) naming every day that differs, or
 * `CALENDAR_CHECK_FAILED` (info) when Alpaca could not be asked. Resolves to the differences
 * ([] also when the check does not apply); never rejects, so it can run unawaited.
 */
export async function startupAlpacaCalendarCheck(options: StartupCalendarCheckOptions): Promise<string[]> {
  const source = alpacaCalendarSource(options.config);
  if (!source) return [];
  try {
    const rest = new AlpacaRest({
      baseUrl: source.baseUrl,
      keyId: readSecret(source.keyEnv, options.env, source.keyPath),
      secretKey: readSecret(source.secretEnv, options.env, source.keyPath.replace('key_env', 'secret_env')),
      scheduler: options.scheduler ?? asyncScheduler,
      timeoutMs: options.timeoutMs ?? 10_000,
      retry: { maxRetries: 2 },
    });
    const today = options.now.setZone('America/New_York');
    const from = today.toISODate()!;
    const to = today.plus({ days: (options.days ?? ALPACA_CALENDAR_CHECK_DAYS) - 1 }).toISODate()!;
    const diffs = await checkCalendarWithAlpaca(rest, from, to);
    if (diffs.length > 0) options.notify('warning', 'CALENDAR_MISMATCH', `Alpaca's calendar differs from ours on ${diffs.length} day(s) from ${from} to ${to}: ${diffs.join('; ')}`);
    return diffs;
  } catch (err) {
    // Alpaca's own answer when there was one (a 401 here stops nothing: it is only the calendar).
    const why = err instanceof AlpacaError && err.status !== undefined ? `GET /v2/calendar: ${err.status} ${err.brokerMessage ?? ''}`.trim() : err instanceof Error ? err.message : String(err);
    options.notify('info', 'CALENDAR_CHECK_FAILED', `could not check the calendar with Alpaca (${source.baseUrl}): ${why}`);
    return [];
  }
}
