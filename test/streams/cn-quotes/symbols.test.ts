import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/domain/errors.js';
import { chunk, eastmoneySecid, parseCnSymbol, parseCnSymbols, prefixedCode, tushareCode } from '../../../src/streams/cn-quotes/symbols.js';

describe('A-share symbols in each source\'s form', () => {
  it.each([
    ['600519.SH', 'sh600519', '1.600519', '600519.SH'],
    ['000001.SZ', 'sz000001', '0.000001', '000001.SZ'],
    ['300750.SZ', 'sz300750', '0.300750', '300750.SZ'],
    ['688981.SH', 'sh688981', '1.688981', '688981.SH'],
    ['430047.BJ', 'bj430047', '0.430047', '430047.BJ'],
  ])('%s is %s for Sina/Tencent, %s for Eastmoney, %s for Tushare', (ours, prefixed, secid, ts) => {
    const s = parseCnSymbol(ours);
    expect([prefixedCode(s), eastmoneySecid(s), tushareCode(s)]).toEqual([prefixed, secid, ts]);
  });

  it('refuses anything but six digits and .SH / .SZ / .BJ', () => {
    for (const bad of ['600519', 'sh600519', '600519.sh', '60051.SH', 'AAPL', '600519.HK']) expect(() => parseCnSymbol(bad)).toThrow(InputError);
  });

  it('drops repeats, keeping the first order, and batches', () => {
    expect(parseCnSymbols(['000001.SZ', '600519.SH', '000001.SZ']).map((s) => s.symbol)).toEqual(['000001.SZ', '600519.SH']);
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
