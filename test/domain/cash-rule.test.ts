/** How a fill's value becomes cash, per rule (src/domain/money.ts CashRule). */
import { describe, expect, it } from 'vitest';
import { dec, tradeValue } from '../../src/domain/money.js';

describe('tradeValue', () => {
  it('rounds to the cent half-up (cent), half to even (cent-even: an Alpaca account), or not at all (exact)', () => {
    // 3 x 426.895 = 1280.685, a price the sample day's replay trades at.
    expect(tradeValue(dec('426.895'), 3, 'cent').toFixed()).toBe('1280.69');
    expect(tradeValue(dec('426.895'), 3, 'cent-even').toFixed()).toBe('1280.68');
    expect(tradeValue(dec('426.895'), 3, 'exact').toFixed()).toBe('1280.685');
    // Off the half cent the two cent rules agree.
    expect(tradeValue(dec('190.123456'), 7, 'cent-even').toFixed()).toBe('1330.86');
    expect(tradeValue(dec('190.123456'), 7, 'cent').toFixed()).toBe('1330.86');
    expect(tradeValue(dec('2.035'), 1, 'cent-even').toFixed()).toBe('2.04');
  });
});
