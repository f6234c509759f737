/**
 * Price bars: what one line of an AI-Trader / Alpha Vantage price file means.
 *
 * Pure code, no I/O. The file reader (src/actors/market-data/alpha-vantage-file.ts)
 * hands each parsed JSON document to `parseAlphaVantageDocument`, which validates it
 * with zod and turns every labelled entry into a `Bar` with an exact interval
 * [start, end) in the exchange's zone. Downstream, the point-in-time store
 * (price-store.ts) only ever reveals a bar's close once `end` has passed.
 *
 * What a label means differs per file; that knowledge is DATA, in `LABEL_MEANINGS`:
 *
 * | market | series | label           | bar covers (exchange-local)                         |
 * |--------|--------|-----------------|-----------------------------------------------------|
 * | cn     | 1d     | 2025-10-09      | 09:30-15:00 (open known at 09:30)                   |
 * | cn     | 60min  | 10:30           | 09:30-10:30  (label = END of bar)                   |
 * | cn     | 60min  | 11:30           | 10:30-11:30                                         |
 * | cn     | 60min  | 14:00           | 13:00-14:00  (after the lunch break)                |
 * | cn     | 60min  | 15:00           | 14:00-15:00                                         |
 * | us     | 60min  | 10:00 ... 15:00 | label = START: 10:00-11:00 ... 15:00-16:00          |
 * | us     | 1d     | 2025-10-01      | 09:30-16:00                                         |
 *
 * Why the US hourly label is the bar's START (checked on us/nasdaq100_60min.jsonl,
 * 101 symbols x 29 days, and us/QQQ_60min.json; see docs/data.md for the numbers):
 * - Volume: the bar labelled 15:00 carries on average 31% of the six bars' volume and is
 *   the largest bar of the day in 81% of symbol-days (2297 of 2828); the 12:00-14:00 bars
 *   carry 11-12% each, 10:00 18%, 11:00 15%. That is the US U-shaped volume profile
 *   with the closing hour (15:00-16:00, which holds the closing auction) on the label
 *   15:00. Were the label the bar's END, the 15:00 bar would be 14:00-15:00, an ordinary
 *   afternoon hour, and the heavy 09:30-10:00 half hour would sit on the 10:00 label.
 * - Contiguity: within a day each bar opens within ~1-2 bp of the previous bar's close
 *   (median 1.1-1.4 bp for labels 11:00-15:00), while the 10:00 bar opens a median 74 bp
 *   away from the previous day's 15:00 close (an overnight gap). This fits both readings:
 *   it only confirms the six bars are consecutive, 10:00 first and 15:00 last.
 * - Source (weaker, not checked against the vendor): AI-Trader fetches these with Alpha
 *   Vantage TIME_SERIES_INTRADAY, interval=60min, extended_hours=false; to our knowledge
 *   Alpha Vantage's extended-hours series run 04:00 ... 19:00 for 04:00-20:00, i.e. they
 *   are labelled by start too.
 * So the 09:30-10:00 half hour is absent from the data. AI-Trader's hourly agent trades
 * at session time 10:00 at the 10:00 bar's `1. buy price` (its open), which under this
 * reading is the price at 10:00, known exactly then, so replaying it is look-ahead free.
 *
 * Other facts from the data, kept here because they change how numbers are read:
 * - A-share hourly volume is in lots (手, 100 shares): for every stock-day, the four hourly
 *   volumes sum to the daily volume / 100 (ratio 99.996-100.004 over 1450 stock-days). We
 *   convert to shares on load (`volumeUnit: 'lots'`), so `Bar.volume` is always shares.
 * - A-share hourly prices are dividend-adjusted (forward) while the daily prices are not:
 *   before an ex-dividend date in the span the two series differ by the dividend (e.g.
 *   601919.SH 14.15 daily vs 13.59 hourly open on 2025-10-09). Trade on the daily series
 *   when replaying AI-Trader's daily logs; never mix the two for one account.
 * - AI-Trader's merge step keeps only `1. buy price` for the latest bar of every series
 *   (the open is known, the rest would be look-ahead): such a bar is an `OpenOnlyBar`.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { calendarCoverage, closureName, isTradingDay } from './calendar/calendar.js';
import { InputError } from './errors.js';
import { MARKETS, MarketSchema, type Market, type WallTime } from './markets.js';
import { Dec, dec } from './money.js';

// ---------------------------------------------------------------------------------------
// Bars

export const BarIntervalSchema = z.enum(['1d', '60min']);
export type BarInterval = z.infer<typeof BarIntervalSchema>;

interface BarCommon {
  readonly symbol: string;
  readonly market: Market;
  readonly interval: BarInterval;
  /** When the bar's first trade could happen: its open is known from here on. */
  readonly start: DateTime;
  /** When the bar is complete: high, low, close and volume are known from here on. */
  readonly end: DateTime;
  /** The raw label from the file, e.g. "2025-10-09" or "2025-10-30 15:00:00". */
  readonly label: string;
  readonly open: Dec;
}

/** A complete OHLCV bar. Prices are exact decimals; volume is in shares. */
export interface Bar extends BarCommon {
  readonly complete: true;
  readonly high: Dec;
  readonly low: Dec;
  readonly close: Dec;
  /** Shares (A-share hourly files count lots of 100; converted on load). */
  readonly volume: Dec;
}

/**
 * A bar of which only the open is given: AI-Trader writes the latest bar of every
 * series this way (`{"1. buy price": "..."}`) so an agent can trade at that open
 * without seeing the rest. It never completes.
 */
export interface OpenOnlyBar extends BarCommon {
  readonly complete: false;
}

export type PriceBar = Bar | OpenOnlyBar;

const DateTimeSchema = z.custom<DateTime>(
  (v) => DateTime.isDateTime(v) && v.isValid,
  'expected a valid luxon DateTime',
);
const DecSchema = z.custom<Dec>(
  (v) => v instanceof Dec && v.isFinite() && !v.isNegative(),
  'expected a finite non-negative Dec',
);

const barCommonShape = {
  symbol: z.string().min(1),
  market: MarketSchema,
  interval: BarIntervalSchema,
  start: DateTimeSchema,
  end: DateTimeSchema,
  label: z.string().min(1),
  open: DecSchema,
};

export const BarSchema = z.object({
  ...barCommonShape,
  complete: z.literal(true),
  high: DecSchema,
  low: DecSchema,
  close: DecSchema,
  volume: DecSchema.refine((v) => v.isInteger(), 'expected an integer volume'),
});

export const OpenOnlyBarSchema = z.object({ ...barCommonShape, complete: z.literal(false) });

/** Runtime check of a bar built elsewhere (tests, replay feeds): types, and start < end. */
export const PriceBarSchema = z
  .discriminatedUnion('complete', [BarSchema, OpenOnlyBarSchema])
  .refine((b) => b.start.toMillis() < b.end.toMillis(), 'expected start < end');

// Compile-time: the schema's output is a PriceBar.
const _schemaMatchesType: z.ZodType<PriceBar> = PriceBarSchema;
void _schemaMatchesType;

// ---------------------------------------------------------------------------------------
// What a label means (DATA)

export type LabelRule =
  /** Daily: the label is a date; the bar spans the regular session (first segment start to last segment end). */
  | { readonly kind: 'session' }
  /** The label is the bar's start; the bar lasts `minutes`, clipped to the regular session. */
  | { readonly kind: 'start'; readonly minutes: number }
  /** Explicit spans: label time of day -> [start, end] exchange-local. Any other label is an error. */
  | { readonly kind: 'spans'; readonly spans: Readonly<Record<string, readonly [WallTime, WallTime]>> };

export interface LabelMeaning {
  readonly rule: LabelRule;
  /** Unit of `5. volume` in the file; `lots` are 100 shares and are converted to shares. */
  readonly volumeUnit: 'shares' | 'lots';
  /** One line for people: what the label means. */
  readonly summary: string;
}

export const LOT_SHARES = 100;

export const LABEL_MEANINGS: Readonly<Record<Market, Readonly<Record<BarInterval, LabelMeaning>>>> = {
  cn: {
    '1d': {
      rule: { kind: 'session' },
      volumeUnit: 'shares',
      summary: 'the date; the bar is that day\'s session 09:30-15:00 Asia/Shanghai (open known at 09:30)',
    },
    '60min': {
      rule: {
        kind: 'spans',
        spans: {
          '10:30': ['09:30', '10:30'],
          '11:30': ['10:30', '11:30'],
          '14:00': ['13:00', '14:00'],
          '15:00': ['14:00', '15:00'],
        },
      },
      volumeUnit: 'lots',
      summary: 'the bar\'s END, Asia/Shanghai: 10:30 = 09:30-10:30, 11:30 = 10:30-11:30, 14:00 = 13:00-14:00, 15:00 = 14:00-15:00',
    },
  },
  us: {
    '1d': {
      rule: { kind: 'session' },
      volumeUnit: 'shares',
      summary: 'the date; the bar is that day\'s regular session 09:30-16:00 America/New_York',
    },
    '60min': {
      rule: { kind: 'start', minutes: 60 },
      volumeUnit: 'shares',
      summary: 'the bar\'s START, America/New_York: 10:00 = 10:00-11:00 ... 15:00 = 15:00-16:00 (09:30-10:00 absent)',
    },
  },
};

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/;

function wallToMinutes(w: WallTime | string): number {
  const [h, m] = w.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

function minutesToWall(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

// Building a zoned DateTime costs ~15 µs; a file has ~30 dates x a few times of day, each
// repeated for every symbol. DateTimes are immutable, so they are memoised.
const wallCache = new Map<string, DateTime>();
const WALL_CACHE_LIMIT = 100_000;

function atWall(date: string, minutes: number, zone: string): DateTime {
  const key = `${zone}|${date}|${minutes}`;
  const hit = wallCache.get(key);
  if (hit) return hit;
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const t = DateTime.fromObject(
    { year: y, month: mo, day: d, hour: Math.floor(minutes / 60), minute: minutes % 60 },
    { zone },
  );
  // A wall time that does not exist (DST gap) would be shifted silently by luxon; refuse it.
  if (!t.isValid || t.year !== y || t.month !== mo || t.day !== d || t.hour * 60 + t.minute !== minutes) {
    throw new InputError(
      `${date} ${minutesToWall(minutes)} is not a valid wall time in ${zone}${t.invalidExplanation ? ` (${t.invalidExplanation})` : ''}`,
    );
  }
  if (wallCache.size >= WALL_CACHE_LIMIT) wallCache.clear();
  wallCache.set(key, t);
  return t;
}

/**
 * The exact interval of the bar with this label. Labels are exchange-local wall time
 * without offset ("2025-10-30 15:00:00" or "2025-10-09") and are read in the market's zone.
 * Throws an InputError for a label that does not fit the file's meaning.
 */
export function barSpan(
  market: Market,
  interval: BarInterval,
  label: string,
  meaning: LabelMeaning = LABEL_MEANINGS[market][interval],
): { start: DateTime; end: DateTime } {
  const facts = MARKETS[market];
  const zone = facts.zone;
  const sessionOpen = wallToMinutes(facts.segments[0]!.start);
  const sessionClose = wallToMinutes(facts.segments[facts.segments.length - 1]!.end);
  const rule = meaning.rule;
  let date: string;
  let startMin: number;
  let endMin: number;
  if (rule.kind === 'session') {
    const m = DATE_RE.exec(label);
    if (!m) throw new InputError(`label "${label}": expected a date YYYY-MM-DD for ${interval} bars`);
    date = label;
    startMin = sessionOpen;
    endMin = sessionClose;
  } else {
    const m = DATE_TIME_RE.exec(label);
    if (!m) throw new InputError(`label "${label}": expected "YYYY-MM-DD HH:mm:ss" for ${interval} bars`);
    if (m[6] !== undefined && m[6] !== '00') throw new InputError(`label "${label}": seconds must be 00`);
    date = `${m[1]}-${m[2]}-${m[3]}`;
    const t = Number(m[4]) * 60 + Number(m[5]);
    if (rule.kind === 'start') {
      startMin = Math.max(t, sessionOpen);
      endMin = Math.min(t + rule.minutes, sessionClose);
      if (startMin >= endMin) {
        throw new InputError(
          `label "${label}": a ${rule.minutes}-minute bar starting at ${minutesToWall(t)} lies outside ` +
            `the regular session ${minutesToWall(sessionOpen)}-${minutesToWall(sessionClose)} ${zone}`,
        );
      }
    } else {
      const span = rule.spans[minutesToWall(t)];
      if (!span) {
        throw new InputError(
          `label "${label}": ${market} ${interval} bars are labelled ${Object.keys(rule.spans).join(', ')} only`,
        );
      }
      startMin = wallToMinutes(span[0]);
      endMin = wallToMinutes(span[1]);
    }
  }
  let start: DateTime;
  let end: DateTime;
  try {
    start = atWall(date, startMin, zone);
    end = atWall(date, endMin, zone);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`label "${label}": ${e.message}`);
    throw e;
  }
  return { start, end };
}

/**
 * Why the exchange was closed on a bar's date (a weekend, a holiday), or undefined. Such a bar
 * would be a quote for the stop-loss watcher on a day nobody traded. Years the calendar does not
 * cover are not judged (old data stays loadable). Cached by date: a file repeats its dates.
 */
const closedCache = new Map<string, string | null>();
function closedDay(market: Market, date: string): string | undefined {
  const key = `${market} ${date}`;
  let why = closedCache.get(key);
  if (why === undefined) {
    const day = DateTime.fromISO(date, { zone: MARKETS[market].zone, locale: 'en' });
    const { fromYear, toYear } = calendarCoverage(market);
    why =
      !day.isValid || day.year < fromYear || day.year > toYear || isTradingDay(market, date)
        ? null
        : `${date} is not a ${market} trading day (${day.weekday >= 6 ? `a ${day.toFormat('cccc')}` : (closureName(market, date) ?? 'closed')})`;
    if (closedCache.size >= WALL_CACHE_LIMIT) closedCache.clear();
    closedCache.set(key, why);
  }
  return why ?? undefined;
}

// ---------------------------------------------------------------------------------------
// Markets from file metadata

/** Meta Data time zones and the market each means. */
export const ZONE_MARKETS: Readonly<Record<string, Market>> = {
  'Asia/Shanghai': 'cn',
  'Asia/Chongqing': 'cn',
  PRC: 'cn',
  'US/Eastern': 'us',
  'America/New_York': 'us',
};

const CN_SUFFIX = /\.(SH|SZ|BJ)$/i;

/**
 * The market of a series: `override` if given; else from the Meta Data time zone
 * (`Asia/Shanghai` -> cn, `US/Eastern` -> us); else from the symbol suffix (.SH/.SZ/.BJ -> cn).
 * A zone and a suffix that disagree, or neither known, is an InputError.
 */
export function inferMarket(symbol: string, timeZone: string | undefined, override?: Market): Market {
  if (override) return override;
  const byZone = timeZone === undefined ? undefined : ZONE_MARKETS[timeZone];
  const bySuffix: Market | undefined = CN_SUFFIX.test(symbol) ? 'cn' : undefined;
  if (byZone && bySuffix && byZone !== bySuffix) {
    throw new InputError(`${symbol}: time zone "${timeZone}" says ${byZone} but the symbol suffix says ${bySuffix}; pass the market explicitly`);
  }
  const market = byZone ?? bySuffix;
  if (!market) {
    throw new InputError(
      `${symbol}: cannot tell the market from time zone ${timeZone === undefined ? '(none)' : `"${timeZone}"`} ` +
        `or the symbol; known zones: ${Object.keys(ZONE_MARKETS).join(', ')}; pass the market explicitly`,
    );
  }
  return market;
}

// ---------------------------------------------------------------------------------------
// The Alpha Vantage / AI-Trader document layout

export const DecimalStringSchema = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'expected a non-negative decimal string like "271.0884"');
export const IntegerStringSchema = z.string().regex(/^\d+$/, 'expected a non-negative integer string like "11077995"');

/**
 * One labelled entry. AI-Trader renames `1. open`/`4. close` to `1. buy price`/`4. sell
 * price`; index files keep the Alpha Vantage names. Either pair is accepted, not both.
 */
export const RawBarSchema = z.looseObject({
  '1. buy price': DecimalStringSchema.optional(),
  '1. open': DecimalStringSchema.optional(),
  '2. high': DecimalStringSchema.optional(),
  '3. low': DecimalStringSchema.optional(),
  '4. sell price': DecimalStringSchema.optional(),
  '4. close': DecimalStringSchema.optional(),
  '5. volume': IntegerStringSchema.optional(),
});
export type RawBar = z.infer<typeof RawBarSchema>;

export const MetaDataSchema = z.looseObject({
  '2. Symbol': z.string().min(1, 'expected a symbol'),
  '2.1. Name': z.string().optional(),
});

/** Series keys of the layout and the interval each holds. */
export const SERIES_INTERVALS: Readonly<Record<string, BarInterval>> = {
  'Time Series (Daily)': '1d',
  'Time Series (60min)': '60min',
};

export const AlphaVantageDocumentSchema = z.looseObject({
  'Meta Data': MetaDataSchema,
});

export interface ParseOptions {
  /** Where the document came from, for messages: "file:line". */
  readonly where: string;
  /** Override the market inferred from the time zone / symbol. */
  readonly market?: Market;
  /** Override what labels mean (default: LABEL_MEANINGS[market][interval]). */
  readonly meaning?: LabelMeaning;
}

export interface ParsedDocument {
  readonly symbol: string;
  readonly name?: string;
  readonly market: Market;
  readonly interval: BarInterval;
  /** Sorted by start. */
  readonly bars: PriceBar[];
  /** Things kept or skipped that a person may want to know, each prefixed with `where`. */
  readonly problems: string[];
}

function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: string): string[] {
  return issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `"${String(p)}"`)).join(' ');
    return `${prefix}${path ? `${path}: ` : ''}${i.message}`;
  });
}

const MAX_MESSAGE_PROBLEMS = 5;

function fail(where: string, problems: string[]): never {
  const head = problems.slice(0, MAX_MESSAGE_PROBLEMS).join('; ');
  const more = problems.length > MAX_MESSAGE_PROBLEMS ? ` (and ${problems.length - MAX_MESSAGE_PROBLEMS} more)` : '';
  throw new InputError(`${where}: ${head}${more}`, problems.map((p) => `${where}: ${p}`));
}

/**
 * Validate one Alpha Vantage-layout document (one line of a merged.jsonl, or a whole
 * .json file) and turn it into bars. Throws an InputError naming `where` and what was
 * expected. Two cases are kept going with a problem instead: an entry that is `{}`
 * (AI-Trader writes that when the latest bar has no open: nothing to keep), and a bar
 * whose high/low do not bracket its open/close (vendor data; kept as given).
 */
export function parseAlphaVantageDocument(doc: unknown, opts: ParseOptions): ParsedDocument {
  const { where } = opts;
  const top = AlphaVantageDocumentSchema.safeParse(doc);
  if (!top.success) {
    fail(where, formatIssues(top.error.issues, 'expected an Alpha Vantage object {"Meta Data": {...}, "Time Series (...)": {...}}: '));
  }
  const meta = top.data['Meta Data'];
  const symbol = meta['2. Symbol'];
  const name = meta['2.1. Name'];
  const zoneKey = Object.keys(meta).find((k) => /(^|\s)Time Zone$/.test(k));
  const zoneValue = zoneKey === undefined ? undefined : meta[zoneKey];
  if (zoneValue !== undefined && typeof zoneValue !== 'string') fail(where, [`${symbol}: "Meta Data" "${zoneKey}": expected a string`]);
  const timeZone = zoneValue as string | undefined;

  const seriesKeys = Object.keys(top.data).filter((k) => k.startsWith('Time Series'));
  if (seriesKeys.length !== 1) {
    fail(where, [
      `${symbol}: expected exactly one "Time Series (...)" key (${Object.keys(SERIES_INTERVALS).join(' or ')}), found ${seriesKeys.length ? seriesKeys.map((k) => `"${k}"`).join(', ') : 'none'}`,
    ]);
  }
  const seriesKey = seriesKeys[0]!;
  const interval = SERIES_INTERVALS[seriesKey];
  if (!interval) {
    fail(where, [`${symbol}: unsupported series "${seriesKey}"; expected ${Object.keys(SERIES_INTERVALS).map((k) => `"${k}"`).join(' or ')}`]);
  }
  const rawSeries = z.record(z.string(), z.unknown()).safeParse(top.data[seriesKey]);
  if (!rawSeries.success) fail(where, [`${symbol}: "${seriesKey}": expected an object of labelled bars`]);

  let market: Market;
  try {
    market = inferMarket(symbol, timeZone, opts.market);
  } catch (e) {
    if (e instanceof InputError) fail(where, [e.message]);
    throw e;
  }
  const meaning = opts.meaning ?? LABEL_MEANINGS[market][interval];
  const volumeFactor = meaning.volumeUnit === 'lots' ? LOT_SHARES : 1;

  const errors: string[] = [];
  const problems: string[] = [];
  const bars: PriceBar[] = [];
  for (const [label, value] of Object.entries(rawSeries.data)) {
    const at = `${symbol} "${label}": `;
    const parsed = RawBarSchema.safeParse(value);
    if (!parsed.success) {
      errors.push(...formatIssues(parsed.error.issues, at));
      continue;
    }
    const raw = parsed.data;
    const fields = Object.keys(raw);
    if (fields.length === 0) {
      problems.push(`${where}: ${at}empty bar {} skipped`);
      continue;
    }
    const openS = raw['1. buy price'] ?? raw['1. open'];
    const closeS = raw['4. sell price'] ?? raw['4. close'];
    if (raw['1. buy price'] !== undefined && raw['1. open'] !== undefined) {
      errors.push(`${at}has both "1. buy price" and "1. open"; expected one`);
      continue;
    }
    if (raw['4. sell price'] !== undefined && raw['4. close'] !== undefined) {
      errors.push(`${at}has both "4. sell price" and "4. close"; expected one`);
      continue;
    }
    if (openS === undefined) {
      errors.push(`${at}expected "1. buy price" or "1. open"`);
      continue;
    }
    const rest = [raw['2. high'], raw['3. low'], closeS, raw['5. volume']];
    const given = rest.filter((v) => v !== undefined).length;
    if (given !== 0 && given !== rest.length) {
      errors.push(`${at}expected all of "2. high", "3. low", "4. sell price" (or "4. close"), "5. volume", or none (an open-only bar)`);
      continue;
    }
    let span: { start: DateTime; end: DateTime };
    try {
      span = barSpan(market, interval, label, meaning);
      const closed = closedDay(market, label.slice(0, 10));
      if (closed) throw new InputError(`label "${label}": ${closed}`);
    } catch (e) {
      if (e instanceof InputError) {
        errors.push(`${symbol}: ${e.message}`);
        continue;
      }
      throw e;
    }
    const common = { symbol, market, interval, start: span.start, end: span.end, label, open: dec(openS) };
    if (given === 0) {
      bars.push({ ...common, complete: false });
      continue;
    }
    const high = dec(raw['2. high']!);
    const low = dec(raw['3. low']!);
    const close = dec(closeS!);
    const volume = dec(raw['5. volume']!).times(volumeFactor);
    const lo = Dec.min(common.open, close);
    const hi = Dec.max(common.open, close);
    if (high.lt(hi) || low.gt(lo)) {
      problems.push(`${where}: ${at}high ${high.toString()} / low ${low.toString()} do not bracket open ${common.open.toString()} / close ${close.toString()} (kept as given)`);
    }
    bars.push({ ...common, complete: true, high, low, close, volume });
  }
  if (errors.length > 0) fail(where, errors);
  bars.sort((a, b) => a.start.toMillis() - b.start.toMillis());
  return name === undefined
    ? { symbol, market, interval, bars, problems }
    : { symbol, name, market, interval, bars, problems };
}
