import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPriceFile, loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import type { PriceBar } from '../../src/domain/bars.js';
import { InputError } from '../../src/domain/errors.js';
import { AI_TRADER } from '../support/fixtures.js';

const SAMPLE = new URL('../../data/sample/', import.meta.url);
const fixture = (rel: string) => new URL(rel, AI_TRADER);
const sample = (rel: string) => new URL(rel, SAMPLE);

const tmp = mkdtempSync(join(tmpdir(), 'av-file-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function tmpFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

async function inputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

const bySymbol = (bars: readonly PriceBar[]) => {
  const m = new Map<string, PriceBar[]>();
  for (const b of bars) m.set(b.symbol, [...(m.get(b.symbol) ?? []), b]);
  return m;
};

const CN = ['600519.SH', '601318.SH', '600036.SH', '601899.SH', '600900.SH', '688981.SH'];
const US = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'TSLA'];

describe('loadPriceFile on the AI-Trader files', () => {
  it('reads the US hourly merged.jsonl (101 symbols x 174 bars, the last open-only)', async () => {
    const { bars, names, problems } = await loadPriceFile(fixture('us/nasdaq100_60min.jsonl'));
    const groups = bySymbol(bars);
    expect(groups.size).toBe(101);
    for (const list of groups.values()) {
      expect(list).toHaveLength(174);
      expect(list.filter((b) => !b.complete).map((b) => b.label)).toEqual(['2025-11-10 15:00:00']);
    }
    expect(names).toEqual({});
    expect(problems).toEqual([]);
  });

  it('reads the A-share files with names', async () => {
    const daily = await loadPriceFile(fixture('cn/sse50_daily.jsonl'));
    expect(bySymbol(daily.bars).size).toBe(50);
    expect(daily.bars).toHaveLength(50 * 30);
    expect(daily.names['600519.SH']).toBe('贵州茅台');
    expect(daily.names['688981.SH']).toBe('中芯国际');
    const hourly = await loadPriceFile(fileURLToPath(fixture('cn/sse50_60min.jsonl')));
    expect(hourly.bars).toHaveLength(50 * 120);
    expect(hourly.problems).toEqual([]);
  });

  it('reads a single-object .json with the index layout (1. open / 4. close)', async () => {
    const qqq = await loadPriceFile(fixture('us/QQQ_60min.json'));
    expect(qqq.bars).toHaveLength(174);
    expect(qqq.bars.every((b) => b.complete && b.symbol === 'QQQ' && b.market === 'us')).toBe(true);
    const idx = await loadPriceFile(fixture('cn/sse50_index_daily.json'));
    expect(idx.bars).toHaveLength(106);
    const b = idx.bars.find((x) => x.label === '2025-11-14')!;
    expect(b.complete && b.close.eq('3038.4260')).toBe(true);
    expect(b.market).toBe('cn');
  });

  it('keeps only the symbols asked for, and says which are missing', async () => {
    const { bars } = await loadPriceFile(fixture('us/nasdaq100_60min.jsonl'), { symbols: ['AAPL', 'TSLA'] });
    expect([...bySymbol(bars).keys()]).toEqual(['AAPL', 'TSLA']);
    const e = await inputError(loadPriceFile(fixture('us/QQQ_60min.json'), { symbols: ['SPY'] }));
    expect(e.message).toMatch(/no data for SPY/);
  });
});

describe('loadPriceFile errors', () => {
  const good = readFileSync(fileURLToPath(sample('us_hourly.jsonl')), 'utf8').split('\n')[0]!;

  it('missing file', async () => {
    const p = join(tmp, 'nope.jsonl');
    const e = await inputError(loadPriceFile(p));
    expect(e.message).toBe(`price file not found: ${p}`);
  });

  it('empty file, and a file of blank lines', async () => {
    expect((await inputError(loadPriceFile(tmpFile('empty.jsonl', '')))).message).toMatch(/^price file is empty: .*empty\.jsonl/);
    expect((await inputError(loadPriceFile(tmpFile('blank.jsonl', '\n  \n\n')))).message).toMatch(/price file is empty/);
    expect((await inputError(loadPriceFile(tmpFile('empty.json', ' \n')))).message).toMatch(/price file is empty/);
  });

  it('a line that is not JSON names file:line', async () => {
    const p = tmpFile('badjson.jsonl', `${good}\n{"Meta Data": \n`);
    const e = await inputError(loadPriceFile(p));
    expect(e.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not valid JSON`));
  });

  it('a malformed bar names file:line and what was expected', async () => {
    const bad = good.replace('"1. buy price": "', '"1. buy price": "x');
    const p = tmpFile('badbar.jsonl', `${good.replace('"AAPL"', '"AAPL2"')}\n\n${bad}\n`);
    const e = await inputError(loadPriceFile(p));
    expect(e.message).toContain(`${p}:3: AAPL "`);
    expect(e.message).toMatch(/"1\. buy price": expected a non-negative decimal string like "271\.0884"/);
    expect(e.problems.length).toBeGreaterThanOrEqual(1);
    expect(e.problems.every((x) => x.startsWith(`${p}:3: `))).toBe(true);
  });

  it('a symbol twice', async () => {
    const p = tmpFile('dup.jsonl', `${good}\n${good}\n`);
    expect((await inputError(loadPriceFile(p))).message).toMatch(/dup\.jsonl:2: AAPL appears again \(first at .*dup\.jsonl:1\)/);
  });

  it('an empty {} bar is skipped and reported, not silently', async () => {
    const doc = JSON.parse(good) as Record<string, Record<string, unknown>>;
    doc['Time Series (60min)']!['2025-11-10 15:00:00'] = {};
    const p = tmpFile('emptybar.jsonl', JSON.stringify(doc) + '\n');
    const { bars, problems } = await loadPriceFile(p);
    expect(bars).toHaveLength(173);
    expect(problems).toEqual([`${p}:1: AAPL "2025-11-10 15:00:00": empty bar {} skipped`]);
  });

  it('an absurd bar the next bars do not follow is refused, naming file:line, symbol, time, price and rule', async () => {
    const doc = JSON.parse(good) as Record<string, Record<string, Record<string, string>>>;
    const series = doc['Time Series (60min)']!;
    const label = Object.keys(series).sort()[100]!;
    series[label] = { ...series[label]!, '1. buy price': '0.01', '4. sell price': '0.01', '3. low': '0.01' };
    const p = tmpFile('absurd.jsonl', JSON.stringify(doc) + '\n');
    const e = await inputError(loadPriceFile(p));
    expect(e.message.startsWith(`${p}:1: AAPL at ${label.slice(0, 16)} EDT: price 0.01 (deviation) 100% away from the median`)).toBe(true);
    expect(e.message).toContain('the next prices did not follow it; fix the bar, or raise data_source.price_sanity.max_deviation_ratio if the move is real');
    // Unchecked on request, and the untouched file passes.
    expect((await loadPriceFile(p, { sanity: false })).bars).toHaveLength(174);
    expect((await loadPriceFile(tmpFile('good.jsonl', good))).bars).toHaveLength(174);
  });

  it('a .json file that is not JSON', async () => {
    const p = tmpFile('bad.json', '{"Meta Data": ');
    expect((await inputError(loadPriceFile(p))).message).toMatch(/bad\.json: not valid JSON/);
  });
});

describe('the bundled sample in data/sample', () => {
  it('holds the expected files, under 1 MB, with the license and a README', () => {
    const files = readdirSync(SAMPLE).sort();
    expect(files).toEqual([
      'AI-Trader.LICENSE', 'QQQ_60min.json', 'README.md', 'cn_daily.jsonl', 'cn_hourly.jsonl', 'sse50_index_daily.json', 'us_hourly.jsonl',
    ]);
    const total = files.reduce((s, f) => s + statSync(fileURLToPath(sample(f))).size, 0);
    expect(total).toBeLessThan(1_000_000);
    expect(readFileSync(fileURLToPath(sample('AI-Trader.LICENSE')), 'utf8')).toMatch(/MIT License/);
  });

  it('cn_daily: 6 SSE-50 symbols, 30 sessions 2025-10-09 .. 2025-11-19', async () => {
    const { bars, names, problems } = await loadPriceFile(sample('cn_daily.jsonl'));
    const groups = bySymbol(bars);
    expect([...groups.keys()]).toEqual(CN);
    expect(names['600519.SH']).toBe('贵州茅台');
    for (const list of groups.values()) {
      expect(list).toHaveLength(30);
      expect(list[0]!.label).toBe('2025-10-09');
      expect(list.at(-1)!.label).toBe('2025-11-19');
    }
    expect(problems).toEqual([]);
  });

  it('cn_hourly: 6 symbols, 4 bars a day, 120 bars', async () => {
    const { bars } = await loadPriceFile(sample('cn_hourly.jsonl'));
    const groups = bySymbol(bars);
    expect([...groups.keys()]).toEqual(CN);
    for (const list of groups.values()) {
      expect(list).toHaveLength(120);
      expect(list[0]!.label).toBe('2025-10-09 10:30:00');
      expect(list.at(-1)!.label).toBe('2025-11-19 15:00:00');
    }
  });

  it('us_hourly: 6 NASDAQ-100 symbols, 174 bars 2025-10-01 10:00 .. 2025-11-10 15:00', async () => {
    const { bars } = await loadPriceFile(sample('us_hourly.jsonl'));
    const groups = bySymbol(bars);
    expect([...groups.keys()]).toEqual(US);
    for (const list of groups.values()) {
      expect(list).toHaveLength(174);
      expect(list[0]!.label).toBe('2025-10-01 10:00:00');
      expect(list.at(-1)!.label).toBe('2025-11-10 15:00:00');
    }
  });

  it('sample lines are byte-for-byte the AI-Trader lines', () => {
    for (const [s, src] of [
      ['cn_daily.jsonl', 'cn/sse50_daily.jsonl'],
      ['cn_hourly.jsonl', 'cn/sse50_60min.jsonl'],
      ['us_hourly.jsonl', 'us/nasdaq100_60min.jsonl'],
    ] as const) {
      const original = new Set(readFileSync(fileURLToPath(fixture(src)), 'utf8').split('\n'));
      const lines = readFileSync(fileURLToPath(sample(s)), 'utf8').split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(6);
      for (const l of lines) expect(original.has(l)).toBe(true);
    }
    for (const [s, src] of [['QQQ_60min.json', 'us/QQQ_60min.json'], ['sse50_index_daily.json', 'cn/sse50_index_daily.json']] as const) {
      expect(readFileSync(fileURLToPath(sample(s)), 'utf8')).toBe(readFileSync(fileURLToPath(fixture(src)), 'utf8'));
    }
  });

  it('loadPriceStore merges several files into one store', async () => {
    const problems: string[] = [];
    const store = await loadPriceStore([sample('cn_daily.jsonl'), sample('sse50_index_daily.json')], { onProblem: (p) => problems.push(p) });
    expect(store.symbols()).toEqual(['000016.SH', ...[...CN].sort()]);
    expect(store.range()!.first.toISO()).toBe('2025-06-12T09:30:00.000+08:00');
    const t = DateTime.fromISO('2025-10-09T15:00:00', { zone: 'Asia/Shanghai' });
    expect(store.lastBarAsOf('000016.SH', t)!.label).toBe('2025-10-09');
    expect(problems).toEqual([]);
    const us = await loadPriceStore(sample('us_hourly.jsonl'));
    expect(us.symbols()).toEqual([...US].sort());
  });
});
