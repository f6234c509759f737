/**
 * Eastmoney's public push2 quote list (unofficial, no published API or licence).
 *
 *   GET https://push2.eastmoney.com/api/qt/ulist.np/get?fltt=2&invt=2&fields=f2,f3,f4,f12,f13,f14,f18,f124&secids=1.600519,0.000001
 *   Referer: https://quote.eastmoney.com/        (sent like the web page does; not known to be required)
 *
 * UTF-8 JSON:
 *
 *   {"rc":0,"rt":11,"svr":...,"data":{"total":2,"diff":[{"f2":1436.0,"f3":0.77,"f12":"600519","f13":1,"f14":"贵州茅台","f124":1749798003},...]}}
 *   {"rc":0,...,"data":null}                   (none of the secids is known)
 *
 * `diff` is an array here; the sibling clist endpoint returns an object keyed "0", "1", ...,
 * which is accepted too. Fields (meanings from AkShare and other community clients):
 *
 *   f2 last price   f3 change %   f4 change   f12 code   f13 market (1 Shanghai, 0 Shenzhen/Beijing)
 *   f14 name   f18 previous close   f124 time of the last update, epoch seconds
 *
 * `fltt=2` makes prices plain decimals (without it they are integers scaled by 100); a field
 * without a value is the string "-", which is what a suspended stock has in f2. `rc` other
 * than 0 is a failed request. A quote is `{ price: f2, atMs: f124 * 1000 }`: f124 is
 * Eastmoney's timestamp of the snapshot, taken as the exchange time. No quote (state
 * `halted`) for f2 "-" or 0; secids without a record are `unknown`.
 */
import { z } from 'zod';
import type { Quote } from '../../domain/quotes.js';
import { eastmoneySecid, type CnSymbol } from './symbols.js';
import {
  CnQuoteError,
  getQuoteSource,
  missing,
  numberText,
  sample,
  type BatchAnswer,
  type Bad,
  type CnQuoteSource,
  type GetSourceOptions,
  type MalformedRecord,
  type SymbolResult,
} from './source.js';

export const EASTMONEY_URL = 'https://push2.eastmoney.com';
export const EASTMONEY_FIELDS = 'f2,f3,f4,f12,f13,f14,f18,f124';

const Answer = z.looseObject({
  rc: z.number(),
  data: z
    .looseObject({ diff: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional() })
    .nullable()
    .optional(),
});
const DiffRecord = z.looseObject({
  f12: z.string().regex(/^\d{6}$/),
  f13: z.number().int(),
  f14: z.string().optional(),
  f2: z.union([z.number().nonnegative().finite(), z.literal('-')]),
  f124: z.union([z.number().int().positive(), z.literal('-')]).optional(),
});

/** Parse one Eastmoney answer for the symbols asked. Pure. Throws CnQuoteError for rc != 0 or a non-JSON body. */
export function parseEastmoneyAnswer(text: string, requested: readonly CnSymbol[]): BatchAnswer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { results: [], malformed: [{ reason: 'not JSON', sample: sample(text) }], recognised: 0 };
  }
  const answer = Answer.safeParse(json);
  if (!answer.success) return { results: [], malformed: [{ reason: 'not an ulist answer ({"rc":..,"data":..})', sample: sample(text) }], recognised: 0 };
  if (answer.data.rc !== 0) throw new CnQuoteError('refused', `eastmoney: rc ${answer.data.rc}`, answer.data.rc);
  const diff = answer.data.data?.diff;
  const records = diff === undefined ? [] : Array.isArray(diff) ? diff : Object.values(diff);
  const bySecid = new Map(requested.map((s) => [eastmoneySecid(s), s]));
  const results: SymbolResult[] = [];
  const malformed: MalformedRecord[] = [];
  const seen = new Set<string>();
  for (const raw of records) {
    const parsed = DiffRecord.safeParse(raw);
    if (!parsed.success) {
      malformed.push({ reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), sample: sample(JSON.stringify(raw) ?? String(raw)) });
      continue;
    }
    const want = bySecid.get(`${parsed.data.f13}.${parsed.data.f12}`);
    if (want === undefined || seen.has(want.symbol)) continue;
    seen.add(want.symbol);
    const r = eastmoneyRecord(want, parsed.data);
    if ('bad' in r) {
      malformed.push({ reason: r.bad, sample: sample(JSON.stringify(raw)) });
      results.push({ symbol: want.symbol, state: 'unknown', reason: `eastmoney: unreadable record (${r.bad})` });
    } else results.push(r);
  }
  // data:null is Eastmoney's "nothing matched": an answer, not a failure.
  const recognised = records.length === 0 ? 1 : records.length - malformed.length;
  results.push(...missing(requested, seen, 'eastmoney: no such secid (no record in the answer)'));
  return { results, malformed, recognised };
}

function eastmoneyRecord(want: CnSymbol, r: z.infer<typeof DiffRecord>): SymbolResult | Bad {
  const name = r.f14;
  if (r.f2 === '-' || r.f2 === 0) {
    const reason = r.f2 === '-' ? 'eastmoney: no price ("-"), halted' : 'eastmoney: price 0, no trade today (halted or before the open)';
    return { symbol: want.symbol, state: 'halted', reason, ...(name === undefined ? {} : { name }) };
  }
  if (r.f124 === undefined || r.f124 === '-') return { bad: 'a price without a time (f124)' };
  const quote: Quote = { symbol: want.symbol, price: numberText(r.f2), atMs: r.f124 * 1000, source: 'eastmoney' };
  return { symbol: want.symbol, state: 'ok', quote, ...(name === undefined ? {} : { name }) };
}

export type EastmoneySourceOptions = GetSourceOptions;

export function eastmoneySource(options: EastmoneySourceOptions = {}): CnQuoteSource {
  return getQuoteSource(
    {
      name: 'eastmoney',
      defaultUrl: EASTMONEY_URL,
      // Built by hand so the commas stay literal, as the web page sends them.
      url: (base, symbols) => `${base}/api/qt/ulist.np/get?fltt=2&invt=2&fields=${EASTMONEY_FIELDS}&secids=${symbols.map(eastmoneySecid).join(',')}`,
      headers: { Referer: 'https://quote.eastmoney.com/' },
      read: (bytes, symbols) => parseEastmoneyAnswer(new TextDecoder('utf-8').decode(bytes), symbols),
    },
    options,
  );
}
