/**
 * Sina Finance's public realtime quote endpoint (unofficial, no published API or licence).
 *
 *   GET http://hq.sinajs.cn/list=sh600519,sz000001
 *   Referer: https://finance.sina.com.cn        (required since 2022: without it Sina answers 403)
 *
 * The body is GBK, one JavaScript statement per code:
 *
 *   var hq_str_sh600519="贵州茅台,1429.000,1425.010,1436.000,...,2025-06-13,15:00:03,00";
 *   var hq_str_sh688999="";                                      (code unknown to Sina)
 *
 * Comma-separated fields of an A-share (0-based; layout from community clients such as
 * easyquotation and AkShare, checked against several recorded answers, not an official spec):
 *
 *    0 name            1 open           2 previous close   3 last price
 *    4 high            5 low            6 bid (buy 1)      7 ask (sell 1)
 *    8 volume (shares) 9 amount (CNY)
 *   10..19 bid volume / bid price, levels 1..5 (volume first)
 *   20..29 ask volume / ask price, levels 1..5
 *   30 date YYYY-MM-DD   31 time HH:MM:SS   (exchange time, Asia/Shanghai)
 *   32 status: 00 trading; 01 halted one hour; 02 halted one day; 03 halted (continuing);
 *      04 halted intraday; 05 halted half a day; 06 halted half an hour; 07 suspended;
 *      08 / 09 circuit breaker (resumable / not); -1 no record; -2 not listed; -3 delisted.
 *      Some answers end with an extra empty field after the status.
 *
 * A quote is `{ price: field 3 as written, atMs: fields 30 + 31 in Asia/Shanghai }`. No quote
 * (state `halted`) when the status is anything but 00, or when the price is 0 (no trade yet
 * today: suspended, or before the 09:25 auction result). `=""` is `unknown`.
 */
import { DateTime } from 'luxon';
import type { Quote } from '../../domain/quotes.js';
import { prefixedCode, type CnSymbol } from './symbols.js';
import {
  decimalText,
  decodeGbk,
  getQuoteSource,
  isZero,
  missing,
  sample,
  type BatchAnswer,
  type CnQuoteSource,
  type GetSourceOptions,
  type MalformedRecord,
  type Bad,
  type SymbolResult,
} from './source.js';

export const SINA_URL = 'http://hq.sinajs.cn';
export const SINA_REFERER = 'https://finance.sina.com.cn';
const ZONE = 'Asia/Shanghai';

const SINA_STATUS: Readonly<Record<string, string>> = {
  '00': 'trading',
  '01': 'halted for one hour',
  '02': 'halted for the day',
  '03': 'halted (continuing suspension)',
  '04': 'halted intraday',
  '05': 'halted for half a day',
  '06': 'halted for half an hour',
  '07': 'suspended',
  '08': 'circuit breaker (resumable)',
  '09': 'circuit breaker (not resumable)',
  '-1': 'no record',
  '-2': 'not listed',
  '-3': 'delisted',
};

const LINE = /^var hq_str_([a-z]{2}\d{6})="([^"]*)";?$/;

/** Parse one Sina answer (already decoded) for the symbols asked. Pure. */
export function parseSinaAnswer(text: string, requested: readonly CnSymbol[]): BatchAnswer {
  const byCode = new Map(requested.map((s) => [prefixedCode(s), s]));
  const results: SymbolResult[] = [];
  const malformed: MalformedRecord[] = [];
  const seen = new Set<string>();
  let recognised = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = LINE.exec(line);
    if (m === null) {
      malformed.push({ reason: 'not a "var hq_str_<code>=...;" line', sample: sample(line) });
      continue;
    }
    recognised++;
    const want = byCode.get(m[1] as string);
    if (want === undefined || seen.has(want.symbol)) continue;
    seen.add(want.symbol);
    const body = m[2] as string;
    if (body === '') {
      results.push({ symbol: want.symbol, state: 'unknown', reason: 'sina: no such code (empty record)' });
      continue;
    }
    const r = sinaRecord(want, body);
    if ('bad' in r) {
      malformed.push({ reason: r.bad, sample: sample(line) });
      results.push({ symbol: want.symbol, state: 'unknown', reason: `sina: unreadable record (${r.bad})` });
    } else results.push(r);
  }
  results.push(...missing(requested, seen, 'sina: no record in the answer'));
  return { results, malformed, recognised };
}

function sinaRecord(want: CnSymbol, body: string): SymbolResult | Bad {
  const f = body.split(',');
  if (f.length < 32) return { bad: `expected at least 32 fields, got ${f.length}` };
  const name = f[0] as string;
  const price = decimalText(f[3]);
  if (price === undefined) return { bad: `price (field 3) is not a decimal: "${f[3]}"` };
  const at = DateTime.fromFormat(`${f[30]} ${f[31]}`, 'yyyy-MM-dd HH:mm:ss', { zone: ZONE });
  if (!at.isValid) return { bad: `date/time (fields 30, 31) unreadable: "${f[30]} ${f[31]}"` };
  const status = f[32] === undefined || f[32] === '' ? '00' : f[32];
  if (status !== '00') {
    const meaning = SINA_STATUS[status] ?? 'not trading (unknown status code)';
    return { symbol: want.symbol, state: 'halted', name, reason: `sina: status ${status}, ${meaning}` };
  }
  if (isZero(price)) return { symbol: want.symbol, state: 'halted', name, reason: 'sina: price 0, no trade today (halted or before the open)' };
  const quote: Quote = { symbol: want.symbol, price, atMs: at.toMillis(), source: 'sina' };
  return { symbol: want.symbol, state: 'ok', quote, name };
}

export type SinaSourceOptions = GetSourceOptions;

export function sinaSource(options: SinaSourceOptions = {}): CnQuoteSource {
  return getQuoteSource(
    {
      name: 'sina',
      defaultUrl: SINA_URL,
      url: (base, symbols) => `${base}/list=${symbols.map(prefixedCode).join(',')}`,
      headers: { Referer: SINA_REFERER },
      explainStatus: (s) => (s === 403 ? 'Sina refuses requests without "Referer: https://finance.sina.com.cn", and rate-limits' : undefined),
      read: (bytes, symbols) => parseSinaAnswer(decodeGbk(bytes), symbols),
    },
    options,
  );
}
