import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_FEE_RATES, NO_FEE_RATES, orderFees, type FeeRates } from '../../src/domain/fees.js';
import { parseMessage, type AccountView } from '../../src/domain/messages.js';
import { dec } from '../../src/domain/money.js';
import { emptyTally, record } from '../../src/domain/risk/program-trading.js';
import {
  exchangeDay,
  gateOf,
  limitPercent,
  money,
  ratioPercent,
  RISK_TABLE,
  runChecks,
  type RecentOrder,
  type RiskInput,
  type RiskIntent,
  type RiskLimits,
} from '../../src/domain/risk/checks.js';

const NOW = 1_760_000_000_000;

const LIMITS: RiskLimits = {
  max_single_position_ratio: 0.3,
  max_daily_loss_ratio: 0.05,
  min_cash_reserve: 10_000,
  max_orders_per_session: 10,
  max_orders_per_minute: 30,
  duplicate_window_seconds: 60,
};

interface Over {
  intent?: Partial<RiskIntent>;
  account?: Partial<AccountView>;
  limits?: Partial<RiskLimits>;
  price?: string | null;
  quoteAgeMs?: number;
  rest?: Partial<Omit<RiskInput, 'intent' | 'account' | 'limits' | 'quote'>>;
}

/** A US account with 100,000 USD cash, no fees, AAPL at 100. */
function input(over: Over = {}): RiskInput {
  const price = over.price === undefined ? '100' : over.price;
  return {
    mode: 'backtest',
    market: 'us',
    signature: 'alpha',
    sessionId: 'alpha@2025-10-09T09:35:00-04:00',
    intent: { side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market', ...over.intent },
    account: { signature: 'alpha', cash: '100000', positions: {}, equity: '100000', startOfDayEquity: '100000', ...over.account },
    quote: price === null ? undefined : { price: dec(price), atMs: NOW - (over.quoteAgeMs ?? 0) },
    knownSymbol: true,
    fees: NO_FEE_RATES,
    limits: { ...LIMITS, ...over.limits },
    staleQuoteSeconds: 30,
    nowMs: NOW,
    ordersThisSession: 0,
    recent: [],
    gate: 'active',
    ...over.rest,
  };
}

const failure = (i: RiskInput) => runChecks(i).failure;
const recent = (o: Partial<RecentOrder> & { atMs: number }): RecentOrder => ({
  clientOrderId: `alpha.x.${o.atMs}`,
  signature: 'alpha',
  side: 'buy',
  symbol: 'AAPL',
  quantity: 100,
  ...o,
});

describe('the risk table', () => {
  it('runs every applicable row in order for an approved buy, recording value and limit', () => {
    const v = runChecks(input({ limits: { max_order_notional: 50_000, deny_symbols: ['TSLA'] } }));
    expect(v.approved).toBe(true);
    expect(v.failure).toBeUndefined();
    expect(v.checks.map((c) => c.rule)).toEqual([
      'kill_switch',
      'valid_order',
      'allow_symbols/deny_symbols',
      'known_symbol',
      'reference_price',
      'max_daily_loss_ratio',
      'max_orders_per_session',
      'max_orders_per_minute',
      'duplicate_window_seconds',
      'max_order_notional',
      'max_single_position_ratio',
      'min_cash_reserve',
    ]);
    expect(v.checks.every((c) => c.passed)).toBe(true);
    expect(v.checks.find((c) => c.rule === 'max_single_position_ratio')).toEqual({
      rule: 'max_single_position_ratio',
      code: 'MAX_POSITION_RATIO',
      passed: true,
      value: '10.0%',
      limit: '30%',
    });
    expect(v.checks.find((c) => c.rule === 'min_cash_reserve')).toMatchObject({ value: '90000.00', limit: '10000.00' });
  });

  it('skips buy-only rows for a sell, paper/live rows in a backtest, and unconfigured optional limits', () => {
    const sell = runChecks(input({ intent: { side: 'sell' }, account: { positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '90' } } } }));
    expect(sell.approved).toBe(true);
    expect(sell.checks.map((c) => c.rule)).toEqual([
      'kill_switch',
      'valid_order',
      'known_symbol',
      'reference_price',
      'max_orders_per_session',
      'max_orders_per_minute',
      'duplicate_window_seconds',
      'min_cash_reserve',
    ]);
    const paper = runChecks(input({ rest: { mode: 'paper' }, limits: { duplicate_window_seconds: 0 } }));
    expect(paper.checks.map((c) => c.rule)).toContain('stale_quote_seconds');
    expect(paper.checks.map((c) => c.rule)).not.toContain('duplicate_window_seconds');
  });

  it('stops at the first failure: the failing check is the last one listed', () => {
    const v = runChecks(input({ intent: { quantity: 400 } }));
    expect(v.approved).toBe(false);
    expect(v.checks.at(-1)).toMatchObject({ rule: 'max_single_position_ratio', passed: false });
    expect(v.checks.slice(0, -1).every((c) => c.passed)).toBe(true);
    expect(v.failure).toMatchObject({ code: 'MAX_POSITION_RATIO', value: '40.0%', limit: '30%' });
  });

  it('every row has a risk reason code, or (the live exchange rows) the venue code the exchange would give', () => {
    for (const row of RISK_TABLE) expect(['LOT_SIZE', 'INSUFFICIENT_POSITION', 'T_PLUS_ONE', 'PRICE_LIMIT', 'BROKER_REJECTED', 'KILL_SWITCH', 'INVALID_ORDER', 'SYMBOL_NOT_ALLOWED', 'UNKNOWN_SYMBOL', 'SYMBOL_NOT_TRADED', 'STALE_QUOTE', 'DAILY_LOSS_LIMIT', 'MAX_ORDERS_PER_SESSION', 'MAX_ORDERS_PER_MINUTE', 'DUPLICATE_ORDER', 'MAX_ORDER_NOTIONAL', 'MAX_POSITION_RATIO', 'MIN_CASH_RESERVE', 'LIVE_RAMP_CAP', 'BUYING_POWER', 'ORDER_RATE_LIMIT']).toContain(row.code);
  });
});

describe('max_single_position_ratio (buys; at the limit passes)', () => {
  it('passes exactly at 30% and fails just above it', () => {
    expect(failure(input({ intent: { quantity: 300 } }))).toBeUndefined();
    expect(failure(input({ intent: { quantity: 301 } }))).toMatchObject({
      code: 'MAX_POSITION_RATIO',
      message: 'MAX_POSITION_RATIO: AAPL would be 30.1% of equity, limit 30%',
    });
  });

  it('renders the message in the issue style', () => {
    expect(failure(input({ intent: { quantity: 342 } }))?.message).toBe('MAX_POSITION_RATIO: AAPL would be 34.2% of equity, limit 30%');
  });

  it('counts the shares already held, marked at the reference price', () => {
    const held = { positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '50' } } };
    expect(failure(input({ intent: { quantity: 200 }, account: held }))).toBeUndefined();
    expect(failure(input({ intent: { quantity: 201 }, account: held }))?.code).toBe('MAX_POSITION_RATIO');
  });

  it('divides by the equity left after the fees, exactly, and shows the decimals that prove the breach', () => {
    // 3000 x 10 CNY = 30000; fees 7.50 + 0.30; 30000 / 99992.20 = 30.0023%.
    const cn = input({ rest: { market: 'cn', fees: DEFAULT_FEE_RATES }, intent: { symbol: '600519.SH', quantity: 3000 }, price: '10' });
    expect(failure(cn)?.message).toBe('MAX_POSITION_RATIO: 600519.SH would be 30.002% of equity, limit 30%');
  });

  it('values a limit buy at its limit price', () => {
    expect(failure(input({ intent: { type: 'limit', limitPrice: '90', quantity: 333 } }))).toBeUndefined();
    expect(failure(input({ intent: { type: 'limit', limitPrice: '101', quantity: 300 } }))?.message).toBe(
      'MAX_POSITION_RATIO: AAPL would be 30.3% of equity, limit 30%',
    );
  });

  it('does not bind sells', () => {
    const big = { positions: { AAPL: { quantity: 900, sellable: 900, costBasis: '50' } }, cash: '10000', equity: '100000' };
    expect(failure(input({ intent: { side: 'sell', quantity: 100 }, account: big }))).toBeUndefined();
  });

  it('refuses any buy when the equity left would be nothing', () => {
    expect(failure(input({ account: { equity: '0', startOfDayEquity: '0' }, limits: { min_cash_reserve: 0 } }))).toMatchObject({
      code: 'MAX_POSITION_RATIO',
      value: 'no equity',
    });
  });
});

describe('min_cash_reserve (cash after the order and its fees; exactly the reserve passes)', () => {
  const oneDollar: FeeRates = { ...NO_FEE_RATES, us: { ...NO_FEE_RATES.us, commission_min: 1 } };
  const wide = { max_single_position_ratio: 0.95 };

  it('passes when the buy leaves exactly the reserve, fees included', () => {
    const v = runChecks(input({ intent: { quantity: 900 }, account: { cash: '100001', equity: '100001' }, limits: wide, rest: { fees: oneDollar } }));
    expect(v.approved).toBe(true);
    expect(v.checks.at(-1)).toMatchObject({ rule: 'min_cash_reserve', value: '10000.00', limit: '10000.00' });
  });

  it('fails a cent below, saying what the fees were', () => {
    expect(failure(input({ intent: { quantity: 900 }, account: { cash: '100000.99', equity: '100000.99' }, limits: wide, rest: { fees: oneDollar } }))).toEqual({
      rule: 'min_cash_reserve',
      code: 'MIN_CASH_RESERVE',
      value: '9999.99',
      limit: '10000.00',
      message: 'MIN_CASH_RESERVE: buying 900 AAPL for 90000.00 + 1.00 fees would leave 9999.99 USD in cash, reserve 10000.00 USD',
    });
  });

  it('lets a sell through even below the reserve when it brings cash in', () => {
    const account = { cash: '5000', equity: '15000', positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '90' } } };
    expect(failure(input({ intent: { side: 'sell' }, account }))).toBeUndefined();
  });

  it('refuses a sell whose fees exceed its proceeds when that breaks the reserve', () => {
    // 100 x 0.01 CNY = 1.00 in, 5.00 minimum commission out.
    const account = { cash: '10000', equity: '10001', positions: { '600000.SH': { quantity: 100, sellable: 100, costBasis: '1' } } };
    const cn = input({ rest: { market: 'cn', fees: DEFAULT_FEE_RATES }, intent: { side: 'sell', symbol: '600000.SH' }, price: '0.01', account });
    expect(failure(cn)?.message).toBe('MIN_CASH_RESERVE: selling 100 600000.SH brings 1.00 but costs 5.00 in fees, leaving 9996.00 CNY in cash, reserve 10000.00 CNY');
  });
});

describe('max_daily_loss_ratio (buys; a loss of exactly the limit passes)', () => {
  it('passes at exactly 5% down and fails beyond it', () => {
    expect(runChecks(input({ account: { equity: '95000' } })).lossBreached).toBe(false);
    expect(failure(input({ account: { equity: '95000' }, limits: { min_cash_reserve: 0 } }))).toBeUndefined();
    const v = runChecks(input({ account: { equity: '94999.99' } }));
    expect(v.lossBreached).toBe(true);
    expect(v.failure).toMatchObject({ code: 'DAILY_LOSS_LIMIT', value: '5.00001%', limit: '5%' });
  });

  it('explains the breach', () => {
    expect(failure(input({ account: { equity: '94000' } }))?.message).toBe(
      'DAILY_LOSS_LIMIT: equity 94000.00 USD is 6.0% below the start of day 100000.00 USD, limit 5%; only sells are allowed until the next trading day',
    );
  });

  it('allows sells that reduce, and reports the breach so the gate turns to reducing', () => {
    const account = { equity: '94000', positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '150' } } };
    const v = runChecks(input({ intent: { side: 'sell' }, account }));
    expect(v.approved).toBe(true);
    expect(v.lossBreached).toBe(true);
  });

  it('keeps refusing buys once the gate is reducing, even after equity recovered', () => {
    expect(failure(input({ rest: { gate: 'reducing' } }))?.message).toBe(
      'DAILY_LOSS_LIMIT: the daily loss limit 5% was reached earlier today (now 0.0%); only sells are allowed until the next trading day',
    );
    expect(failure(input({ rest: { gate: 'reducing' }, intent: { side: 'sell' }, account: { positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '1' } } } }))).toBeUndefined();
  });
});

describe('kill switch and gate', () => {
  it('refuses everything first when halted, saying since when and why', () => {
    for (const side of ['buy', 'sell'] as const) {
      const v = runChecks(input({ intent: { side, quantity: -1 }, rest: { gate: 'halted', halt: { reason: 'manual stop', at: '2025-10-09T13:00:00.000Z' } } }));
      expect(v.checks).toHaveLength(1);
      expect(v.failure?.message).toBe(
        'KILL_SWITCH: trading is halted for alpha since 2025-10-09T13:00:00.000Z (manual stop); reset with `npm run cli -- kill --reset`',
      );
    }
  });

  it('derives the gate: the kill switch wins over the daily loss', () => {
    expect(gateOf({ halted: false, reducing: false })).toBe('active');
    expect(gateOf({ halted: false, reducing: true })).toBe('reducing');
    expect(gateOf({ halted: true, reducing: true })).toBe('halted');
  });

  it('names the exchange day of an instant in the market zone', () => {
    expect(exchangeDay('us', '2025-10-10T01:00:00+08:00')).toBe('2025-10-09');
    expect(exchangeDay('cn', '2025-10-09T17:00:00-04:00')).toBe('2025-10-10');
  });
});

describe('invalid orders, symbols and quotes', () => {
  it.each([
    [{ quantity: 0 }, 'INVALID_ORDER: quantity 0 of AAPL is not a positive whole number of shares'],
    [{ quantity: -100 }, 'INVALID_ORDER: quantity -100 of AAPL is not a positive whole number of shares'],
    [{ quantity: 1.5 }, 'INVALID_ORDER: quantity 1.5 of AAPL is not a positive whole number of shares'],
    [{ type: 'limit' as const }, 'INVALID_ORDER: the limit order for AAPL has no limit price'],
    [{ type: 'limit' as const, limitPrice: '0' }, 'INVALID_ORDER: limit price 0 of AAPL is not a positive price'],
    [{ type: 'limit' as const, limitPrice: 'abc' }, 'INVALID_ORDER: limit price abc of AAPL is not a positive price'],
  ])('refuses %j', (intent, message) => {
    expect(failure(input({ intent }))?.message).toBe(message);
  });

  it('refuses buys of denied symbols and of symbols off the allow list, but not sells', () => {
    expect(failure(input({ limits: { deny_symbols: ['AAPL'] } }))?.message).toBe('SYMBOL_NOT_ALLOWED: AAPL is on the deny list');
    expect(failure(input({ limits: { allow_symbols: ['MSFT', 'NVDA'] } }))?.message).toBe('SYMBOL_NOT_ALLOWED: AAPL is not on the allow list (MSFT, NVDA)');
    expect(failure(input({ limits: { allow_symbols: ['AAPL'] } }))).toBeUndefined();
    const held = { positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '1' } } };
    expect(failure(input({ intent: { side: 'sell' }, account: held, limits: { deny_symbols: ['AAPL'] } }))).toBeUndefined();
  });

  it('refuses a symbol outside the run\'s universe (data_source.symbols), buys and sells, after an unknown one', () => {
    const universe = ['MSFT', 'NVDA'];
    const held = { positions: { AAPL: { quantity: 100, sellable: 100, costBasis: '1' } } };
    const message = 'SYMBOL_NOT_TRADED: AAPL is not one of the symbols this run trades (data_source.symbols: MSFT, NVDA)';
    expect(failure(input({ rest: { universe } }))).toMatchObject({ rule: 'data_source.symbols', value: 'AAPL', limit: '2 symbols', message });
    expect(failure(input({ intent: { side: 'sell' }, account: held, rest: { universe } }))?.message).toBe(message);
    expect(failure(input({ rest: { universe: ['AAPL'] } }))).toBeUndefined();
    expect(failure(input({ price: null, rest: { universe, knownSymbol: false } }))?.code).toBe('UNKNOWN_SYMBOL');
    expect(runChecks(input()).checks.map((c) => c.rule)).not.toContain('data_source.symbols'); // no universe: not checked
  });

  it('refuses a symbol the market data does not know, with or without a price', () => {
    expect(failure(input({ price: null, rest: { knownSymbol: false } }))?.message).toBe(
      'UNKNOWN_SYMBOL: AAPL is not a US equities (NYSE/NASDAQ) symbol the market data knows',
    );
  });

  it('paper/live: a quote exactly stale_quote_seconds old passes, a millisecond older fails', () => {
    const paper = { mode: 'paper' as const };
    expect(failure(input({ rest: paper, quoteAgeMs: 30_000 }))).toBeUndefined();
    const f = failure(input({ rest: paper, quoteAgeMs: 30_001 }));
    expect(f).toMatchObject({ code: 'STALE_QUOTE', value: '30.001s', limit: '30s' });
    expect(f?.message).toMatch(/^STALE_QUOTE: the latest quote of AAPL is 30\.001s old \(at 2025-10-09T0\d:\d\d:\d\d\.\d+-04:00\), limit 30s$/);
    expect(failure(input({ rest: { mode: 'live' }, price: null }))?.message).toBe('STALE_QUOTE: no quote of AAPL has arrived, limit 30s');
  });

  it('backtest: the age does not matter, but an order needs some price', () => {
    expect(failure(input({ quoteAgeMs: 86_400_000 }))).toBeUndefined();
    expect(failure(input({ price: null }))?.message).toBe('STALE_QUOTE: no price is known for AAPL to value the order');
    expect(failure(input({ price: null, intent: { type: 'limit', limitPrice: '100' } }))).toBeUndefined();
  });
});

describe('order counts, duplicates and notional', () => {
  it('max_orders_per_session: the 10th order passes, the 11th fails', () => {
    expect(failure(input({ rest: { ordersThisSession: 9 } }))).toBeUndefined();
    expect(failure(input({ rest: { ordersThisSession: 10 } }))?.message).toBe(
      'MAX_ORDERS_PER_SESSION: this would be order 11 of session alpha@2025-10-09T09:35:00-04:00, limit 10',
    );
  });

  it('max_orders_per_minute: counts approved orders of this signature less than 60 s old', () => {
    const spread = (n: number, ageMs: number) => Array.from({ length: n }, (_, i) => recent({ atMs: NOW - ageMs, symbol: `S${i}` }));
    expect(failure(input({ rest: { recent: spread(29, 59_999) } }))).toBeUndefined();
    expect(failure(input({ rest: { recent: spread(30, 59_999) } }))?.message).toBe(
      'MAX_ORDERS_PER_MINUTE: this would be order 31 of alpha in the last minute, limit 30',
    );
    // Exactly a minute old: out of the window.
    expect(failure(input({ rest: { recent: spread(30, 60_000) } }))).toBeUndefined();
    // Another signature's orders do not count.
    expect(failure(input({ rest: { recent: spread(30, 1).map((o) => ({ ...o, signature: 'beta' })) } }))).toBeUndefined();
  });

  it('duplicate guard: the same side, symbol and size inside the window fails; at the window edge it passes', () => {
    expect(failure(input({ rest: { recent: [recent({ atMs: NOW - 59_999, clientOrderId: 'alpha.20251009T0935.1' })] } }))?.message).toBe(
      'DUPLICATE_ORDER: buy 100 AAPL was approved 59.999s ago (alpha.20251009T0935.1), window 60s',
    );
    expect(failure(input({ rest: { recent: [recent({ atMs: NOW - 60_000 })] } }))).toBeUndefined();
    expect(failure(input({ rest: { recent: [recent({ atMs: NOW - 1, quantity: 200 })] } }))).toBeUndefined();
    expect(failure(input({ rest: { recent: [recent({ atMs: NOW - 1, side: 'sell' })] } }))).toBeUndefined();
    expect(failure(input({ rest: { recent: [recent({ atMs: NOW - 1, signature: 'beta' })] } }))).toBeUndefined();
    expect(failure(input({ rest: { recent: [recent({ atMs: NOW - 1 })] }, limits: { duplicate_window_seconds: 0 } }))).toBeUndefined();
  });

  it('max_order_notional: exactly the cap passes, a fraction above fails, both sides', () => {
    const cap = { max_order_notional: 30_000 };
    expect(failure(input({ intent: { quantity: 300 }, limits: cap }))).toBeUndefined();
    expect(failure(input({ intent: { quantity: 300 }, price: '100.0001', limits: cap }))?.message).toBe(
      'MAX_ORDER_NOTIONAL: buying 300 AAPL at 100.0001 is 30000.03 USD, limit 30000.00 USD',
    );
    const held = { positions: { AAPL: { quantity: 500, sellable: 500, costBasis: '1' } } };
    expect(failure(input({ intent: { side: 'sell', quantity: 301 }, account: held, limits: cap }))?.code).toBe('MAX_ORDER_NOTIONAL');
  });
});

describe('max_order_notional_ratio', () => {
  it('caps a buy at a multiple of equity: exactly the cap passes, above it fails with MAX_ORDER_NOTIONAL', () => {
    const ratio = { max_order_notional_ratio: 0.5, max_single_position_ratio: 0.9, min_cash_reserve: 0 };
    // 100,000 USD equity: 500 AAPL at 100 is exactly 0.5 x equity.
    expect(failure(input({ intent: { quantity: 500 }, limits: ratio }))).toBeUndefined();
    expect(failure(input({ intent: { quantity: 500 }, price: '100.01', limits: ratio }))?.message).toBe(
      "MAX_ORDER_NOTIONAL: buying 500 AAPL at 100.01 is 50005.00 USD, more than 0.5 x the account's equity 100000.00 USD",
    );
  });

  it('refuses the buy a price gone wrong would make (664,184,363 MSFT), before the position and cash rows', () => {
    const v = runChecks(input({ intent: { symbol: 'MSFT', quantity: 664_184_363 }, price: '500', limits: { max_order_notional_ratio: 1 } }));
    expect(v.failure).toMatchObject({ rule: 'max_order_notional_ratio', code: 'MAX_ORDER_NOTIONAL', limit: '1 x equity 100000.00' });
  });

  it('binds buys only: a sell is bounded by the shares held; absent, the row does not run', () => {
    const held = { positions: { AAPL: { quantity: 5000, sellable: 5000, costBasis: '1' } }, equity: '100000' };
    expect(failure(input({ intent: { side: 'sell', quantity: 5000 }, account: held, limits: { max_order_notional_ratio: 1 } }))).toBeUndefined();
    expect(runChecks(input({ intent: { quantity: 10 } })).checks.map((c) => c.rule)).not.toContain('max_order_notional_ratio');
  });
});

describe('rendering', () => {
  it('renders limits exactly and measured ratios with one decimal unless that hides a breach', () => {
    expect(limitPercent(0.3)).toBe('30%');
    expect(limitPercent(0.125)).toBe('12.5%');
    expect(ratioPercent(dec('0.342'))).toBe('34.2%');
    expect(ratioPercent(dec('0.29996'), dec('0.3'))).toBe('30.0%');
    expect(ratioPercent(dec('0.3004'), dec('0.3'))).toBe('30.04%');
    expect(money(dec('10'))).toBe('10.00');
    expect(money(dec('813.2652'))).toBe('813.2652');
  });
});

describe('wiring', () => {
  it('config.risk_control is a RiskLimits, with the same keys and the documented defaults', () => {
    const config = parseConfig({ models: [{ name: 'a', signature: 'a', agent: { kind: 'rules' } }] }, 'test');
    const limits: RiskLimits = config.risk_control;
    expect(limits).toMatchObject({
      max_single_position_ratio: 0.3,
      max_daily_loss_ratio: 0.05,
      min_cash_reserve: 10_000,
      max_orders_per_session: 10,
      max_orders_per_minute: 30,
      duplicate_window_seconds: 60,
    });
    expect(limits.max_order_notional).toBeUndefined();
    expect(limits.max_order_notional_ratio).toBe(1);
    expect(config.data_source.stale_quote_seconds).toBe(30);
    expect(config.data_source.price_sanity).toEqual({ max_deviation_ratio: 0.25, confirmations: 3, future_tolerance_seconds: 5, confirm_after_seconds: 60 });
  });

  it('the checks travel on risk.approved and risk.rejected', () => {
    const v = runChecks(input({ intent: { quantity: 400 } }));
    const rejected = parseMessage({
      type: 'risk.rejected',
      sessionId: 's',
      clientOrderId: 'c',
      reason: v.failure!.code,
      message: v.failure!.message,
      checks: v.checks,
      tsEvent: 1,
    });
    expect(rejected).toMatchObject({ checks: v.checks });
    expect(parseMessage({ type: 'risk.approved', sessionId: 's', clientOrderId: 'c', tsEvent: 1 })).toMatchObject({ type: 'risk.approved' });
  });
});

describe("the venue's estimate prices the order (its fill price and its fees, not risk's own table)", () => {
  const cn = (over: Over = {}) =>
    input({ ...over, intent: { symbol: '600519.SH', ...over.intent }, rest: { market: 'cn', fees: DEFAULT_FEE_RATES, ...over.rest } });
  const all = { max_single_position_ratio: 0.999, min_cash_reserve: 0 };
  // AI-Trader's venue: the labelled bar's open 1437.58, no fees; the latest quote is 1432.51.
  const aiTrader = { price: dec('1437.58'), fees: orderFees('cn', { side: 'buy', quantity: 100, notional: dec('143758') }, NO_FEE_RATES) };

  it('a buy that spends the cash to the last yuan at the venue passes with a reserve of 0', () => {
    const v = runChecks(cn({ price: '1432.51', account: { cash: '143758', equity: '300000' }, limits: all, rest: { venueEstimate: aiTrader } }));
    expect(v.approved).toBe(true);
    expect(v.checks.find((c) => c.rule === 'reference_price')?.value).toBe('1437.58');
    expect(v.checks.at(-1)).toMatchObject({ rule: 'min_cash_reserve', value: '0.00', limit: '0.00' });
  });

  it('without it, the quote and the fee table decide (and refuse the same buy for its 37.38 of fees)', () => {
    const f = failure(cn({ price: '1437.58', account: { cash: '143758', equity: '300000' }, limits: all }));
    expect(f).toMatchObject({ code: 'MIN_CASH_RESERVE', value: '-37.38' });
  });

  it("a buy the venue's price does not leave room for is refused although the quote would", () => {
    const f = failure(cn({ price: '1432.51', account: { cash: '143757.99', equity: '300000' }, limits: all, rest: { venueEstimate: aiTrader } }));
    expect(f?.message).toBe('MIN_CASH_RESERVE: buying 100 600519.SH for 143758.00 + 0.00 fees would leave -0.01 CNY in cash, reserve 0.00 CNY');
  });

  it('held shares stay marked at the latest quote', () => {
    const positions = { '600519.SH': { quantity: 100, sellable: 100, costBasis: '1400' } };
    const v = runChecks(cn({ price: '1000', account: { cash: '1000000', equity: '1100000', positions }, rest: { venueEstimate: aiTrader } }));
    // (100 x 1000 + 100 x 1437.58) / 1100000 = 22.2%
    expect(v.checks.find((c) => c.rule === 'max_single_position_ratio')?.value).toBe('22.2%');
  });
});

describe('the program-trading row (the account as a whole)', () => {
  const tallyWith = (n: number) => {
    let t = emptyTally('2025-10-09');
    for (let i = 0; i < n; i++) t = record(t, i % 2 ? 'cancel' : 'order', NOW - 500 + i, '2025-10-09');
    return t;
  };
  it('runs only when the tally is given, and refuses a buy or a sell that would pass the cap with ORDER_RATE_LIMIT', () => {
    expect(runChecks(input()).checks.some((c) => c.rule === 'program_trading')).toBe(false);
    const caps = { maxPerSecond: 3, maxPerDay: 100 };
    const ok = runChecks(input({ rest: { programTrading: { tally: tallyWith(2), caps, wallMs: NOW, day: '2025-10-09' } } }));
    expect(ok.checks.find((c) => c.rule === 'program_trading')).toMatchObject({ value: '3/s, 3/day', limit: '3/s, 100/day' });
    for (const side of ['buy', 'sell'] as const) {
      const f = failure(input({ intent: { side }, account: { positions: { AAPL: { quantity: 100, costBasis: '10000', sellable: 100 } } }, rest: { programTrading: { tally: tallyWith(3), caps, wallMs: NOW, day: '2025-10-09' } } }));
      expect(f?.code).toBe('ORDER_RATE_LIMIT');
      expect(f?.message).toMatch(/^ORDER_RATE_LIMIT: .*action 4 in one second.*cap 3\/s/);
    }
  });
});

describe('the exchange rows (live only: before a real broker is asked)', () => {
  const NOW_CN = Date.parse('2025-10-09T02:00:00Z'); // 10:00 Shanghai
  const held = { '600519.SH': { quantity: 250, sellable: 150, costBasis: '1400' } };
  const live = (over: Over = {}) =>
    input({ price: '1450', ...over, intent: { symbol: '600519.SH', quantity: 100, ...over.intent }, account: { cash: '1000000', equity: '1400000', positions: held, ...over.account }, limits: { max_single_position_ratio: 1, min_cash_reserve: 0, ...over.limits }, rest: { mode: 'live', market: 'cn', nowMs: NOW_CN, prevClose: dec('1400'), ...over.rest } });
  const rules = (i: RiskInput) => runChecks(i).checks.map((c) => c.rule).filter((r) => r.startsWith('exchange.'));

  it('run in live mode only: paper and backtests leave them to the simulated venue', () => {
    expect(rules(live())).toEqual(['exchange.lot_size', 'exchange.price_band']);
    expect(rules(live({ rest: { mode: 'paper' } }))).toEqual([]);
    expect(rules(live({ rest: { mode: 'backtest' } }))).toEqual([]);
  });

  it('lots: a buy of 150 is refused; a sell of 150 passes only with the whole odd remainder of the sellable shares', () => {
    expect(failure(live({ intent: { quantity: 150 } }))?.message).toBe('LOT_SIZE: 150 shares of 600519.SH is not a multiple of 100');
    // sellable 150: the odd remainder is 50, so 150 (= 100 + 50) and 50 pass, 120 does not
    expect(failure(live({ intent: { side: 'sell', quantity: 150 } }))).toBeUndefined();
    expect(failure(live({ intent: { side: 'sell', quantity: 120 } }))).toMatchObject({ code: 'LOT_SIZE', rule: 'exchange.lot_size' });
  });

  it('STAR Market: buys of at least 200 shares, any whole number above; sells of at least 200, or the whole sellable holding', () => {
    const star = (sellable: number) => ({ '688981.SH': { quantity: 300, sellable, costBasis: '100' } });
    const buy = (quantity: number) => failure(live({ intent: { symbol: '688981.SH', quantity }, account: { positions: star(300) } }));
    const sell = (quantity: number, sellable: number) => failure(live({ intent: { side: 'sell', symbol: '688981.SH', quantity }, account: { positions: star(sellable) } }));
    expect(buy(100)?.message).toBe('LOT_SIZE: a buy of 688981.SH on the STAR Market (科创板) is at least 200 shares, not 100');
    expect(buy(200)).toBeUndefined();
    expect(buy(201)).toBeUndefined();
    expect(sell(250, 300)).toBeUndefined();
    expect(sell(150, 150)).toBeUndefined();
    expect(sell(100, 300)?.message).toBe('LOT_SIZE: a sell of 688981.SH on the STAR Market (科创板) is at least 200 shares, or the whole 300 sellable, not 100');
  });

  it('a sell of more than is held is refused as such (not as T+1)', () => {
    expect(failure(live({ intent: { side: 'sell', quantity: 300 } }))?.message).toBe('INSUFFICIENT_POSITION: selling 300 shares of 600519.SH but only 250 are held');
  });

  it('T+1: selling more than the sellable shares is refused naming how many were bought today', () => {
    expect(failure(live({ intent: { side: 'sell', quantity: 200 } }))?.message).toBe(
      'T_PLUS_ONE: selling 200 shares of 600519.SH: 100 of the 250 held were bought today (2025-10-09) and cannot be sold before the next trading day; 150 can be sold now',
    );
  });

  it('price band: a market buy at limit-up, and a limit price outside the band, are refused; without a previous close the row does not run', () => {
    // previous close 1400, main board ±10%: 1260.00-1540.00
    expect(failure(live({ price: '1540' }))).toMatchObject({ code: 'PRICE_LIMIT', rule: 'exchange.price_band' });
    expect(failure(live({ price: '1539.99' }))).toBeUndefined();
    expect(failure(live({ intent: { type: 'limit', limitPrice: '1540.01' } }))?.message).toBe(
      'PRICE_LIMIT: limit price 1540.01 of 600519.SH is outside today\'s band 1260.00-1540.00 (previous close 1400.00, main board (主板) ±10%)',
    );
    expect(rules(live({ rest: { prevClose: undefined } }))).not.toContain('exchange.price_band');
  });

  it('tick: a limit price off the 0.01 grid is refused before the broker sees it', () => {
    expect(failure(live({ intent: { type: 'limit', limitPrice: '1450.005' } }))).toMatchObject({ code: 'BROKER_REJECTED', rule: 'exchange.tick' });
  });
});
