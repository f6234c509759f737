/**
 * Tencent's public realtime quote endpoint (qt.gtimg.cn; unofficial, no published API or
 * licence).
 *
 *   GET http://qt.gtimg.cn/q=sh600519,sz000001
 *
 * The body is GBK, one JavaScript statement per code, fields separated by `~`:
 *
 *   v_sh600519="1~贵州茅台~600519~1459.88~1459.44~1459.44~21064~...~20260402161401~0.44~...";
 *   v_pv_none_match="1";                        (none of the codes is known)
 *
 * Fields of an A-share (0-based; from community clients such as easyquotation and recorded
 * answers, not an official spec; an A-share line has 80+ fields today):
 *
 *    0 market (1 Shanghai, 51 Shenzhen, 62 Beijing)   1 name   2 code
 *    3 last price   4 previous close   5 open   6 volume (lots of 100)
 *    7 outer volume   8 inner volume   9..18 bid price / volume 1..5   19..28 ask 1..5
 *   29 recent trades (often empty)   30 time YYYYMMDDhhmmss (exchange time, Asia/Shanghai)
 *   31 change   32 change %   33 high   34 low   35 price/volume/amount   36 volume   37 amount (10k CNY)
 *   40 a status letter: empty while trading, `S` on suspended stocks, `D` on delisted ones
 *      (`S` also appears in a recorded answer of a trading STAR-market stock, so it is not
 *      trusted alone)
 *
 * A quote is `{ price: field 3 as written, atMs: field 30 in Asia/Shanghai }`. A suspended
 * stock keeps its previous close in field 3 (older answers show 0.00) with open 0.00 and
 * volume 0, so: no quote (state `halted`) when the price is 0, when the status letter is D,
 * or when open and volume are both 0 (no trade today: suspended, or before the opening
 * auction). `v_pv_none_match` and codes without a statement are `unknown`.
 * Time also accepted as `YYYY/MM/DD hh:mm:ss` and `YYYY-MM-DD hh:mm:ss` (seen on other markets).
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
  type Bad,
  type CnQuoteSource,
  type GetSourceOptions,
  type MalformedRecord,
  type SymbolResult,
} from './source.js';

export const TENCENT_URL = 'http://qt.gtimg.cn';
const ZONE = 'Asia/Shanghai';
const STATEMENT = /^v_([a-z]{2}\d{6}|pv_none_match)="([^"]*)";?$/;
const TIME_FORMATS = ['yyyyMMddHHmmss', 'yyyy/MM/dd HH:mm:ss', 'yyyy-MM-dd HH:mm:ss'];

/** Parse one Tencent answer (already decoded) for the symbols asked. Pure. */
export function parseTencentAnswer(text: string, requested: readonly CnSymbol[]): BatchAnswer {
  const byCode = new Map(requested.map((s) => [prefixedCode(s), s]));
  const results: SymbolResult[] = [];
  const malformed: MalformedRecord[] = [];
  const seen = new Set<string>();
  let recognised = 0;
  let noneMatch = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = STATEMENT.exec(line);
    if (m === null) {
      malformed.push({ reason: 'not a v_<code>="..."; statement', sample: sample(line) });
      continue;
    }
    recognised++;
    if (m[1] === 'pv_none_match') {
      noneMatch = true;
      continue;
    }
    const want = byCode.get(m[1] as string);
    if (want === undefined || seen.has(want.symbol)) continue;
    seen.add(want.symbol);
    const r = tencentRecord(want, m[2] as string);
    if ('bad' in r) {
      malformed.push({ reason: r.bad, sample: sample(line) });
      results.push({ symbol: want.symbol, state: 'unknown', reason: `tencent: unreadable record (${r.bad})` });
    } else results.push(r);
  }
  results.push(...missing(requested, seen, noneMatch ? 'tencent: no such code (v_pv_none_match)' : 'tencent: no record in the answer'));
  return { results, malformed, recognised };
}

function tencentRecord(want: CnSymbol, body: string): SymbolResult | Bad {
  const f = body.split('~');
  if (f.length < 31) return { bad: `expected at least 31 fields, got ${f.length}` };
  if (f[2] !== want.code) return { bad: `code (field 2) "${f[2]}" does not match ${want.code}` };
  const name = f[1] as string;
  const price = decimalText(f[3]);
  if (price === undefined) return { bad: `price (field 3) is not a decimal: "${f[3]}"` };
  const at = readTime(f[30] as string);
  if (at === undefined) return { bad: `time (field 30) unreadable: "${f[30]}"` };
  const flag = (f[40] ?? '').trim();
  if (flag === 'D') return { symbol: want.symbol, state: 'halted', name, reason: 'tencent: delisted (status D)' };
  if (isZero(price)) return { symbol: want.symbol, state: 'halted', name, reason: 'tencent: price 0, no trade today (halted or before the open)' };
  if (isZero(f[5] ?? '') && isZero(f[6] ?? '')) {
    const why = flag === 'S' ? 'suspended (status S)' : 'halted or before the open';
    return { symbol: want.symbol, state: 'halted', name, reason: `tencent: open 0 and volume 0, no trade today (${why})` };
  }
  const quote: Quote = { symbol: want.symbol, price, atMs: at, source: 'tencent' };
  return { symbol: want.symbol, state: 'ok', quote, name };
}

function readTime(text: string): number | undefined {
  for (const format of TIME_FORMATS) {
    const at = DateTime.fromFormat(text, format, { zone: ZONE });
    if (at.isValid) return at.toMillis();
  }
  return undefined;
}

export type TencentSourceOptions = GetSourceOptions;

export function tencentSource(options: TencentSourceOptions = {}): CnQuoteSource {
  return getQuoteSource(
    {
      name: 'tencent',
      defaultUrl: TENCENT_URL,
      url: (base, symbols) => `${base}/q=${symbols.map(prefixedCode).join(',')}`,
      read: (bytes, symbols) => parseTencentAnswer(decodeGbk(bytes), symbols),
    },
    options,
  );
}
