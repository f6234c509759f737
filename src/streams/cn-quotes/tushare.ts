/**
 * Tushare Pro's HTTP API (https://tushare.pro; registration and a token required, calls
 * limited by the account's points, its own terms of use).
 *
 *   POST http://api.tushare.pro
 *   {"api_name":"daily","token":"<token>","params":{"ts_code":"600519.SH,000001.SZ","start_date":"20250601","end_date":"20250613"},
 *    "fields":"ts_code,trade_date,open,high,low,close,vol,amount"}
 *
 *   {"request_id":"...","code":0,"msg":"","data":{"fields":["ts_code","trade_date",...],"items":[["600519.SH","20250613",1429.0,...]],"has_more":false}}
 *   {"code":40101,"msg":"抱歉，您输入的TOKEN无效！","data":null}      (token invalid)
 *   {"code":40203,"msg":"抱歉，您每分钟最多访问该接口...次", ...}      (rate limit)
 *
 * `code` other than 0 is a refused request (CnQuoteError, kind `refused`, `code` = Tushare's
 * code, message = its msg). Those two codes come from community clients and recorded answers;
 * Tushare publishes no complete list. `daily` prices are in CNY, `vol` in lots of 100 shares,
 * `amount` in thousands of CNY; numbers arrive as JSON numbers and are kept as their
 * shortest decimal text (exact for prices).
 *
 * `daily` is end-of-day data, published after the close (Tushare says between 15:00 and
 * 16:00 on trading days): the quote feed built on it (`tushareSource`) delivers each
 * symbol's latest daily close, timed 15:00 Asia/Shanghai on its trade date, with source
 * `tushare-close`. It is a fallback of last resort and a way to mark positions after the
 * close, not a realtime feed: poll it every 30-60 minutes at most.
 *
 * The token goes in the POST body and nowhere else: not in a URL, an error, a log line or
 * an event; any text Tushare sends back is scrubbed of it before it is put in an error.
 */
import { DateTime } from 'luxon';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { InputError } from '../../domain/errors.js';
import type { Quote } from '../../domain/quotes.js';
import { parseCnSymbols, tushareCode, type CnSymbol } from './symbols.js';
import {
  CnQuoteError,
  httpRequest,
  missing,
  numberText,
  sample,
  type BatchAnswer,
  type CnQuoteSource,
  type FetchContext,
  type MalformedRecord,
  type SymbolResult,
} from './source.js';

export const TUSHARE_URL = 'http://api.tushare.pro';
const ZONE = 'Asia/Shanghai';
const DAY = /^\d{8}$/;

export interface TushareRequestOptions {
  /** The token value (the caller reads it from the env var the config names). */
  readonly token: string;
  /** Default http://api.tushare.pro; tests point it at a local server. */
  readonly url?: string;
  /** Default 15 000 ms, on `scheduler`. */
  readonly timeoutMs?: number;
  readonly scheduler?: SchedulerLike;
  readonly signal?: AbortSignal;
}

export interface TushareTable {
  readonly fields: readonly string[];
  readonly items: readonly (readonly unknown[])[];
}

const Answer = z.looseObject({
  code: z.number(),
  msg: z.string().nullable().optional(),
  data: z
    .looseObject({ fields: z.array(z.string()), items: z.array(z.array(z.unknown())) })
    .nullable()
    .optional(),
});

const HINT: Readonly<Record<number, string>> = {
  40101: 'token invalid',
  40203: 'rate limit',
};

/** One call of any Tushare API; resolves with its table, rejects with a CnQuoteError. */
export async function tushareQuery(
  apiName: string,
  params: Readonly<Record<string, string>>,
  fields: readonly string[],
  options: TushareRequestOptions,
): Promise<TushareTable> {
  if (options.token === '') throw new InputError('Tushare needs a token (data_source.token_env names the environment variable holding it)');
  const bytes = await httpRequest({
    source: 'tushare',
    url: options.url ?? TUSHARE_URL,
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ api_name: apiName, token: options.token, params, fields: fields.join(',') }),
    timeoutMs: options.timeoutMs ?? 15_000,
    scheduler: options.scheduler ?? asyncScheduler,
    signal: options.signal,
  });
  const text = scrub(new TextDecoder('utf-8').decode(bytes), options.token);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CnQuoteError('garbage', `tushare: answer is not JSON: ${sample(text)}`);
  }
  const answer = Answer.safeParse(json);
  if (!answer.success) throw new CnQuoteError('garbage', `tushare: not a Tushare answer ({"code":..,"data":..}): ${sample(text)}`);
  const { code, msg, data } = answer.data;
  if (code !== 0) {
    const hint = HINT[code];
    throw new CnQuoteError('refused', `tushare: ${apiName} refused, code ${code}${hint ? ` (${hint})` : ''}: ${msg ?? ''}`.trimEnd(), code);
  }
  return data ?? { fields: [], items: [] };
}

/** The token must never travel further than the request body. */
function scrub(text: string, token: string): string {
  return token.length >= 4 ? text.split(token).join('***') : text;
}

// --- daily ---------------------------------------------------------------------------------

export interface TushareDailyBar {
  /** Ours: `600519.SH` (the same as Tushare's ts_code). */
  readonly symbol: string;
  /** YYYYMMDD. */
  readonly tradeDate: string;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  /** Lots of 100 shares, as Tushare gives it. */
  readonly volume: string;
  /** Thousands of CNY, as Tushare gives it. */
  readonly amount: string;
}

export const DAILY_FIELDS = ['ts_code', 'trade_date', 'open', 'high', 'low', 'close', 'vol', 'amount'] as const;

export interface TushareDailyOptions extends TushareRequestOptions {
  /** Our symbols (`600519.SH`); several at once are allowed. Omit for the whole market on `tradeDate`. */
  readonly symbols?: readonly string[];
  readonly tradeDate?: string;
  readonly startDate?: string;
  readonly endDate?: string;
  /** Told about each row that could not be read (skipped). */
  readonly onMalformed?: (m: MalformedRecord) => void;
}

/** Daily bars (unadjusted), as Tushare's `daily` API gives them. */
export async function tushareDaily(options: TushareDailyOptions): Promise<TushareDailyBar[]> {
  const params: Record<string, string> = {};
  if (options.symbols !== undefined) params['ts_code'] = parseCnSymbols(options.symbols).map(tushareCode).join(',');
  for (const [key, value] of [
    ['trade_date', options.tradeDate],
    ['start_date', options.startDate],
    ['end_date', options.endDate],
  ] as const) {
    if (value === undefined) continue;
    if (!DAY.test(value)) throw new InputError(`Tushare ${key} must be YYYYMMDD, got "${value}"`);
    params[key] = value;
  }
  const table = await tushareQuery('daily', params, DAILY_FIELDS, options);
  const { bars, malformed } = parseTushareDaily(table);
  for (const m of malformed) options.onMalformed?.(m);
  return bars;
}

const Num = z.number().finite();
const DailyRow = z.object({
  ts_code: z.string().regex(/^\d{6}\.(SH|SZ|BJ)$/),
  trade_date: z.string().regex(DAY),
  open: Num.positive(),
  high: Num.positive(),
  low: Num.positive(),
  close: Num.positive(),
  vol: Num.nonnegative(),
  amount: Num.nonnegative(),
});

/** Rows of a `daily` table as bars; rows that do not fit are returned as malformed. Pure. */
export function parseTushareDaily(table: TushareTable): { bars: TushareDailyBar[]; malformed: MalformedRecord[] } {
  const bars: TushareDailyBar[] = [];
  const malformed: MalformedRecord[] = [];
  for (const item of table.items) {
    const row = DailyRow.safeParse(rowObject(table.fields, item));
    if (!row.success) {
      malformed.push({ reason: row.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), sample: sample(JSON.stringify(item)) });
      continue;
    }
    const r = row.data;
    bars.push({
      symbol: r.ts_code,
      tradeDate: r.trade_date,
      open: numberText(r.open),
      high: numberText(r.high),
      low: numberText(r.low),
      close: numberText(r.close),
      volume: numberText(r.vol),
      amount: numberText(r.amount),
    });
  }
  return { bars, malformed };
}

function rowObject(fields: readonly string[], item: readonly unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  fields.forEach((f, i) => (o[f] = item[i]));
  return o;
}

// --- trade_cal -----------------------------------------------------------------------------

export interface TradeCalDay {
  /** SSE, SZSE, ... */
  readonly exchange: string;
  /** YYYYMMDD. */
  readonly calDate: string;
  readonly isOpen: boolean;
  /** The previous trading day, YYYYMMDD, when Tushare gives it. */
  readonly pretradeDate?: string;
}

export interface TushareTradeCalOptions extends TushareRequestOptions {
  /** Default SSE (Tushare's default too). */
  readonly exchange?: string;
  readonly startDate: string;
  readonly endDate: string;
  /** Only open (true) or closed (false) days; default both. */
  readonly isOpen?: boolean;
  readonly onMalformed?: (m: MalformedRecord) => void;
}

const CalRow = z.object({
  exchange: z.string().min(1),
  cal_date: z.string().regex(DAY),
  is_open: z.union([z.literal(0), z.literal(1), z.literal('0'), z.literal('1')]),
  pretrade_date: z.string().regex(DAY).nullable().optional(),
});

/** The exchange calendar (`trade_cal`): one row per calendar day in the range. */
export async function tushareTradeCal(options: TushareTradeCalOptions): Promise<TradeCalDay[]> {
  for (const [key, value] of [
    ['start_date', options.startDate],
    ['end_date', options.endDate],
  ] as const) {
    if (!DAY.test(value)) throw new InputError(`Tushare ${key} must be YYYYMMDD, got "${value}"`);
  }
  const params: Record<string, string> = { exchange: options.exchange ?? 'SSE', start_date: options.startDate, end_date: options.endDate };
  if (options.isOpen !== undefined) params['is_open'] = options.isOpen ? '1' : '0';
  const table = await tushareQuery('trade_cal', params, ['exchange', 'cal_date', 'is_open', 'pretrade_date'], options);
  const days: TradeCalDay[] = [];
  for (const item of table.items) {
    const row = CalRow.safeParse(rowObject(table.fields, item));
    if (!row.success) {
      options.onMalformed?.({ reason: row.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), sample: sample(JSON.stringify(item)) });
      continue;
    }
    const r = row.data;
    days.push({
      exchange: r.exchange,
      calDate: r.cal_date,
      isOpen: r.is_open === 1 || r.is_open === '1',
      ...(r.pretrade_date ? { pretradeDate: r.pretrade_date } : {}),
    });
  }
  return days.sort((a, b) => (a.calDate < b.calDate ? -1 : a.calDate > b.calDate ? 1 : 0));
}

// --- the quote source ----------------------------------------------------------------------

export interface TushareSourceOptions {
  readonly token: string;
  readonly url?: string;
  /** How many calendar days back `daily` is asked for (covers holidays and short halts); default 10. */
  readonly lookbackDays?: number;
  /** Codes per request; default 50. */
  readonly maxBatch?: number;
}

/** Each symbol's latest daily close as a quote (end-of-day data; see the module header). */
export function tushareSource(options: TushareSourceOptions): CnQuoteSource {
  if (options.token === '') throw new InputError('Tushare needs a token (data_source.token_env names the environment variable holding it)');
  const lookback = options.lookbackDays ?? 10;
  return {
    name: 'tushare',
    maxBatch: options.maxBatch ?? 50,
    async fetchBatch(symbols: readonly CnSymbol[], ctx: FetchContext): Promise<BatchAnswer> {
      const today = DateTime.fromMillis(ctx.now(), { zone: ZONE });
      const table = await tushareQuery(
        'daily',
        { ts_code: symbols.map(tushareCode).join(','), start_date: today.minus({ days: lookback }).toFormat('yyyyMMdd'), end_date: today.toFormat('yyyyMMdd') },
        DAILY_FIELDS,
        { token: options.token, url: options.url, timeoutMs: ctx.timeoutMs, scheduler: ctx.scheduler, signal: ctx.signal },
      );
      return dailyAnswer(table, symbols, lookback);
    },
  };
}

function dailyAnswer(table: TushareTable, requested: readonly CnSymbol[], lookback: number): BatchAnswer {
  const { bars, malformed } = parseTushareDaily(table);
  const latest = new Map<string, TushareDailyBar>();
  for (const bar of bars) {
    const prev = latest.get(bar.symbol);
    if (prev === undefined || bar.tradeDate > prev.tradeDate) latest.set(bar.symbol, bar);
  }
  const results: SymbolResult[] = [];
  const seen = new Set<string>();
  for (const want of requested) {
    const bar = latest.get(want.symbol);
    if (bar === undefined) continue;
    seen.add(want.symbol);
    const close = DateTime.fromFormat(`${bar.tradeDate} 15:00`, 'yyyyMMdd HH:mm', { zone: ZONE });
    const quote: Quote = { symbol: want.symbol, price: bar.close, atMs: close.toMillis(), source: 'tushare-close' };
    results.push({ symbol: want.symbol, state: 'ok', quote });
  }
  results.push(...missing(requested, seen, `tushare: no daily bar in the last ${lookback} days (unknown code, long suspension, or not published yet)`));
  // An empty table is a valid answer (a holiday week); only rows that all fail are garbage.
  return { results, malformed, recognised: table.items.length === 0 ? 1 : bars.length };
}
