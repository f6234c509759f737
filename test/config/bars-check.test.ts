import { describe, expect, it } from 'vitest';
import { checkBarsFacts } from '../../src/config/bars-check.js';
import { addDocumentFacts, NO_FACTS } from '../../src/domain/bars-facts.js';

const doc = (symbol: string, series: string, bars: Record<string, object>, zone?: string) => ({
  'Meta Data': { '2. Symbol': symbol, ...(zone ? { '5. Time Zone': zone } : {}) },
  [series]: bars,
});
const bar = { '1. buy price': '10.0' };
const ask = { market: '--market cn|us', frequency: '--frequency daily|hourly' };

describe('what a bars file holds, and whether a run fits it', () => {
  it('tells market by zone or suffix, interval by series key, dates from non-empty labels', () => {
    const facts = [
      doc('600000.SH', 'Time Series (Daily)', { '2025-10-09': bar, '2025-10-10': bar, '2025-10-13': {} }),
      doc('AAPL', 'Time Series (60min)', { '2025-10-08 15:00:00': bar }, 'US/Eastern'),
      { 'not a': 'price document' },
    ].reduce(addDocumentFacts, NO_FACTS);
    expect(facts).toEqual({ markets: { cn: ['600000.SH'], us: ['AAPL'] }, frequencies: { daily: ['600000.SH'], hourly: ['AAPL'] }, firstDate: '2025-10-08', lastDate: '2025-10-10', symbols: 2 });
    expect(checkBarsFacts({ file: 'm.jsonl', facts, ask }).problems).toEqual([
      'm.jsonl mixes cn (A-share) bars (600000.SH) and us bars (AAPL); a run uses one market',
      'm.jsonl mixes daily bars ("Time Series (Daily)") (600000.SH) and hourly bars ("Time Series (60min)") (AAPL); a run uses one bar interval',
    ]);
  });

  it('infers what is not given, accepts what fits, and asks when the file cannot tell', () => {
    const cn = addDocumentFacts(NO_FACTS, doc('600000.SH', 'Time Series (Daily)', { '2025-10-09': bar }));
    expect(checkBarsFacts({ file: 'cn.jsonl', facts: cn, ask })).toEqual({ market: 'cn', frequency: 'daily', problems: [] });
    const inRange = { file: 'cn.jsonl', facts: cn, ask, from: { value: '2025-10-09', said: '--from 2025-10-09' }, to: { value: '2025-10-09', said: '--to 2025-10-09' } };
    expect(checkBarsFacts(inRange).problems).toEqual([]);
    const unknown = addDocumentFacts(NO_FACTS, doc('XYZ', 'Time Series (Daily)', { '2025-10-09': bar }));
    expect(checkBarsFacts({ file: 'u.jsonl', facts: unknown, ask }).problems).toEqual(['cannot tell the market of the bars in u.jsonl: give --market cn|us']);
    expect(checkBarsFacts({ file: 'u.jsonl', facts: unknown, ask, market: { value: 'us', said: '--market us' } })).toEqual({ frequency: 'daily', problems: [] });
  });
});
