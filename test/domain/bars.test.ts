import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  LABEL_MEANINGS,
  PriceBarSchema,
  barSpan,
  inferMarket,
  parseAlphaVantageDocument,
  type Bar,
  type PriceBar,
} from '../../src/domain/bars.js';
import { InputError } from '../../src/domain/errors.js';
import { MARKETS } from '../../src/domain/markets.js';
import { Dec } from '../../src/domain/money.js';
import { AI_TRADER } from '../support/fixtures.js';


function lines(rel: string): string[] {
  return readFileSync(fileURLToPath(new URL(rel, AI_TRADER)), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

function lineOf(rel: string, symbol: string): { line: string; n: number } {
  const all = lines(rel);
  const n = all.findIndex((l) => l.includes(`"2. Symbol": "${symbol}"`));
  if (n < 0) throw new Error(`${symbol} not in ${rel}`);
  return { line: all[n]!, n: n + 1 };
}

function parseLine(rel: string, symbol: string) {
  const { line, n } = lineOf(rel, symbol);
  return { doc: JSON.parse(line) as Record<string, Record<string, Record<string, string>>>, parsed: parseAlphaVantageDocument(JSON.parse(line), { where: `${rel}:${n}` }) };
}

const complete = (bars: readonly PriceBar[]): Bar[] => bars.filter((b): b is Bar => b.complete);
const hm = (t: DateTime) => t.toFormat('HH:mm');

describe('barSpan: what a label means', () => {
  it('A-share hourly labels are the bar END; 14:00 starts at 13:00 after the lunch break', () => {
    const spans = ['10:30', '11:30', '14:00', '15:00'].map((l) => barSpan('cn', '60min', `2025-10-09 ${l}:00`));
    expect(spans.map((s) => `${hm(s.start)}-${hm(s.end)}`)).toEqual(['09:30-10:30', '10:30-11:30', '13:00-14:00', '14:00-15:00']);
    for (const s of spans) expect(s.start.zoneName).toBe('Asia/Shanghai');
    expect(spans[2]!.start.toISO()).toBe('2025-10-09T13:00:00.000+08:00');
  });

  it('A-share daily is the 09:30-15:00 session', () => {
    const s = barSpan('cn', '1d', '2025-10-09');
    expect(s.start.toISO()).toBe('2025-10-09T09:30:00.000+08:00');
    expect(s.end.toISO()).toBe('2025-10-09T15:00:00.000+08:00');
  });

  it('US hourly labels are the bar START: 10:00 = 10:00-11:00 ... 15:00 = 15:00-16:00', () => {
    const labels = ['10:00', '11:00', '12:00', '13:00', '14:00', '15:00'];
    const spans = labels.map((l) => barSpan('us', '60min', `2025-10-30 ${l}:00`));
    expect(spans.map((s) => `${hm(s.start)}-${hm(s.end)}`)).toEqual([
      '10:00-11:00', '11:00-12:00', '12:00-13:00', '13:00-14:00', '14:00-15:00', '15:00-16:00',
    ]);
    expect(spans[5]!.end.toISO()).toBe('2025-10-30T16:00:00.000-04:00');
  });

  it('US labels are New York wall time across the DST change (2025-11-02)', () => {
    expect(barSpan('us', '60min', '2025-10-31 10:00:00').start.toUTC().toISO()).toBe('2025-10-31T14:00:00.000Z');
    expect(barSpan('us', '60min', '2025-11-03 10:00:00').start.toUTC().toISO()).toBe('2025-11-03T15:00:00.000Z');
  });

  it('US daily is the 09:30-16:00 session', () => {
    const s = barSpan('us', '1d', '2025-10-01');
    expect(`${hm(s.start)}-${hm(s.end)}`).toBe('09:30-16:00');
  });

  it('clips a US bar to the regular session and refuses labels outside it', () => {
    const s = barSpan('us', '60min', '2025-10-30 09:00:00');
    expect(`${hm(s.start)}-${hm(s.end)}`).toBe('09:30-10:00');
    expect(() => barSpan('us', '60min', '2025-10-30 16:00:00')).toThrow(/outside the regular session 09:30-16:00/);
  });

  it('refuses labels the file does not use', () => {
    expect(() => barSpan('cn', '60min', '2025-10-09 13:30:00')).toThrow(/labelled 10:30, 11:30, 14:00, 15:00 only/);
    expect(() => barSpan('cn', '1d', '2025-10-09 15:00:00')).toThrow(InputError);
    expect(() => barSpan('cn', '60min', '2025-10-09')).toThrow(/YYYY-MM-DD HH:mm:ss/);
    expect(() => barSpan('cn', '1d', '2025-02-30')).toThrow(InputError);
    expect(() => barSpan('us', '60min', '2025-10-30 10:00:30')).toThrow(/seconds/);
  });

  it('the A-share hourly spans lie inside the trading segments', () => {
    const rule = LABEL_MEANINGS.cn['60min'].rule;
    if (rule.kind !== 'spans') throw new Error('expected spans');
    const segs = MARKETS.cn.segments;
    for (const [start, end] of Object.values(rule.spans)) {
      expect(segs.some((s) => s.start <= start && end <= s.end)).toBe(true);
    }
  });
});

describe('inferMarket', () => {
  it('reads the Meta Data time zone, then the symbol suffix; an override wins', () => {
    expect(inferMarket('600519.SH', 'Asia/Shanghai')).toBe('cn');
    expect(inferMarket('AAPL', 'US/Eastern')).toBe('us');
    expect(inferMarket('000001.SZ', undefined)).toBe('cn');
    expect(inferMarket('AAPL', 'UTC', 'us')).toBe('us');
  });
  it('refuses a conflict or an unknown market', () => {
    expect(() => inferMarket('600519.SH', 'US/Eastern')).toThrow(/pass the market explicitly/);
    expect(() => inferMarket('AAPL', undefined)).toThrow(InputError);
    expect(() => inferMarket('AAPL', 'Europe/London')).toThrow(/cannot tell the market/);
  });
});

describe('parseAlphaVantageDocument on real AI-Trader lines', () => {
  it('600519.SH daily 2025-10-09 open equals the file\'s string exactly', () => {
    const { doc, parsed } = parseLine('cn/sse50_daily.jsonl', '600519.SH');
    const raw = doc['Time Series (Daily)']!['2025-10-09']!;
    const bar = parsed.bars.find((b) => b.label === '2025-10-09')!;
    expect(parsed.market).toBe('cn');
    expect(parsed.interval).toBe('1d');
    expect(parsed.name).toBe('贵州茅台');
    // The decimal written with the file's own number of decimals is the file's string.
    const asWritten = (d: Dec, s: string) => d.toFixed(s.split('.')[1]?.length ?? 0);
    expect(bar.open).toBeInstanceOf(Dec);
    expect(bar.open.eq(new Dec(raw['1. buy price']!))).toBe(true);
    expect(asWritten(bar.open, raw['1. buy price']!)).toBe(raw['1. buy price']);
    if (!bar.complete) throw new Error('expected a complete bar');
    expect(asWritten(bar.high, raw['2. high']!)).toBe(raw['2. high']);
    expect(asWritten(bar.low, raw['3. low']!)).toBe(raw['3. low']);
    expect(asWritten(bar.close, raw['4. sell price']!)).toBe(raw['4. sell price']);
    expect(bar.volume.toString()).toBe(raw['5. volume']);
    expect(bar.start.toISO()).toBe('2025-10-09T09:30:00.000+08:00');
    expect(bar.end.toISO()).toBe('2025-10-09T15:00:00.000+08:00');
    expect(PriceBarSchema.safeParse(bar).success).toBe(true);
  });

  it('keeps AI-Trader\'s last, open-only bar as an OpenOnlyBar', () => {
    const { parsed } = parseLine('cn/sse50_daily.jsonl', '600519.SH');
    expect(parsed.bars).toHaveLength(30);
    const last = parsed.bars[parsed.bars.length - 1]!;
    expect(last.label).toBe('2025-11-19');
    expect(last.complete).toBe(false);
    expect(last.open.eq('1474.0')).toBe(true);
    expect(parsed.bars.slice(0, -1).every((b) => b.complete)).toBe(true);
    expect(parsed.problems).toEqual([]);
  });

  it('A-share hourly: 14:00 bar starts 13:00, volume is converted from lots to shares', () => {
    const { parsed } = parseLine('cn/sse50_60min.jsonl', '600028.SH');
    const b = parsed.bars.find((x) => x.label === '2025-10-09 14:00:00')!;
    expect(b.start.toISO()).toBe('2025-10-09T13:00:00.000+08:00');
    expect(b.end.toISO()).toBe('2025-10-09T14:00:00.000+08:00');
    if (!b.complete) throw new Error('expected a complete bar');
    expect(b.volume.toString()).toBe('32541400'); // "325414" lots
    // The day's hourly volumes add up to the daily file's volume (in shares), to 0.01%.
    const day = complete(parsed.bars).filter((x) => x.label.startsWith('2025-10-09 '));
    const hourly = day.reduce((s, x) => s.plus(x.volume), new Dec(0));
    const daily = complete(parseLine('cn/sse50_daily.jsonl', '600028.SH').parsed.bars).find((x) => x.label === '2025-10-09')!;
    expect(hourly.div(daily.volume).minus(1).abs().lt('0.0001')).toBe(true);
  });

  it('US hourly: the 10:00 bar covers 10:00-11:00 New York', () => {
    const { parsed } = parseLine('us/nasdaq100_60min.jsonl', 'AAPL');
    expect(parsed.market).toBe('us');
    expect(parsed.bars).toHaveLength(174);
    const b = parsed.bars.find((x) => x.label === '2025-10-30 10:00:00')!;
    expect(b.start.toISO()).toBe('2025-10-30T10:00:00.000-04:00');
    expect(b.end.toISO()).toBe('2025-10-30T11:00:00.000-04:00');
    expect(b.open.eq('270.8480')).toBe(true);
    expect(parsed.bars[0]!.label).toBe('2025-10-01 10:00:00'); // sorted although the file is not
  });

  it('sums 1000 closes exactly (compared with integer arithmetic on the strings)', () => {
    const strings: string[] = [];
    for (const line of lines('us/nasdaq100_60min.jsonl')) {
      const ts = (JSON.parse(line) as Record<string, Record<string, Record<string, string>>>)['Time Series (60min)']!;
      for (const bar of Object.values(ts)) if (bar['4. sell price'] !== undefined && strings.length < 1000) strings.push(bar['4. sell price']);
      if (strings.length >= 1000) break;
    }
    expect(strings).toHaveLength(1000);
    // Exact: scale every string to 4 decimals and add as BigInt.
    const scaled = (s: string) => {
      const [i, f = ''] = s.split('.');
      return BigInt(i! + f.padEnd(4, '0'));
    };
    const total = strings.reduce((s, x) => s + scaled(x), 0n);
    const exact = `${total / 10000n}.${(total % 10000n).toString().padStart(4, '0')}`;
    const decSum = strings.reduce((s, x) => s.plus(x), new Dec(0));
    expect(decSum.toFixed(4)).toBe(exact);
    // And via the parser: the closes it produced add up the same.
    const parsedCloses = lines('us/nasdaq100_60min.jsonl')
      .flatMap((l, i) => complete(parseAlphaVantageDocument(JSON.parse(l), { where: `x:${i + 1}` }).bars))
      .slice(0, 2000)
      .map((b) => b.close);
    const viaParser = parsedCloses.reduce((s, x) => s.plus(x), new Dec(0));
    const viaStrings = parsedCloses.reduce((s, x) => s + scaled(x.toFixed(4)), 0n);
    expect(viaParser.times(10000).toFixed(0)).toBe(viaStrings.toString());
  });
});

describe('parseAlphaVantageDocument layouts and errors', () => {
  const meta = { '2. Symbol': 'QQQ', '6. Time Zone': 'US/Eastern' };

  it('reads the index layout (1. open / 4. close)', () => {
    const raw = JSON.parse(readFileSync(fileURLToPath(new URL('cn/sse50_index_daily.json', AI_TRADER)), 'utf8')) as unknown;
    const p = parseAlphaVantageDocument(raw, { where: 'sse50_index_daily.json' });
    expect(p.symbol).toBe('000016.SH');
    expect(p.market).toBe('cn');
    expect(p.bars).toHaveLength(106);
    const b = p.bars.find((x) => x.label === '2025-11-14')!;
    if (!b.complete) throw new Error('expected a complete bar');
    expect(b.open.eq('3058.1230')).toBe(true);
    expect(b.close.eq('3038.4260')).toBe(true);
  });

  it('names where and what was expected for a malformed price', () => {
    const doc = { 'Meta Data': meta, 'Time Series (60min)': { '2025-10-30 15:00:00': { '1. open': '1.5', '2. high': 'abc', '3. low': '1', '4. close': '1.2', '5. volume': '10' } } };
    let err: unknown;
    try {
      parseAlphaVantageDocument(doc, { where: 'f.jsonl:7' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/^f\.jsonl:7: QQQ "2025-10-30 15:00:00": "2\. high": expected a non-negative decimal string/);
    expect((err as InputError).problems[0]).toMatch(/^f\.jsonl:7: /);
  });

  it('refuses a float, a half-filled bar, both names, no series, an unknown series', () => {
    const bar = { '1. open': '1.5', '2. high': '2', '3. low': '1', '4. close': '1.2', '5. volume': '10' };
    const one = (b: unknown, key = 'Time Series (60min)') => () =>
      parseAlphaVantageDocument({ 'Meta Data': meta, [key]: { '2025-10-30 15:00:00': b } }, { where: 'w' });
    expect(one({ ...bar, '2. high': 2 })).toThrow(/expected string/);
    expect(one({ ...bar, '5. volume': '1.5' })).toThrow(/integer string/);
    expect(one({ '1. open': '1', '2. high': '2' })).toThrow(/or none \(an open-only bar\)/);
    expect(one({ ...bar, '1. buy price': '1.5' })).toThrow(/both "1\. buy price" and "1\. open"/);
    expect(one({ '2. high': '2' })).toThrow(/expected "1\. buy price" or "1\. open"/);
    expect(one(bar, 'Time Series (5min)')).toThrow(/unsupported series "Time Series \(5min\)"/);
    expect(() => parseAlphaVantageDocument({ 'Meta Data': meta }, { where: 'w' })).toThrow(/exactly one "Time Series/);
    expect(() => parseAlphaVantageDocument({ foo: 1 }, { where: 'w' })).toThrow(/^w: expected an Alpha Vantage object/);
    expect(() => parseAlphaVantageDocument([], { where: 'w' })).toThrow(InputError);
  });

  it('refuses a bar on a day the exchange was closed (a weekend, a holiday), as it refuses one outside the session hours', () => {
    // Found: a Saturday bar 20% under Friday's close loaded silently; the stop-loss watcher took it
    // as a quote and sold five positions at Monday's open, to buy them back at 10:05.
    const bar = { '1. open': '400', '2. high': '400', '3. low': '400', '4. close': '400', '5. volume': '10' };
    const one = (label: string, key = 'Time Series (60min)') => () => parseAlphaVantageDocument({ 'Meta Data': meta, [key]: { [label]: bar } }, { where: 'w' });
    expect(one('2025-11-08 10:00:00')).toThrow(/QQQ: label "2025-11-08 10:00:00": 2025-11-08 is not a us trading day \(a Saturday\)/);
    expect(one('2025-11-27 10:00:00')).toThrow(/2025-11-27 is not a us trading day \(Thanksgiving Day\)/);
    expect(one('2025-11-09', 'Time Series (Daily)')).toThrow(/2025-11-09 is not a us trading day \(a Sunday\)/);
    expect(one('2025-11-07 10:00:00')).not.toThrow();
    // A year the calendar does not cover is not judged (old data stays loadable).
    expect(one('2010-01-02 10:00:00')).not.toThrow();
  });

  it('skips an empty {} bar with a problem, keeps an inconsistent bar with a problem', () => {
    const p = parseAlphaVantageDocument(
      {
        'Meta Data': meta,
        'Time Series (60min)': {
          '2025-10-30 14:00:00': { '1. open': '1.5', '2. high': '1.4', '3. low': '1', '4. close': '1.2', '5. volume': '10' },
          '2025-10-30 15:00:00': {},
        },
      },
      { where: 'w:1' },
    );
    expect(p.bars).toHaveLength(1);
    expect(p.problems).toHaveLength(2);
    expect(p.problems.join('\n')).toMatch(/w:1: QQQ "2025-10-30 15:00:00": empty bar \{\} skipped/);
    expect(p.problems.join('\n')).toMatch(/do not bracket/);
  });

  it('an override market changes the zone labels are read in', () => {
    const doc = { 'Meta Data': { '2. Symbol': 'X' }, 'Time Series (Daily)': { '2025-10-09': { '1. open': '1' } } };
    expect(() => parseAlphaVantageDocument(doc, { where: 'w' })).toThrow(/cannot tell the market/);
    const p = parseAlphaVantageDocument(doc, { where: 'w', market: 'us' });
    expect(p.bars[0]!.start.toISO()).toBe('2025-10-09T09:30:00.000-04:00');
  });

  it('PriceBarSchema refuses a bar that ends before it starts', () => {
    const start = DateTime.fromISO('2025-10-09T10:00:00', { zone: 'Asia/Shanghai' });
    const bad = { symbol: 'X', market: 'cn', interval: '60min', start, end: start, label: 'l', open: new Dec(1), complete: false };
    expect(PriceBarSchema.safeParse(bad).success).toBe(false);
    expect(PriceBarSchema.safeParse({ ...bad, end: start.plus({ hours: 1 }) }).success).toBe(true);
    expect(PriceBarSchema.safeParse({ ...bad, end: start.plus({ hours: 1 }), open: 1 }).success).toBe(false);
  });
});
