import { describe, expect, it } from 'vitest';
import { FeesSchema } from '../../src/config/schema.js';
import { cnFees, DEFAULT_FEE_RATES, NO_FEE_RATES, orderFees, usFees } from '../../src/domain/fees.js';
import { dec } from '../../src/domain/money.js';

const cn = DEFAULT_FEE_RATES.cn;
const parts = (f: ReturnType<typeof cnFees>) => ({
  commission: f.commission.toFixed(2),
  stampDuty: f.stampDuty.toFixed(2),
  transferFee: f.transferFee.toFixed(2),
  secFee: f.secFee.toFixed(2),
  taf: f.taf.toFixed(2),
  total: f.total.toFixed(2),
});

describe('A-share fees', () => {
  it('a small buy pays the minimum commission and the transfer fee, no stamp duty', () => {
    // 100 x 5.34 = 534: commission 0.1335 -> min 5.00; transfer 0.00534 -> 0.01
    expect(parts(cnFees({ side: 'buy', quantity: 100, notional: dec('534') }, cn))).toEqual({
      commission: '5.00',
      stampDuty: '0.00',
      transferFee: '0.01',
      secFee: '0.00',
      taf: '0.00',
      total: '5.01',
    });
  });

  it('a sell adds stamp duty; components are rounded on their own', () => {
    // 100 x 1437.97 = 143797: commission 35.94925 -> 35.95; stamp 71.8985 -> 71.90; transfer 1.43797 -> 1.44
    expect(parts(cnFees({ side: 'sell', quantity: 100, notional: dec('143797') }, cn))).toMatchObject({
      commission: '35.95',
      stampDuty: '71.90',
      transferFee: '1.44',
      total: '109.29',
    });
    const buy = cnFees({ side: 'buy', quantity: 100, notional: dec('143797') }, cn);
    expect(buy.stampDuty.isZero()).toBe(true);
    expect(buy.total.toFixed(2)).toBe('37.39');
  });

  it('the minimum commission: below, at and above the break-even notional of 20,000', () => {
    const commission = (n: string) => cnFees({ side: 'buy', quantity: 100, notional: dec(n) }, cn).commission.toFixed(2);
    expect(commission('19999')).toBe('5.00'); // 4.99975 -> min
    expect(commission('20000')).toBe('5.00'); // exactly 5
    expect(commission('20040')).toBe('5.01');
  });

  it('rounds half-up: 5.005 -> 5.01, 0.005 -> 0.01 (banker\'s rounding would give 5.00 / 0.00)', () => {
    expect(cnFees({ side: 'buy', quantity: 100, notional: dec('20020') }, cn).commission.toFixed(2)).toBe('5.01');
    expect(cnFees({ side: 'buy', quantity: 100, notional: dec('500') }, cn).transferFee.toFixed(2)).toBe('0.01');
    expect(cnFees({ side: 'sell', quantity: 100, notional: dec('9') }, cn).stampDuty.toFixed(2)).toBe('0.00'); // 0.0045
    expect(cnFees({ side: 'sell', quantity: 100, notional: dec('10') }, cn).stampDuty.toFixed(2)).toBe('0.01'); // 0.005
  });

  it('the total is exactly the sum of the rounded components', () => {
    const f = cnFees({ side: 'sell', quantity: 300, notional: dec('12345.67') }, cn);
    expect(f.total.equals(f.commission.plus(f.stampDuty).plus(f.transferFee))).toBe(true);
  });
});

describe('US fees', () => {
  const us = { commission_per_share: 0.005, commission_min: 1, sec_fee_rate: 0.0000278, taf_fee_per_share: 0.000166 };

  it('default: nothing at all', () => {
    expect(orderFees('us', { side: 'sell', quantity: 1000, notional: dec('250000') }).total.toFixed(2)).toBe('0.00');
  });

  it('per-share commission with a minimum, both sides', () => {
    expect(usFees({ side: 'buy', quantity: 100, notional: dec('25000') }, us).commission.toFixed(2)).toBe('1.00'); // 0.50 -> min
    expect(usFees({ side: 'buy', quantity: 1000, notional: dec('250000') }, us).commission.toFixed(2)).toBe('5.00');
    expect(usFees({ side: 'buy', quantity: 1000, notional: dec('250000') }, us).total.toFixed(2)).toBe('5.00');
  });

  it('SEC fee on the notional and TAF per share, on sells only', () => {
    const sell = usFees({ side: 'sell', quantity: 1000, notional: dec('10000') }, us);
    expect(parts(sell)).toMatchObject({ commission: '5.00', secFee: '0.28', taf: '0.17', total: '5.45' }); // 0.278, 0.166
    const buy = usFees({ side: 'buy', quantity: 1000, notional: dec('10000') }, us);
    expect([buy.secFee.toFixed(2), buy.taf.toFixed(2)]).toEqual(['0.00', '0.00']);
  });
});

describe('rates', () => {
  it('the defaults are the config schema\'s defaults', () => {
    expect(FeesSchema.parse({})).toEqual(DEFAULT_FEE_RATES);
  });

  it('no-fee rates (AI-Trader) charge nothing, even the minimum', () => {
    expect(orderFees('cn', { side: 'sell', quantity: 100, notional: dec('529') }, NO_FEE_RATES).total.isZero()).toBe(true);
  });
});
